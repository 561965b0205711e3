"""Initial sync of a Microsoft Graph and an Exchange (EWS) mailbox, against
the naive way (one request per message), through the latency proxy.

    python bench/exchange_bench.py                 # 2,000 messages, 30 ms RTT
    python bench/exchange_bench.py --messages 500 --rtt 0.05

The mailbox (bench/run.py's realistic messages, about a third from CRM
contacts) is served by the local Microsoft Graph server and the local EWS
endpoint (mailsync/testing), both over HTTPS, reached through
bench/latency_proxy.py (a TCP proxy adding the round trip between Odoo and
Microsoft). For each kind, in the same run:

- ours: the engine's sync (Graph delta pages of 200, EWS SyncFolderItems
  pages of 200 + one GetItem of headers per page), then the MIME content of
  the messages from CRM contacts only (Graph: 20 per $batch; EWS: 25 per GetItem);
- ours, every body: the same, downloading every message (batching alone);
- naive: the same listing, then one request per message for its MIME content
  (Graph ``GET /messages/{id}/$value``, EWS one ``GetItem`` per item), as a
  client that reads every message does;
- idle: a sync with nothing new from the committed state (per mailbox).

The engine's work only (no Odoo): what the protocols cost. Prints Markdown
(bench/RESULTS.md keeps the latest, under "Graph and EWS").
"""

import argparse
import datetime
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)  # importing run puts the addon (the engine, mailsync) on sys.path too

from latency_proxy import LatencyProxy  # noqa: E402
from run import build_messages, contact_email  # noqa: E402

from mailsync import ews_sync, graph_sync, oauth  # noqa: E402
from mailsync.message import parse_headers  # noqa: E402
from mailsync.testing.ews_server import EwsServer  # noqa: E402
from mailsync.testing.oauth_server import OAuthServer  # noqa: E402

SECTION = "## Graph and EWS (issue 15)"
OWNER = "owner@bench.example"
LOGIN, PASSWORD = "CORP\\owner", "bench-Pa55word"


class ProxiedOAuthServer(OAuthServer):
    """The local Microsoft server, whose nextLink/deltaLink name the proxy's
    port (as Graph's name graph.microsoft.com), so that every page crosses it."""

    public_port = None

    @property
    def graph_url(self):
        return f"https://localhost:{self.public_port or self.port}/v1.0"


def matched_ids(records, contacts):
    wanted = []
    for record in records:
        senders = {key for _name, key in parse_headers(record.raw_headers).sender}
        if senders & contacts:
            wanted.append(record.uid)
    return wanted


def timed(function):
    started = time.monotonic()
    result = function()
    return time.monotonic() - started, result


def run_sync(make_sync, contacts, bodies="matched"):
    """(seconds, messages listed, bodies fetched, requests, final state)."""
    with make_sync(None) as sync:
        started = time.monotonic()
        listed = fetched = 0
        state = None
        for batch in sync.batches():
            listed += len(batch.records)
            uids = [r.uid for r in batch.records] if bodies == "all" else matched_ids(batch.records, contacts)
            if uids:
                fetched += len(batch.fetch_bodies(uids))
            state = batch.state
        return time.monotonic() - started, listed, fetched, state


def run_naive(make_sync, fetch_one):
    """The listing, then one request per message for its MIME content."""
    with make_sync(None) as sync:
        started = time.monotonic()
        listed = fetched = 0
        for batch in sync.batches():
            listed += len(batch.records)
            for record in batch.records:
                if fetch_one(sync, record.uid):
                    fetched += 1
        return time.monotonic() - started, listed, fetched


def idle(make_sync, state, rounds=5):
    started = time.monotonic()
    for _round in range(rounds):
        with make_sync(state) as sync:
            for _batch in sync.batches():
                pass
    return (time.monotonic() - started) / rounds


def bench_graph(messages, contacts, rtt, since):
    with ProxiedOAuthServer(clients={"app-id": "app-secret"}, users=[OWNER]) as server:
        for raw in messages:
            server.mail.add(OWNER, "inbox", raw)
        with LatencyProxy("127.0.0.1", server.port, rtt) as proxy:
            server.public_port = proxy.port
            app = server.microsoft_app("app-id", "app-secret")
            token = oauth.app_token(app).access_token

            def make_sync(state):
                settings = graph_sync.GraphSettings(
                    access_token=token, mailbox=OWNER, base_url=server.graph_url, cafile=server.certs.ca_file
                )
                return graph_sync.GraphMailboxSync(settings, state, since=since, batch_size=200)

            def fetch_one(sync, uid):
                response = sync.client.request("GET", f"{sync.settings.root}/messages/{uid}/$value")
                return response.status_code == 200 and bool(response.content)

            return measure(make_sync, fetch_one, contacts)


def bench_ews(messages, contacts, rtt, since):
    with EwsServer(users={LOGIN: (PASSWORD, OWNER)}) as server:
        for raw in messages:
            server.mail.add(OWNER, "inbox", raw)
        with LatencyProxy("127.0.0.1", server.port, rtt) as proxy:
            url = f"https://localhost:{proxy.port}/EWS/Exchange.asmx"

            def make_sync(state):
                settings = ews_sync.EwsSettings(
                    email=OWNER, username=LOGIN, password=PASSWORD, ews_url=url, cafile=server.certs.ca_file
                )
                return ews_sync.EwsMailboxSync(settings, state, since=since, batch_size=200)

            def fetch_one(sync, uid):
                return bool(sync.fetch_bodies([uid]))

            return measure(make_sync, fetch_one, contacts)


def measure(make_sync, fetch_one, contacts):
    ours = run_sync(make_sync, contacts)
    every = run_sync(make_sync, contacts, bodies="all")
    naive = run_naive(make_sync, fetch_one)
    return {
        "ours": {"seconds": ours[0], "listed": ours[1], "bodies": ours[2]},
        "every": {"seconds": every[0], "listed": every[1], "bodies": every[2]},
        "naive": {"seconds": naive[0], "listed": naive[1], "bodies": naive[2]},
        "idle_ms": idle(make_sync, ours[3]) * 1000,
    }


def render(args, results):
    lines = [
        SECTION,
        "",
        f"`python bench/exchange_bench.py --messages {args.messages} --rtt {args.rtt}` on "
        f"{datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC: {args.messages} messages (bench/run.py's "
        f"mailbox, a third from CRM contacts) served by the local Graph server and the local EWS endpoint "
        f"(HTTPS), through the latency proxy ({args.rtt * 1000:.0f} ms round trip). Engine only (no Odoo); "
        "each figure is the whole initial sync: listing, headers, bodies.",
        "",
        "| kind | ours (bodies of CRM mail only) | ours, every body | naive: one request per message "
        "| ratio naive / ours | idle poll |",
        "|---|---|---|---|---|---|",
    ]
    for kind, r in results.items():
        ours, every, naive = r["ours"], r["every"], r["naive"]
        lines.append(
            f"| {kind} | {ours['listed'] / ours['seconds']:.0f} msg/s ({ours['seconds']:.1f} s, "
            f"{ours['bodies']} bodies) | {every['listed'] / every['seconds']:.0f} msg/s "
            f"({every['seconds']:.1f} s) | {naive['listed'] / naive['seconds']:.0f} msg/s "
            f"({naive['seconds']:.1f} s) | **{naive['seconds'] / ours['seconds']:.1f}x** "
            f"(every body: {naive['seconds'] / every['seconds']:.1f}x) | {r['idle_ms']:.0f} ms per mailbox |"
        )
    lines += [
        "",
        "Ours pages the listing (200 per request) and asks bodies in batches of the CRM's mail only; the "
        "naive client pays one round trip per message. The idle poll is one delta round (Graph) or one "
        "SyncFolderItems (EWS) per folder, two folders. EWS's own rate is bound by the CPU, not the network: "
        "exchangelib builds and parses every SOAP message in Python (GetItem of 200 header sets, MIME in "
        "base64), on the cores shared with the local servers. Graph's idle poll includes a new TLS handshake "
        "per run (one HTTP session per sync); EWS keeps exchangelib's cached session.",
        "",
    ]
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--contacts", type=int, default=1000)
    parser.add_argument("--rtt", type=float, default=0.030, help="round trip added by the proxy, in seconds")
    parser.add_argument("--output", default=os.path.join(HERE, "RESULTS.md"))
    args = parser.parse_args()
    messages = build_messages(args.messages, args.contacts, OWNER)
    contacts = {contact_email(n) for n in range(args.contacts)}
    since = (datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=30)).date()
    results = {}
    print("Graph ...", file=sys.stderr)
    results["Microsoft Graph"] = bench_graph(messages, contacts, args.rtt, since)
    print("EWS ...", file=sys.stderr)
    results["EWS (exchangelib)"] = bench_ews(messages, contacts, args.rtt, since)
    report = render(args, results)
    print(report)
    write_section(args.output, report)


def write_section(path, report):
    """Put ``report`` into RESULTS.md in place of its previous "Graph and
    EWS" section, before the chatter's (which bench/chatter.py rewrites last)."""
    try:
        with open(path) as existing:
            text = existing.read()
    except FileNotFoundError:
        text = ""
    marker = "\n" + SECTION
    if marker in text:
        before, _sep, after = text.partition(marker)
        rest = after.split("\n## ", 1)
        text = before.rstrip("\n") + ("\n\n## " + rest[1] if len(rest) > 1 else "\n")
    chatter = "\n## Chatter cost"
    head, sep, tail = text.partition(chatter)
    text = head.rstrip("\n") + "\n\n" + report.rstrip("\n") + "\n" + (sep + tail if sep else "")
    with open(path, "w") as out:
        out.write(text)


if __name__ == "__main__":
    main()
