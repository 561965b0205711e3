"""Provider presets and server autodetection.

DNS answers come from a real DNS server on 127.0.0.1 (mailsync.testing.dns_server);
guessed servers are confirmed by real connections to Dovecot and aiosmtpd.
"""

import collections
import os
import time
import urllib.parse

import pytest
from lxml import etree

from mailsync.autodetect import (
    NOT_DETECTED,
    ConnectionProbe,
    Detection,
    InvalidEmailAddress,
    ServerSettings,
    detect,
    order_srv,
    parse_address,
    probe,
)
from mailsync.errors import MailSyncError
from mailsync.presets import Preset
from mailsync.security import Security
from mailsync.testing.dns_server import DnsServer
from mailsync.testing.dovecot import free_port
from mailsync.tests.presets_file import DEFAULT_PRESETS_FILE, PresetFileError, load_presets

PRESETS = load_presets()
BY_CODE = {preset.code: preset for preset in PRESETS}
PRESET_DOMAINS = [(preset.code, domain) for preset in PRESETS for domain in preset.domains]


class NoDns:
    """A resolver that must not be used (the domain step answers first)."""

    def resolve(self, qname, rdtype, lifetime=None):
        raise AssertionError(f"unexpected DNS query {qname} {rdtype}")


def refuse(host, port, security, protocol):
    raise AssertionError(f"unexpected connection to {host}:{port}")


# -- the data file ---------------------------------------------------------


def test_presets_file_is_odoo_data():
    tree = etree.parse(DEFAULT_PRESETS_FILE)  # noqa: S320 - the addon's own data file
    root = tree.getroot()
    assert root.tag == "odoo"
    (data,) = root.findall("data")
    assert data.get("noupdate") == "1"
    records = data.findall("record")
    assert records and all(record.get("model") == "crm.mail.provider" for record in records)
    ids = [record.get("id") for record in records]
    assert len(ids) == len(set(ids))
    for record in records:
        code = record.find("field[@name='code']").text
        assert record.get("id") == f"provider_{code}"
        names = [field.get("name") for field in record.findall("field")]
        assert len(names) == len(set(names)), f"{code}: a field is set twice"


def test_every_preset_is_complete():
    assert len(PRESETS) >= 25
    for preset in PRESETS:
        url = urllib.parse.urlparse(preset.source_url)
        assert url.scheme == "https" and url.netloc, f"{preset.code}: source_url"
        if preset.code == "custom":
            assert not preset.imap_host and not preset.smtp_host and not preset.domains and not preset.mx_patterns
            continue
        assert preset.has_servers, preset.code
        assert 0 < preset.imap_port < 65536 and 0 < preset.smtp_port < 65536, preset.code
        assert preset.domains or preset.mx_patterns, f"{preset.code} can never be detected"
        assert (
            preset.auth_password
            or preset.app_password_with_2fa
            or preset.auth_oauth_google
            or preset.auth_oauth_microsoft
        )
        if preset.app_password_with_2fa:
            assert preset.app_password_help.startswith("1. "), preset.code
        # Implicit TLS goes with its own ports, and no public provider is unencrypted.
        for port, security in ((preset.imap_port, preset.imap_security), (preset.smtp_port, preset.smtp_security)):
            assert security is not Security.NONE, preset.code
            if port in (993, 465):
                assert security is Security.SSL, preset.code
            if port in (143, 587):
                assert security is Security.STARTTLS, preset.code


def test_codes_domains_and_patterns_are_unique():
    codes = collections.Counter(preset.code for preset in PRESETS)
    assert max(codes.values()) == 1
    domains = collections.Counter(domain for preset in PRESETS for domain in preset.domains)
    assert [domain for domain, count in domains.items() if count > 1] == []
    patterns = collections.Counter(pattern for preset in PRESETS for pattern in preset.mx_patterns)
    assert [pattern for pattern, count in patterns.items() if count > 1] == []
    for domain in domains:
        assert parse_address(f"x@{domain}")[2] == domain


def test_expected_providers_are_there():
    expected = {
        "gmail", "outlook", "microsoft365", "yahoo", "zoho_com", "zoho_eu", "zoho_in", "icloud", "aol",
        "gmx_com", "gmx_de", "webde", "fastmail", "orange", "sfr", "free", "laposte", "bbox", "ovh",
        "ionos_de", "ionos_fr", "ionos_com", "gandi", "infomaniak", "proton_bridge", "custom",
    }  # fmt: skip
    assert expected <= set(BY_CODE)
    assert BY_CODE["microsoft365"].auth_oauth_microsoft and not BY_CODE["microsoft365"].auth_password
    assert BY_CODE["gmail"].auth_oauth_google and BY_CODE["gmail"].app_password_with_2fa
    proton = BY_CODE["proton_bridge"]
    assert (proton.imap_host, proton.imap_port, proton.imap_security) == ("127.0.0.1", 1143, Security.STARTTLS)
    assert (proton.smtp_host, proton.smtp_port) == ("127.0.0.1", 1025)


def test_preset_from_mapping_like_an_odoo_record():
    values = {
        "id": 7,
        "active": True,
        "name": "Example",
        "code": "example",
        "imap_host": "imap.example.com",
        "imap_port": 993,
        "imap_security": "ssl",
        "smtp_host": "smtp.example.com",
        "smtp_port": 587,
        "smtp_security": "starttls",
        "auth_password": True,
        "app_password_with_2fa": False,
        "domains": "Example.com  example.net",
        "mx_patterns": False,
        "login_format": "local_part",
        "app_password_url": False,
        "note": False,
    }
    preset = Preset.from_mapping(values)
    assert preset.domains == ("example.com", "example.net")
    assert preset.mx_patterns == ()
    assert preset.smtp_security is Security.STARTTLS
    assert preset.app_password_url == "" and preset.note == ""
    assert preset.login_for("jane@example.com") == "jane"
    assert Preset.from_mapping(dict(values, domains=["a.example"])).domains == ("a.example",)
    with pytest.raises(ValueError):
        Preset.from_mapping(dict(values, login_format="uid"))


def test_load_presets_rejects_a_broken_file(tmp_path):
    path = tmp_path / "presets.xml"
    path.write_text('<odoo><record id="x" model="crm.mail.provider"><field name="code">x</field>')
    with pytest.raises(PresetFileError):
        load_presets(str(path))
    path.write_text(
        '<odoo><record id="x" model="crm.mail.provider"><field name="code">x</field>'
        '<field name="name">X</field><field name="auth_password" eval="__import__(\'os\')"/></record></odoo>'
    )
    with pytest.raises(PresetFileError, match="unsupported eval"):
        load_presets(str(path))


# -- step 1: the address's domain -----------------------------------------


@pytest.mark.parametrize(("code", "domain"), PRESET_DOMAINS, ids=[f"{c}:{d}" for c, d in PRESET_DOMAINS])
def test_every_preset_domain_is_detected(code, domain):
    result = detect(f"Jane.Doe@{domain.upper()}", PRESETS, resolver=NoDns(), verify=refuse)
    preset = BY_CODE[code]
    assert (result.method, result.preset.code, result.domain) == ("domain", code, domain)
    assert result.imap == ServerSettings(preset.imap_host, preset.imap_port, preset.imap_security)
    assert result.smtp == ServerSettings(preset.smtp_host, preset.smtp_port, preset.smtp_security)
    assert result.login == ("Jane.Doe" if preset.login_format == "local_part" else f"Jane.Doe@{domain}")
    assert result.found and preset.name in result.message


# -- step 2: MX records of a custom domain ---------------------------------


@pytest.fixture
def dns_zone():
    """Start a DNS server for the zone the test passes; stop it afterwards."""
    servers = []

    def start(zone, **kwargs):
        server = DnsServer(zone, **kwargs).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.mark.parametrize(
    ("mx_records", "code"),
    [
        (["1 aspmx.l.google.com.", "5 alt1.aspmx.l.google.com.", "10 alt3.aspmx.l.google.com."], "gmail"),
        (["1 smtp.google.com."], "gmail"),
        (["0 acme-example.mail.protection.outlook.com."], "microsoft365"),
        (["10 mx.zoho.eu.", "20 mx2.zoho.eu."], "zoho_eu"),
        (["1 mx1.mail.ovh.net.", "5 mx2.mail.ovh.net."], "ovh"),
        (["10 mx00.ionos.fr.", "10 mx01.ionos.fr."], "ionos_fr"),
        (["10 mail.protonmail.ch.", "20 mailsec.protonmail.ch."], "proton_bridge"),
        # The preferred MX decides, not the first listed.
        (["20 backup.example-mx.net.", "5 in1-smtp.messagingengine.com."], "fastmail"),
    ],
)
def test_custom_domain_detected_from_its_mx(dns_zone, mx_records, code):
    server = dns_zone({"acme.example": {"MX": mx_records}})
    result = detect("sales@acme.example", PRESETS, resolver=server.resolver(), verify=refuse, timeout=2)
    assert (result.method, result.preset.code) == ("mx", code)
    assert result.imap.host == BY_CODE[code].imap_host
    assert server.asked("acme.example", "MX")
    # SRV records and autoconfig are asked at the same time (concurrent lookups); the MX preset wins.


def test_most_specific_mx_pattern_wins():
    broad = Preset(code="broad", name="Broad", imap_host="i", smtp_host="s", mx_patterns=("*.outlook.com",))
    narrow = Preset(
        code="narrow", name="Narrow", imap_host="i", smtp_host="s", mx_patterns=("*.olc.protection.outlook.com",)
    )
    assert narrow.matches_mx("Hotmail-com.OLC.protection.outlook.com.") == "*.olc.protection.outlook.com"
    server = DnsServer({"x.example": {"MX": ["1 hotmail-com.olc.protection.outlook.com."]}}).start()
    try:
        for presets in ([broad, narrow], [narrow, broad]):
            result = detect("a@x.example", presets, resolver=server.resolver(), verify=refuse, timeout=2)
            assert result.preset.code == "narrow"
    finally:
        server.stop()


# -- step 3: RFC 6186 SRV records ------------------------------------------


def test_srv_records(dns_zone):
    server = dns_zone(
        {
            "srv.example": {"MX": ["10 mx.unknown-host.example."]},
            "_imaps._tcp.srv.example": {"SRV": ["20 1 993 imap-b.srv.example.", "10 1 993 imap-a.srv.example."]},
            "_submissions._tcp.srv.example": {"SRV": ["0 0 0 ."]},  # explicitly not offered
            "_submission._tcp.srv.example": {"SRV": ["0 1 587 Submit.Srv.Example."]},
        }
    )
    result = detect("a@srv.example", PRESETS, resolver=server.resolver(), verify=refuse, timeout=2)
    assert result.method == "srv" and result.preset is None and result.found
    assert result.imap == ServerSettings("imap-a.srv.example", 993, Security.SSL)
    assert result.smtp == ServerSettings("submit.srv.example", 587, Security.STARTTLS)
    assert result.login == "a@srv.example"
    # _imaps answered, so _imap was never needed.
    assert not server.asked("_imap._tcp.srv.example")


def test_srv_starttls_imap_when_implicit_tls_not_offered(dns_zone):
    server = dns_zone(
        {
            "_imaps._tcp.srv2.example": {"SRV": ["0 0 0 ."]},
            "_imap._tcp.srv2.example": {"SRV": ["0 1 143 mail.srv2.example."]},
            "_submissions._tcp.srv2.example": {"SRV": ["0 1 465 mail.srv2.example."]},
        }
    )
    result = detect("a@srv2.example", PRESETS, resolver=server.resolver(), verify=refuse, timeout=2)
    assert result.method == "srv"
    assert result.imap == ServerSettings("mail.srv2.example", 143, Security.STARTTLS)
    assert result.smtp == ServerSettings("mail.srv2.example", 465, Security.SSL)


class _Srv(collections.namedtuple("_Srv", "priority weight port target")):
    pass


class _FixedRandom:
    def __init__(self, value):
        self.value = value

    def randint(self, low, high):
        return min(max(self.value, low), high)


def test_order_srv_follows_rfc_2782():
    a, b, c, d = _Srv(10, 0, 1, "a"), _Srv(10, 60, 2, "b"), _Srv(10, 40, 3, "c"), _Srv(5, 0, 4, "d")
    # Lowest priority first whatever the weights; within a priority the
    # running sum of weights (weight 0 first) picks the record.
    assert [r.target for r in order_srv([a, b, c, d], _FixedRandom(0))] == ["d", "a", "c", "b"]
    assert [r.target for r in order_srv([a, b, c, d], _FixedRandom(50))][:2] == ["d", "b"]
    assert [r.target for r in order_srv([a, b, c, d], _FixedRandom(1))][:2] == ["d", "c"]


# -- step 4: guesses confirmed by real connections -------------------------


def _local_verify(port_map, cafiles, attempts):
    """A verify that sends guessed (host, port) pairs to the local test servers,
    through the real probe (TCP, TLS with certificate check, greeting)."""

    def verify(host, port, security, protocol):
        attempts.append((host, port, security, protocol))
        local_port = port_map.get((host, port))
        if local_port is None:
            return False
        return probe("localhost", local_port, security, protocol, timeout=2, cafile=cafiles[protocol])

    return verify


def test_guess_confirmed_by_real_servers(dns_zone, dovecot, smtp_ssl):
    server = dns_zone(
        {
            "guess.example": {"MX": ["10 mx.guess.example."]},
            "imap.guess.example": {"A": ["127.0.0.1"]},
            "smtp.guess.example": {"A": ["127.0.0.1"]},
        }
    )
    attempts = []
    verify = _local_verify(
        {("imap.guess.example", 993): dovecot.ssl_port, ("smtp.guess.example", 465): smtp_ssl.port},
        {"IMAP": dovecot.certs.ca_file, "SMTP": smtp_ssl.certs.ca_file},
        attempts,
    )
    result = detect("a@guess.example", PRESETS, resolver=server.resolver(), verify=verify, timeout=2)
    assert result.method == "guess"
    assert result.imap == ServerSettings("imap.guess.example", 993, Security.SSL)
    assert result.smtp == ServerSettings("smtp.guess.example", 465, Security.SSL)
    # Guesses are tried at the same time; the best-ranked one that answers wins,
    # and only host names that exist are connected to.
    assert ("imap.guess.example", 993, Security.SSL, "IMAP") in attempts
    assert ("smtp.guess.example", 465, Security.SSL, "SMTP") in attempts
    assert not [attempt for attempt in attempts if attempt[0] == "mail.guess.example"]


def test_guess_falls_back_to_starttls_and_mail_host(dns_zone, dovecot, smtp_starttls):
    server = dns_zone({"mail.guess2.example": {"A": ["127.0.0.1"]}})
    closed = free_port()
    attempts = []
    verify = _local_verify(
        {
            ("mail.guess2.example", 993): closed,
            ("mail.guess2.example", 143): dovecot.port,
            ("mail.guess2.example", 465): closed,
            ("mail.guess2.example", 587): smtp_starttls.port,
        },
        {"IMAP": dovecot.certs.ca_file, "SMTP": smtp_starttls.certs.ca_file},
        attempts,
    )
    result = detect("a@guess2.example", PRESETS, resolver=server.resolver(), verify=verify, timeout=2)
    assert result.method == "guess"
    assert result.imap == ServerSettings("mail.guess2.example", 143, Security.STARTTLS)
    assert result.smtp == ServerSettings("mail.guess2.example", 587, Security.STARTTLS)
    assert sorted((host, port) for host, port, _s, _p in attempts) == [
        ("mail.guess2.example", 143),
        ("mail.guess2.example", 465),
        ("mail.guess2.example", 587),
        ("mail.guess2.example", 993),
    ]


def test_srv_and_guess_combine(dns_zone, smtp_starttls):
    server = dns_zone(
        {
            "_imaps._tcp.mix.example": {"SRV": ["0 1 993 imap.mix.example."]},
            "smtp.mix.example": {"A": ["127.0.0.1"]},
        }
    )
    verify = _local_verify(
        {("smtp.mix.example", 587): smtp_starttls.port}, {"SMTP": smtp_starttls.certs.ca_file}, attempts := []
    )
    result = detect("a@mix.example", PRESETS, resolver=server.resolver(), verify=verify, timeout=2)
    assert result.method == "srv"
    assert result.imap == ServerSettings("imap.mix.example", 993, Security.SSL)
    assert result.smtp == ServerSettings("smtp.mix.example", 587, Security.STARTTLS)
    assert all(protocol == "SMTP" for *_rest, protocol in attempts)
    assert result.detail == "IMAP by srv, SMTP by guess"


def test_nothing_found_gives_a_typed_none(dns_zone, dovecot):
    server = dns_zone(
        {"partial.example": {"MX": ["10 mx.partial.example."]}, "imap.partial.example": {"A": ["127.0.0.1"]}}
    )
    verify = _local_verify({("imap.partial.example", 993): dovecot.ssl_port}, {"IMAP": dovecot.certs.ca_file}, [])
    result = detect("a@partial.example", PRESETS, resolver=server.resolver(), verify=verify, timeout=2)
    assert isinstance(result, Detection)
    assert (result.method, result.found, result.message) == ("none", False, NOT_DETECTED)
    assert result.preset is None and result.smtp is None
    assert result.imap == ServerSettings("imap.partial.example", 993, Security.SSL)  # kept to prefill the form


# -- the default verify: a real probe --------------------------------------


def test_probe_against_real_servers(dovecot, smtp_ssl, smtp_starttls):
    ca_imap, ca_ssl, ca_tls = dovecot.certs.ca_file, smtp_ssl.certs.ca_file, smtp_starttls.certs.ca_file
    assert probe("localhost", dovecot.ssl_port, "ssl", "IMAP", timeout=2, cafile=ca_imap)
    assert probe("localhost", dovecot.port, "starttls", "IMAP", timeout=2, cafile=ca_imap)
    assert probe("localhost", smtp_ssl.port, "ssl", "SMTP", timeout=2, cafile=ca_ssl)
    assert probe("localhost", smtp_starttls.port, "starttls", "SMTP", timeout=2, cafile=ca_tls)
    assert ConnectionProbe(timeout=2, cafile=ca_imap)("localhost", dovecot.ssl_port, Security.SSL, "IMAP")
    # Wrong encryption, wrong protocol, untrusted certificate, nothing listening: all just False.
    assert not probe("localhost", dovecot.port, "ssl", "IMAP", timeout=2, cafile=ca_imap)
    assert not probe("localhost", smtp_ssl.port, "ssl", "IMAP", timeout=2, cafile=ca_ssl)
    assert not probe("localhost", dovecot.ssl_port, "ssl", "IMAP", timeout=2)
    assert not probe("localhost", free_port(), "ssl", "IMAP", timeout=2)
    started = time.monotonic()
    assert not probe("localhost", dovecot.ssl_port, "starttls", "IMAP", timeout=0.5, cafile=ca_imap)
    assert time.monotonic() - started < 2


# -- failures degrade quickly to "none" ------------------------------------


def test_nxdomain_gives_none_at_once(dns_zone):
    server = dns_zone({"exists.example": {"MX": ["10 mx.exists.example."]}})
    started = time.monotonic()
    result = detect("a@no-such-domain.example", PRESETS, resolver=server.resolver(), verify=refuse, timeout=2)
    assert time.monotonic() - started < 1
    assert result.method == "none" and "does not exist" in result.detail
    # The lookups start together; once the domain is known not to exist, nothing is confirmed by connecting.
    assert ("no-such-domain.example", "MX") in server.asked()
    assert not server.asked("imap.no-such-domain.example")


def test_dns_timeout_gives_none_quickly(dns_zone):
    server = dns_zone({}, silent={"slow.example"})
    started = time.monotonic()
    result = detect("a@slow.example", PRESETS, resolver=server.resolver(), verify=refuse, timeout=0.3)
    elapsed = time.monotonic() - started
    assert result.method == "none" and result.message == NOT_DETECTED
    assert "did not answer" in result.detail
    assert elapsed < 1.5
    # The first lookups go out together; after the timeout, no host name is guessed.
    assert not server.asked("imap.slow.example") and not server.asked("mail.slow.example")


def test_no_dns_at_all_gives_none():
    class Unreachable:
        def resolve(self, qname, rdtype, lifetime=None):
            raise OSError("network is unreachable")

    result = detect("a@isolated.example", PRESETS, resolver=Unreachable(), verify=refuse, timeout=0.3)
    assert result.method == "none"


def test_a_failing_verify_is_a_no(dns_zone):
    server = dns_zone({"imap.boom.example": {"A": ["127.0.0.1"]}, "smtp.boom.example": {"A": ["127.0.0.1"]}})

    def verify(host, port, security, protocol):
        raise RuntimeError("boom")

    result = detect("a@boom.example", PRESETS, resolver=server.resolver(), verify=verify, timeout=2)
    assert result.method == "none"


# -- addresses --------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "",
        "   ",
        None,
        "jane",
        "jane@",
        "@example.com",
        "jane@@example.com",
        "ja ne@example.com",
        "jane@exa mple.com",
        "jane@localhost",
        "jane@example..com",
        "jane@-example.com",
        "jane@example.com-",
        "jane@192.168.0.1",
        "jane@[192.168.0.1]",
        ".jane@example.com",
        "ja..ne@example.com",
        "jane@exa_mple.com",
        "x" * 65 + "@example.com",
        "jane@" + "a" * 64 + ".com",
    ],
)
def test_malformed_address_is_a_clear_error(address):
    with pytest.raises(InvalidEmailAddress) as info:
        detect(address, PRESETS, resolver=NoDns(), verify=refuse)
    assert isinstance(info.value, MailSyncError) and isinstance(info.value, ValueError)
    assert info.value.code == "invalid_email"
    assert "is not a valid email address" in str(info.value)


def test_address_normalisation():
    assert parse_address("  Jane@Example.COM. ") == ("Jane@example.com", "Jane", "example.com")
    assert parse_address("jörg@bücher.example")[2] == "xn--bcher-kva.example"


def test_idn_domain_detected_through_its_ascii_form(dns_zone):
    server = dns_zone({"xn--bcher-kva.example": {"MX": ["10 aspmx.l.google.com."]}})
    result = detect("jörg@Bücher.example", PRESETS, resolver=server.resolver(), verify=refuse, timeout=2)
    assert (result.method, result.preset.code, result.domain) == ("mx", "gmail", "xn--bcher-kva.example")
    assert result.email == result.login == "jörg@xn--bcher-kva.example"
    assert server.asked("xn--bcher-kva.example", "MX")


def test_a_name_server_given_by_the_caller_is_the_one_asked(dns_zone):
    server = dns_zone({"by-nameserver.example": {"MX": ["10 aspmx.l.google.com."]}})
    result = detect("a@by-nameserver.example", PRESETS, nameserver=f"{server.host}:{server.port}", verify=refuse)
    assert (result.method, result.preset.code) == ("mx", "gmail")
    assert server.asked("by-nameserver.example", "MX")


def test_idn_preset_domain():
    preset = Preset(code="idn", name="IDN", imap_host="i", smtp_host="s", domains=("xn--mller-kva.example",))
    result = detect("a@müller.example", [preset], resolver=NoDns(), verify=refuse)
    assert (result.method, result.preset.code) == ("domain", "idn")


def test_the_engine_modules_never_import_odoo():
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for name in ("presets.py", "autodetect.py", os.path.join("testing", "dns_server.py")):
        with open(os.path.join(here, name), encoding="utf-8") as f:
            imports = [line.split() for line in f if line.startswith(("import ", "from "))]
        assert imports and not any(words[1].split(".")[0] == "odoo" for words in imports), name
