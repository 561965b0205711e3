"""The domain's own autoconfig, Thunderbird's ISP database and Microsoft Autodiscover.

Every network answer comes from local servers: an HTTPS server with a test CA
(mailsync.testing.http_server) standing for autoconfig.DOMAIN, DOMAIN/.well-known,
Microsoft's Autodiscover and the domain's own, and the DNS server of
mailsync.testing.dns_server; guesses and plain-HTTP answers are confirmed by real
connections to Dovecot and aiosmtpd.
"""

import json
import time

import pytest

from mailsync.autoconfig import (
    MAX_BYTES,
    AutoconfigError,
    ClientConfig,
    Endpoints,
    Ispdb,
    default_ispdb,
    parse_autodiscover,
    parse_config,
)
from mailsync.autodetect import DETECTION_BUDGET, SOURCES, ServerSettings, detect, probe
from mailsync.security import Security
from mailsync.testing.dns_server import DnsServer
from mailsync.testing.http_server import HttpServer, Reply
from mailsync.tests.presets_file import load_presets

PRESETS = load_presets()
ISPDB = default_ispdb()
LOCAL = ["127.0.0.1"]


class NoDns:
    def resolve(self, qname, rdtype, lifetime=None):
        raise AssertionError(f"unexpected DNS query {qname} {rdtype}")


def refuse(host, port, security, protocol):
    raise AssertionError(f"unexpected connection to {host}:{port}")


def config_xml(imap=(), smtp=(), domain="good.example", docs=(), name="Good Hosting"):
    """A clientConfig 1.1 document; servers are (host, port, socketType, username)."""

    def server(tag, kind, host, port, socket_type, username):
        return (
            f'<{tag} type="{kind}"><hostname>{host}</hostname><port>{port}</port>'
            f"<socketType>{socket_type}</socketType><username>{username}</username>"
            f"<authentication>password-cleartext</authentication></{tag}>"
        )

    parts = [f'<?xml version="1.0"?><clientConfig version="1.1"><emailProvider id="{domain}">']
    parts.append(f"<domain>{domain}</domain><displayName>{name}</displayName>")
    parts += [server("incomingServer", "imap", *entry) for entry in imap]
    parts.append(server("incomingServer", "pop3", f"pop.{domain}", 995, "SSL", "%EMAILADDRESS%"))
    parts += [server("outgoingServer", "smtp", *entry) for entry in smtp]
    parts += [f'<documentation url="{url}"><descr lang="en">{text}</descr></documentation>' for url, text in docs]
    parts.append("</emailProvider></clientConfig>")
    return "".join(parts).encode()


GOOD = config_xml(
    imap=[
        ("mail.%EMAILDOMAIN%", 143, "plain", "%EMAILLOCALPART%"),
        ("mail.%EMAILDOMAIN%", 143, "STARTTLS", "%EMAILLOCALPART%"),
        ("mail.%EMAILDOMAIN%", 993, "SSL", "%EMAILLOCALPART%"),
    ],
    smtp=[
        ("smtp.good.example", 587, "STARTTLS", "%EMAILADDRESS%"),
        ("smtp.good.example", 465, "SSL", "%EMAILADDRESS%"),
    ],
    docs=[("https://help.good.example/mail", "Set up your mail client")],
)
PARTIAL = config_xml(imap=[("mail.partial.example", 993, "SSL", "%EMAILADDRESS%")], domain="partial.example")
XXE = b"""<?xml version="1.0"?>
<!DOCTYPE clientConfig [<!ENTITY host SYSTEM "file:///etc/hostname">]>
<clientConfig version="1.1"><emailProvider id="x"><domain>x.example</domain>
<incomingServer type="imap"><hostname>&host;</hostname><port>993</port><socketType>SSL</socketType></incomingServer>
<outgoingServer type="smtp"><hostname>&host;</hostname><port>465</port><socketType>SSL</socketType></outgoingServer>
</emailProvider></clientConfig>"""
LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(
        f'<!ENTITY lol{n} "{("&lol" + (str(n - 1) if n > 1 else "") + ";") * 10}">'.encode() for n in range(1, 10)
    )
    + b']><clientConfig version="1.1"><emailProvider id="x"><displayName>&lol9;</displayName>'
    + b"</emailProvider></clientConfig>"
)
HUGE = b'<?xml version="1.0"?><clientConfig version="1.1"><!--' + b"x" * (10 * 1024 * 1024) + b"--></clientConfig>"
MICROSOFT_365 = json.dumps(
    {"Protocol": "AutodiscoverV1", "Url": "https://outlook.office365.com/autodiscover/autodiscover.xml"}
).encode()


# -- parsing -------------------------------------------------------------------


def test_parse_ranks_tls_first_and_drops_plain_text():
    config = parse_config(GOOD).filled("jane.doe@good.example")
    assert [(s.host, s.port, s.security) for s in config.imap] == [
        ("mail.good.example", 993, Security.SSL),
        ("mail.good.example", 143, Security.STARTTLS),
    ]
    assert [(s.port, s.security) for s in config.smtp] == [(465, Security.SSL), (587, Security.STARTTLS)]
    assert config.imap[0].username == "jane.doe" and config.smtp[0].username == "jane.doe@good.example"
    assert config.documentation == (("https://help.good.example/mail", "Set up your mail client"),)
    assert config.name == "Good Hosting" and config.domains == ("good.example",)


def test_plain_text_kept_only_when_nothing_else():
    config = parse_config(config_xml(imap=[("h", 143, "plain", "u")], smtp=[("h", 25, "plain", "u")]))
    assert config.imap[0].security is Security.NONE and config.complete


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (XXE, "refused XML construct"),
        (LAUGHS, "refused XML construct"),
        (HUGE, "larger than"),
        (b"<clientConfig><emailProvider>", "not well-formed"),
        (b"<html><body>Welcome to nginx</body></html>", "not <clientConfig>"),
        (b'<clientConfig version="1.1"/>', "no <emailProvider>"),
    ],
    ids=["external-entity", "billion-laughs", "10MB", "truncated", "html", "empty"],
)
def test_hostile_or_broken_files_are_refused(data, why):
    started = time.monotonic()
    with pytest.raises(AutoconfigError, match=why):
        parse_config(data)
    assert time.monotonic() - started < 1


def test_autodiscover_shapes():
    assert parse_autodiscover(MICROSOFT_365)[1].startswith("https://outlook.office365.com/")
    for bad in (b"<html/>", b"[]", b'{"Url": "http://plain.example/"}', b'{"ErrorCode": "InternalServerError"}'):
        with pytest.raises(AutoconfigError):
            parse_autodiscover(bad)


# -- the ISP database, offline ----------------------------------------------------------


def test_ispdb_is_imported_with_its_licence_and_source():
    assert "MPL-2.0" in ISPDB.meta["licence"]
    assert "thunderbird/autoconfig" in ISPDB.meta["source"] and len(ISPDB.meta["commit"]) == 40
    assert len(ISPDB.providers) >= 100 and len(ISPDB.domains) >= 700


@pytest.mark.parametrize("domain", ISPDB.domains)
def test_every_ispdb_domain_is_answered_offline(domain):
    result = detect(f"someone@{domain}", PRESETS, resolver=NoDns(), verify=refuse)
    assert result.found and result.method in ("domain", "ispdb"), result
    assert result.imap.host and result.smtp.host and "%" not in result.imap.host + result.smtp.host + result.login
    if result.method == "ispdb":
        assert result.source == "ispdb"
        assert result.imap.security is not Security.NONE or not any(
            s.security is not Security.NONE for s in ISPDB.lookup(domain).imap
        )


def test_our_presets_keep_precedence_over_the_ispdb():
    result = detect("a@gmail.com", PRESETS, resolver=NoDns(), verify=refuse)
    assert (result.method, result.preset.code) == ("domain", "gmail")


def test_ispdb_file_round_trip(tmp_path):
    config = parse_config(GOOD)
    path = tmp_path / "ispdb.json"
    path.write_text(json.dumps({"licence": "MPL-2.0", "providers": [config.to_json()]}))
    loaded = Ispdb.load(str(path))
    assert loaded.lookup("GOOD.example.") == ClientConfig.from_json(config.to_json(), source="ispdb")
    assert Ispdb.load(str(tmp_path / "missing.json")).providers == ()
    path.write_text("{")
    with pytest.raises(AutoconfigError):
        Ispdb.load(str(path))


# -- local servers ---------------------------------------------------------------------------

HOSTS = [
    "autoconfig.good.example",
    "wellknown.example",
    "autoconfig.partial.example",
    "autoconfig.broken.example",
    "autoconfig.xxe.example",
    "autoconfig.laughs.example",
    "autoconfig.huge.example",
    "autoconfig.huge2.example",
    "autodiscover-s.outlook.test",
    "autodiscover.onprem.example",
    "autoconfig.mx.example",
    "autoconfig.moved.example",
    "autoconfig.downgrade.example",
]


@pytest.fixture(scope="module")
def https():
    routes = {
        ("autoconfig.good.example", "/mail/config-v1.1.xml"): Reply(200, GOOD),
        ("wellknown.example", "/.well-known/autoconfig/mail/config-v1.1.xml"): Reply(
            200, GOOD.replace(b"good.example", b"wellknown.example")
        ),
        ("autoconfig.partial.example", "/mail/config-v1.1.xml"): Reply(200, PARTIAL),
        ("autoconfig.broken.example", "/mail/config-v1.1.xml"): Reply(200, b"<clientConfig><emailProv"),
        ("autoconfig.xxe.example", "/mail/config-v1.1.xml"): Reply(200, XXE),
        ("autoconfig.laughs.example", "/mail/config-v1.1.xml"): Reply(200, LAUGHS),
        ("autoconfig.huge.example", "/mail/config-v1.1.xml"): Reply(200, HUGE),
        ("autoconfig.huge2.example", "/mail/config-v1.1.xml"): Reply(200, HUGE, no_length=True),
        ("autoconfig.mx.example", "/mail/config-v1.1.xml"): Reply(200, GOOD.replace(b"good.example", b"mx.example")),
    }
    with HttpServer(routes, hostnames=HOSTS) as server:
        yield server


@pytest.fixture(scope="module")
def plain_http():
    routes = {("autoconfig.plainonly.example", "/mail/config-v1.1.xml"): Reply(200, b"")}
    with HttpServer(routes, tls=False) as server:
        yield server


def endpoints_for(https, plain_http=None):
    port, http_port = https.port, plain_http.port if plain_http else 9
    return Endpoints(
        autoconfig=(
            f"https://autoconfig.{{domain}}:{port}/mail/config-v1.1.xml?emailaddress={{email}}",
            f"https://{{domain}}:{port}/.well-known/autoconfig/mail/config-v1.1.xml",
        ),
        autoconfig_http=(f"http://autoconfig.{{domain}}:{http_port}/mail/config-v1.1.xml?emailaddress={{email}}",),
        autodiscover_microsoft=(
            f"https://autodiscover-s.outlook.test:{port}/autodiscover/autodiscover.json/v1.0/{{email}}"
            "?Protocol=AutodiscoverV1"
        ),
        autodiscover_domain=(
            f"https://autodiscover.{{domain}}:{port}/autodiscover/autodiscover.json/v1.0/{{email}}?Protocol=EWS"
        ),
        cafile=https.certs.ca_file,
    )


@pytest.fixture
def dns_zone():
    servers = []

    def start(zone, **kwargs):
        zone = {"autodiscover-s.outlook.test": {"A": LOCAL}, **zone}
        server = DnsServer(zone, **kwargs).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def run_detect(address, zone_server, https, plain_http=None, verify=refuse, **kwargs):
    return detect(
        address,
        PRESETS,
        resolver=zone_server.resolver(),
        verify=verify,
        timeout=2,
        endpoints=endpoints_for(https, plain_http),
        **kwargs,
    )


def test_domain_autoconfig_over_https_fills_everything_in(dns_zone, https):
    server = dns_zone({"good.example": {"MX": ["10 mx.good.example."]}, "autoconfig.good.example": {"A": LOCAL}})
    started = time.monotonic()
    result = run_detect("Jane.Doe@good.example", server, https)
    assert time.monotonic() - started < 2
    assert (result.method, result.source) == ("autoconfig", "provider")
    assert result.imap == ServerSettings("mail.good.example", 993, Security.SSL)
    assert result.smtp == ServerSettings("smtp.good.example", 465, Security.SSL)
    assert result.login == "Jane.Doe"
    assert result.provider_name == "Good Hosting"
    assert result.documentation == (("https://help.good.example/mail", "Set up your mail client"),)
    assert ("autoconfig.good.example", "/mail/config-v1.1.xml?emailaddress=Jane.Doe@good.example") in https.asked()


def test_redirects_followed_over_https_only(dns_zone, https):
    port = https.port
    https.routes[("autoconfig.moved.example", "/mail/config-v1.1.xml")] = Reply(
        302, b"", headers={"Location": f"https://autoconfig.good.example:{port}/mail/config-v1.1.xml?emailaddress=x"}
    )
    https.routes[("autoconfig.downgrade.example", "/mail/config-v1.1.xml")] = Reply(
        302, b"", headers={"Location": "http://autoconfig.good.example/mail/config-v1.1.xml"}
    )
    zone = {
        "moved.example": {"MX": ["10 mx.moved.example."]},
        "downgrade.example": {"MX": ["10 mx.downgrade.example."]},
        "autoconfig.moved.example": {"A": LOCAL},
        "autoconfig.downgrade.example": {"A": LOCAL},
        "autoconfig.good.example": {"A": LOCAL},
    }
    server = dns_zone(zone)
    result = run_detect("a@moved.example", server, https)
    assert result.method == "autoconfig" and result.imap.host == "mail.moved.example"
    assert run_detect("a@downgrade.example", server, https).method == "none"


def test_well_known_autoconfig(dns_zone, https):
    server = dns_zone({"wellknown.example": {"MX": ["10 mx.wellknown.example."], "A": LOCAL}})
    result = run_detect("a@wellknown.example", server, https)
    assert result.method == "autoconfig"
    assert result.imap == ServerSettings("mail.wellknown.example", 993, Security.SSL)


@pytest.mark.parametrize("domain", ["partial", "broken", "xxe", "laughs", "huge", "huge2"])
def test_unusable_autoconfig_is_passed_over(dns_zone, https, domain):
    server = dns_zone({f"{domain}.example": {"MX": ["10 mx.x.example."]}, f"autoconfig.{domain}.example": {"A": LOCAL}})
    started = time.monotonic()
    result = run_detect(f"a@{domain}.example", server, https)
    assert time.monotonic() - started < 3
    assert result.method == "none" and result.imap is None
    assert https.asked(f"autoconfig.{domain}.example")


def test_a_preset_by_mx_comes_before_autoconfig(dns_zone, https):
    server = dns_zone({"mx.example": {"MX": ["1 aspmx.l.google.com."]}, "autoconfig.mx.example": {"A": LOCAL}})
    result = run_detect("a@mx.example", server, https)
    assert (result.method, result.preset.code, result.source) == ("mx", "gmail", "preset")


def test_autoconfig_comes_before_srv(dns_zone, https):
    server = dns_zone(
        {
            "good.example": {"MX": ["10 mx.good.example."]},
            "autoconfig.good.example": {"A": LOCAL},
            "_imaps._tcp.good.example": {"SRV": ["0 1 993 other.good.example."]},
            "_submissions._tcp.good.example": {"SRV": ["0 1 465 other.good.example."]},
        }
    )
    assert run_detect("a@good.example", server, https).method == "autoconfig"


def test_the_ispdb_entry_of_the_mx_host_domain(dns_zone, https):
    server = dns_zone({"hosted.example": {"MX": ["10 mx1.emailsrvr.com.", "20 mx2.emailsrvr.com."]}})
    result = run_detect("a@hosted.example", server, https)
    assert (result.method, result.source) == ("ispdb_mx", "ispdb")
    assert result.imap.host == ISPDB.lookup("emailsrvr.com").imap[0].host
    assert "mx1.emailsrvr.com" in result.detail


def test_microsoft_365_custom_domain_through_autodiscover(dns_zone, https):
    https.routes[("autodiscover-s.outlook.test", "/autodiscover/autodiscover.json/v1.0/sales@contoso.example")] = Reply(
        200, MICROSOFT_365, "application/json"
    )
    server = dns_zone({"contoso.example": {"MX": ["10 mail.contoso-filter.example."]}})
    result = run_detect("sales@contoso.example", server, https)
    assert (result.method, result.preset.code) == ("autodiscover", "microsoft365")
    assert result.preset.auth_oauth_microsoft and result.exchange.kind == "microsoft365"


def test_exchange_on_premises_gives_its_ews_url(dns_zone, https, dovecot, smtp_ssl):
    ews = "https://mail.onprem.example/EWS/Exchange.asmx"
    https.routes[("autodiscover.onprem.example", "/autodiscover/autodiscover.json/v1.0/sales@onprem.example")] = Reply(
        200, json.dumps({"Protocol": "EWS", "Url": ews}).encode(), "application/json"
    )
    # Microsoft's endpoint sends this domain to its own Autodiscover: not Microsoft 365.
    https.routes[("autodiscover-s.outlook.test", "/autodiscover/autodiscover.json/v1.0/sales@onprem.example")] = Reply(
        200,
        json.dumps(
            {"Protocol": "AutodiscoverV1", "Url": "https://autodiscover.onprem.example/autodiscover/autodiscover.xml"}
        ).encode(),
        "application/json",
    )
    server = dns_zone(
        {"onprem.example": {"MX": ["10 mail.onprem.example."]}, "autodiscover.onprem.example": {"A": LOCAL}}
    )
    result = run_detect("sales@onprem.example", server, https)
    assert result.exchange is not None
    assert (result.exchange.kind, result.exchange.ews_url) == ("on_premises", ews)
    assert result.method == "none"  # no IMAP found: the EWS URL is what there is


def test_plain_http_autoconfig_only_when_confirmed(dns_zone, https, plain_http, dovecot, smtp_ssl):
    body = config_xml(
        imap=[("imap.plainonly.example", 993, "SSL", "%EMAILADDRESS%")],
        smtp=[("smtp.plainonly.example", 465, "SSL", "%EMAILADDRESS%")],
        domain="plainonly.example",
    )
    plain_http.routes[("autoconfig.plainonly.example", "/mail/config-v1.1.xml")] = Reply(200, body)
    zone = {
        "plainonly.example": {"MX": ["10 mx.plainonly.example."]},
        "autoconfig.plainonly.example": {"A": LOCAL},
        "imap.plainonly.example": {"A": LOCAL},
        "smtp.plainonly.example": {"A": LOCAL},
    }
    ports = {("imap.plainonly.example", 993): dovecot.ssl_port, ("smtp.plainonly.example", 465): smtp_ssl.port}
    cafiles = {"IMAP": dovecot.certs.ca_file, "SMTP": smtp_ssl.certs.ca_file}

    def verify(host, port, security, protocol):
        local = ports.get((host, port))
        return bool(local) and probe("localhost", local, security, protocol, timeout=2, cafile=cafiles[protocol])

    server = dns_zone(zone)
    result = run_detect("a@plainonly.example", server, https, plain_http, verify=verify)
    assert (result.method, result.source) == ("autoconfig_http", "verified")
    assert result.imap == ServerSettings("imap.plainonly.example", 993, Security.SSL)

    # A file sending the probe to an unusual port is not followed there (no port scanning through a file).
    tried = []
    odd = body.replace(b"<port>993</port>", b"<port>8080</port>")
    plain_http.routes[("autoconfig.plainonly.example", "/mail/config-v1.1.xml")] = Reply(200, odd)
    result = run_detect(
        "a@plainonly.example", server, https, plain_http, verify=lambda *args: tried.append(args[:2]) or False
    )
    assert result.method == "none" and ("imap.plainonly.example", 8080) not in tried
    plain_http.routes[("autoconfig.plainonly.example", "/mail/config-v1.1.xml")] = Reply(200, body)

    # The same file, but nothing answers there: plain HTTP alone is not believed.
    result = run_detect("a@plainonly.example", server, https, plain_http, verify=lambda *args: False)
    assert result.method == "none" and result.imap is None


def test_whole_detection_answers_within_the_budget(dns_zone):
    stalled = {("*", path): Reply(200, GOOD, delay=8) for path in ("/mail/config-v1.1.xml",)}
    with HttpServer(stalled, hostnames=["autoconfig.stall.example", "autodiscover-s.outlook.test"]) as slow:
        for path in ("/autodiscover/autodiscover.json/v1.0/a@stall.example",):
            slow.routes[("*", path)] = Reply(200, MICROSOFT_365, delay=8)
        zone = {
            "stall.example": {"MX": ["10 mx.stall.example."]},
            "autoconfig.stall.example": {"A": LOCAL},
            "autodiscover.stall.example": {"A": LOCAL},
            "imap.stall.example": {"A": LOCAL},
            "smtp.stall.example": {"A": LOCAL},
        }
        server = dns_zone(zone)

        def slow_verify(host, port, security, protocol):
            time.sleep(8)
            return True

        started = time.monotonic()
        result = detect(
            "a@stall.example",
            PRESETS,
            resolver=server.resolver(),
            verify=slow_verify,
            timeout=3,
            endpoints=endpoints_for(slow),
        )
        elapsed = time.monotonic() - started
    assert elapsed < DETECTION_BUDGET + 0.3
    assert result.method == "none" and "in time" in result.detail


def test_sources_are_named():
    assert set(SOURCES) >= {"preset", "provider", "ispdb", "verified", "none"}


def test_size_limit_is_one_megabyte():
    assert MAX_BYTES == 1024 * 1024
