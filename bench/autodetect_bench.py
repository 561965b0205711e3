"""Detection time per address, offline and against local servers (issue 19).

    python bench/autodetect_bench.py [--domains 200]

1. offline: addresses at ISP database domains (no network at all), and the share
   of every imported ISPDB domain answered offline (target 100 %);
2. local servers: addresses at N domains that only their host's autoconfig file
   describes, served by a local HTTPS server and found through a local DNS server
   (the whole network path: DNS, TLS, HTTP, safe XML parsing), one after the other.

Prints a Markdown table (pasted into bench/RESULTS.md by hand).
"""

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from mailsync.autoconfig import Endpoints, default_ispdb
from mailsync.autodetect import detect
from mailsync.testing.dns_server import DnsServer
from mailsync.testing.http_server import HttpServer, Reply
from mailsync.tests.presets_file import load_presets

CONFIG = b"""<?xml version="1.0"?><clientConfig version="1.1"><emailProvider id="%EMAILDOMAIN%">
<incomingServer type="imap"><hostname>mail.%EMAILDOMAIN%</hostname><port>993</port><socketType>SSL</socketType>
<username>%EMAILADDRESS%</username><authentication>password-cleartext</authentication></incomingServer>
<outgoingServer type="smtp"><hostname>mail.%EMAILDOMAIN%</hostname><port>465</port><socketType>SSL</socketType>
<username>%EMAILADDRESS%</username><authentication>password-cleartext</authentication></outgoingServer>
</emailProvider></clientConfig>"""


class NoDns:
    def resolve(self, qname, rdtype, lifetime=None):
        raise AssertionError("offline answers ask no DNS")


def refuse(*args):
    raise AssertionError("offline answers make no connection")


def summary(label, times):
    ms = sorted(t * 1000 for t in times)
    p95 = ms[int(len(ms) * 0.95) - 1]
    return f"| {label} | {len(ms)} | {statistics.median(ms):.2f} | {p95:.2f} | {ms[-1]:.2f} |"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--domains", type=int, default=200)
    args = parser.parse_args()
    presets = load_presets()
    ispdb = default_ispdb()

    answered, offline = 0, []
    for domain in ispdb.domains:
        started = time.perf_counter()
        result = detect(f"someone@{domain}", presets, resolver=NoDns(), verify=refuse)
        offline.append(time.perf_counter() - started)
        answered += result.found and result.method in ("domain", "ispdb")
    share = 100 * answered / len(ispdb.domains)

    names = [f"shop{n}.example" for n in range(args.domains)]
    zone = {}
    for name in names:
        zone[name] = {"MX": [f"10 mx.{name}."]}
        zone[f"autoconfig.{name}"] = {"A": ["127.0.0.1"]}
    routes = {("*", "/mail/config-v1.1.xml"): Reply(200, CONFIG)}
    online = []
    with (
        HttpServer(routes, hostnames=[f"autoconfig.{name}" for name in names]) as https,
        DnsServer(zone) as dns_server,
    ):
        endpoints = Endpoints(
            autoconfig=(f"https://autoconfig.{{domain}}:{https.port}/mail/config-v1.1.xml?emailaddress={{email}}",),
            autoconfig_http=(),
            autodiscover_microsoft=f"https://127.0.0.1:{https.port}/none/{{email}}",
            autodiscover_domain=f"https://127.0.0.1:{https.port}/none/{{email}}",
            cafile=https.certs.ca_file,
        )
        found = 0
        for name in names:
            started = time.perf_counter()
            result = detect(
                f"sales@{name}", presets, resolver=dns_server.resolver(), verify=refuse, endpoints=endpoints
            )
            online.append(time.perf_counter() - started)
            found += result.method == "autoconfig"

    print(f"ISPDB domains answered offline: {answered}/{len(ispdb.domains)} ({share:.1f} %)")
    print(f"Local autoconfig answers: {found}/{len(names)}")
    print()
    print("| detection | addresses | median ms | p95 ms | max ms |")
    print("|---|---|---|---|---|")
    print(summary("offline (preset or ISPDB domain)", offline))
    print(summary("local HTTPS autoconfig + local DNS", online))


if __name__ == "__main__":
    main()
