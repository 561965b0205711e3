"""Find the mail servers of an email address.

:func:`detect` tries, in order, and stops at the first answer:

1. ``domain``: the address's domain is one a preset serves (gmail.com, ...);
2. ``mx``: the domain's MX hosts match a preset's ``mx_patterns`` (a custom
   domain hosted by Google Workspace, Microsoft 365, Zoho, OVH, ...);
3. ``srv``: RFC 6186 SRV records (``_imaps._tcp``, ``_imap._tcp``,
   ``_submissions._tcp``, ``_submission._tcp``);
4. ``guess``: the usual host names (``imap.DOMAIN``, ``mail.DOMAIN``,
   ``smtp.DOMAIN``), kept only when a real connection to them succeeds;

and otherwise answers ``none``: the user enters the servers. Every network
step has a short timeout and a failure only moves on to the next step; DNS
goes through an injectable dnspython-style resolver, connections through an
injectable ``verify(host, port, security, protocol) -> bool``.
"""

import concurrent.futures
import dataclasses
import random
import socket
import ssl
import time

import dns.exception
import dns.resolver

from . import autoconfig
from .errors import MailSyncError
from .presets import pattern_specificity
from .security import Security, tls_context

IMAP = "IMAP"
SMTP = "SMTP"

METHODS = ("domain", "ispdb", "mx", "autoconfig", "ispdb_mx", "autodiscover", "srv", "autoconfig_http", "guess", "none")
#: Which kind of source each method is (what the wizard tells the user).
SOURCE_OF_METHOD = {
    "domain": "preset",
    "mx": "preset",
    "autodiscover": "preset",
    "autoconfig": "provider",  # the domain's own autoconfig file
    "ispdb": "ispdb",  # Thunderbird's ISP database
    "ispdb_mx": "ispdb",
    "srv": "dns",  # RFC 6186 records
    "autoconfig_http": "verified",  # plain-HTTP autoconfig confirmed by connecting
    "guess": "verified",
    "none": "none",
}
SOURCES = ("preset", "provider", "ispdb", "dns", "verified", "none")
MICROSOFT_365 = "microsoft365"  # the preset code Autodiscover leads to
DETECTION_BUDGET = 5.0  # seconds, the whole detection
_WAVE_ONE_SHARE = 0.55  # share of the budget for the lookups before connections confirm guesses
_MARGIN = 0.15  # seconds kept for deciding and returning
NOT_DETECTED = "could not detect: enter the servers"

# RFC 6186 services, best first (RFC 8314: implicit TLS before STARTTLS).
SRV_SERVICES = {
    IMAP: (("_imaps._tcp", Security.SSL), ("_imap._tcp", Security.STARTTLS)),
    SMTP: (("_submissions._tcp", Security.SSL), ("_submission._tcp", Security.STARTTLS)),
}

# Host-name guesses: (prefix, port, security), best first.
GUESSES = {
    IMAP: (
        ("imap", 993, Security.SSL),
        ("mail", 993, Security.SSL),
        ("imap", 143, Security.STARTTLS),
        ("mail", 143, Security.STARTTLS),
    ),
    SMTP: (
        ("smtp", 465, Security.SSL),
        ("smtp", 587, Security.STARTTLS),
        ("mail", 465, Security.SSL),
        ("mail", 587, Security.STARTTLS),
    ),
}

#: The only ports autodetection ever connects to (guesses, and plain-HTTP autoconfig answers).
PROBE_PORTS = frozenset(port for guesses in GUESSES.values() for _prefix, port, _security in guesses)

_MAX_LINE = 4096


class InvalidEmailAddress(MailSyncError, ValueError):
    """The text given is not an email address the detection can use."""

    code = "invalid_email"

    def __init__(self, address, reason):
        self.address = address
        self.reason = reason
        super().__init__(f"{address!r} is not a valid email address: {reason}.")


@dataclasses.dataclass(frozen=True)
class ServerSettings:
    """One server found for a protocol."""

    host: str
    port: int
    security: Security

    def __post_init__(self):
        object.__setattr__(self, "security", Security(self.security))


@dataclasses.dataclass(frozen=True)
class Detection:
    """What :func:`detect` found for an address.

    ``method`` is one of :data:`METHODS`. With ``domain`` or ``mx``,
    ``preset`` is the provider and ``imap``/``smtp`` its servers; with
    ``srv`` or ``guess``, ``imap`` and ``smtp`` are the servers found; with
    ``none``, nothing complete was found (``imap`` or ``smtp`` may still hold
    a partial finding, to prefill the form).
    """

    email: str
    domain: str  # ASCII (IDNA) form
    method: str
    preset: object = None  # mailsync.presets.Preset
    imap: ServerSettings | None = None
    smtp: ServerSettings | None = None
    login: str = ""
    detail: str = ""  # how it was found (MX host, SRV names, ...) or why not
    provider_name: str = ""  # the provider's name in an autoconfig file or the ISP database
    documentation: tuple = ()  # ((url, description), ...) from the autoconfig file or the ISP database
    exchange: object = None  # mailsync.autoconfig.Exchange, when Autodiscover answered

    @property
    def source(self):
        """Which kind of source answered: one of :data:`SOURCES`."""
        return SOURCE_OF_METHOD[self.method]

    @property
    def found(self):
        return self.method != "none"

    @property
    def message(self):
        if not self.found:
            return NOT_DETECTED
        what = self.preset.name if self.preset else self.provider_name or "the mail servers"
        return f"Detected {what} ({self.method})."


def parse_address(email):
    """Return ``(email, local part, ASCII domain)`` or raise InvalidEmailAddress.

    The domain is lower-cased and IDN domains are converted with the
    ``idna`` codec (``bücher.example`` -> ``xn--bcher-kva.example``).
    """
    if not isinstance(email, str) or not email.strip():
        raise InvalidEmailAddress(email, "it is empty")
    text = email.strip()
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in text):
        raise InvalidEmailAddress(email, "it contains spaces or control characters")
    if text.count("@") != 1:
        raise InvalidEmailAddress(email, "it must contain exactly one @")
    local, domain = text.split("@")
    if not local:
        raise InvalidEmailAddress(email, "nothing before the @")
    if len(local) > 64:
        raise InvalidEmailAddress(email, "the part before the @ is longer than 64 characters")
    if local.startswith(".") or local.endswith(".") or ".." in local or any(ch in '<>()[]\\,;:"' for ch in local):
        raise InvalidEmailAddress(email, "the part before the @ is malformed")
    domain = domain.rstrip(".").lower()
    if not domain:
        raise InvalidEmailAddress(email, "nothing after the @")
    try:
        ascii_domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        raise InvalidEmailAddress(email, "the domain is not a valid domain name") from None
    labels = ascii_domain.split(".")
    if len(labels) < 2 or len(ascii_domain) > 253:
        raise InvalidEmailAddress(email, "the domain must be a full domain name such as example.com")
    for label in labels:
        if not (0 < len(label) <= 63) or label.startswith("-") or label.endswith("-"):
            raise InvalidEmailAddress(email, "the domain is not a valid domain name")
        if not all(ch.isascii() and (ch.isalnum() or ch == "-") for ch in label):
            raise InvalidEmailAddress(email, "the domain is not a valid domain name")
    if labels[-1].isdigit():
        raise InvalidEmailAddress(email, "the domain must be a name, not an IP address")
    return f"{local}@{ascii_domain}", local, ascii_domain


def detect(
    email,
    presets,
    resolver=None,
    verify=None,
    timeout=3.0,
    *,
    nameserver=None,
    ispdb=None,
    endpoints=None,
    budget=DETECTION_BUDGET,
):
    """Detect the servers of ``email``; return a :class:`Detection`.

    Offline answers first (a preset's domain, then Thunderbird's ISP
    database), with no network at all. Otherwise these lookups run at once,
    each with ``timeout``: the MX hosts (a preset's pattern, then the ISP
    database entry of the MX host's domain), the domain's autoconfig file over
    HTTPS, Microsoft's Autodiscover and the domain's own, RFC 6186 SRV
    records, and the autoconfig file over plain HTTP; the best answer is
    taken as soon as every better source has answered (precedence: preset by
    MX, autoconfig over HTTPS, ISP database by MX, Microsoft 365 by
    Autodiscover, SRV). When none is complete, what plain HTTP said and the
    usual host names are confirmed by real connections, concurrently. The
    whole detection answers within ``budget`` seconds.

    :param presets: :class:`mailsync.presets.Preset` objects
    :param resolver: an object with ``resolve(qname, rdtype, lifetime=...)``
        like ``dns.resolver.Resolver`` (default: the system's resolver); the
        HTTP lookups resolve their host names through it as well
    :param nameserver: ``"host"`` or ``"host:port"`` (default port 53): ask
        this one name server instead of the system's (ignored when a
        ``resolver`` is given)
    :param verify: ``verify(host, port, security, protocol) -> bool`` used to
        confirm a guessed server (default: :class:`ConnectionProbe`, a real
        TCP + TLS + greeting check)
    :param timeout: seconds allowed to each DNS query, request and connection
    :param ispdb: a :class:`mailsync.autoconfig.Ispdb` (default: the shipped copy)
    :param endpoints: a :class:`mailsync.autoconfig.Endpoints` (default: the real services)
    :param budget: seconds allowed to the whole detection
    :raises InvalidEmailAddress: for a malformed address (nothing else:
        network failures only lead to the next step)
    """
    email, _local, domain = parse_address(email)
    presets = list(presets)
    started = time.monotonic()
    deadline = started + budget - _MARGIN
    ispdb = autoconfig.default_ispdb() if ispdb is None else ispdb
    endpoints = endpoints or autoconfig.Endpoints()

    # 1. The address's own domain: a preset, then the ISP database.
    for preset in presets:
        if preset.has_servers and preset.serves_domain(domain):
            return _from_preset(email, domain, "domain", preset, f"{domain} is served by {preset.name}")
    config = ispdb.lookup(domain)
    if config:
        return _from_config(email, domain, "ispdb", config, f"{domain} is in Thunderbird's ISP database")

    if resolver is None:
        resolver = nameserver_resolver(nameserver) if nameserver else _system_resolver()
    dns_lookup = _Dns(resolver, timeout)
    if dns_lookup.dead:
        return Detection(email, domain, "none", detail="no DNS resolver")
    run = _Lookups(deadline, timeout)
    try:
        return _detect_online(email, domain, presets, ispdb, endpoints, dns_lookup, verify, run, started, budget)
    finally:
        run.close()


def _detect_online(email, domain, presets, ispdb, endpoints, dns_lookup, verify, run, started, budget):
    http = {"resolver": dns_lookup.resolver, "cafile": endpoints.cafile}
    wave_one = started + budget * _WAVE_ONE_SHARE

    def fetch(url):
        return lambda t: autoconfig.fetch_autoconfig(url, email, timeout=t, **http)

    run.start("mx", lambda t: dns_lookup.mx_hosts(domain, t))
    for index, template in enumerate(endpoints.autoconfig):
        run.start(f"autoconfig{index}", fetch(endpoints.expand(template, email, domain)))
    run.start(
        "microsoft",
        lambda t: autoconfig.autodiscover_microsoft(
            endpoints.expand(endpoints.autodiscover_microsoft, email, domain), timeout=t, **http
        ),
    )
    run.start(
        "exchange",
        lambda t: autoconfig.autodiscover_domain(
            endpoints.expand(endpoints.autodiscover_domain, email, domain), timeout=t, **http
        ),
    )
    for protocol in (IMAP, SMTP):
        run.start(f"srv_{protocol}", lambda t, protocol=protocol: dns_lookup.srv_server(domain, protocol, timeout=t))
    for index, template in enumerate(endpoints.autoconfig_http):
        run.start(f"http{index}", fetch(endpoints.expand(template, email, domain)))

    def exchange_found():
        ad = run.result("exchange")
        return ad if ad and ad.kind == "on_premises" else None

    def decide():
        """(decided, Detection or None) from what has answered so far."""
        if run.done("mx") and dns_lookup.nxdomain:
            return True, Detection(email, domain, "none", detail=f"the domain {domain} does not exist")
        steps = [("mx", lambda: _mx_preset(email, domain, run.result("mx"), presets))]
        steps += [
            (
                f"autoconfig{index}",
                lambda index=index: _autoconfig_answer(email, domain, run.result(f"autoconfig{index}")),
            )
            for index in range(len(endpoints.autoconfig))
        ]
        steps += [
            ("mx", lambda: _mx_ispdb(email, domain, run.result("mx"), ispdb)),
            ("microsoft", lambda: _microsoft_answer(email, domain, run.result("microsoft"), presets)),
            ("exchange", lambda: _microsoft_answer(email, domain, run.result("exchange"), presets)),
            ("srv_IMAP", lambda: None),
            ("srv_SMTP", lambda: _srv_answer(email, domain, run.result("srv_IMAP"), run.result("srv_SMTP"))),
        ]
        for key, answer in steps:
            if not run.done(key):
                return False, None
            found = answer()
            if found:
                return True, found
        # Nothing yet: wave two needs what plain HTTP said.
        return all(run.done(f"http{index}") for index in range(len(endpoints.autoconfig_http))), None

    _decided, found = run.until(decide, wave_one)
    if found:
        return dataclasses.replace(found, exchange=found.exchange or exchange_found())

    # Wave two: confirm what plain HTTP said and the usual host names by real connections.
    if verify is None:
        verify = ConnectionProbe(timeout=min(dns_lookup.timeout, max(run.deadline - time.monotonic(), 0.05)))
    found = {}
    how = {}
    for protocol in (IMAP, SMTP):
        server = run.result(f"srv_{protocol}")
        if server:
            found[protocol], how[protocol] = server, "srv"
    http_configs = [run.result(f"http{index}") for index in range(len(endpoints.autoconfig_http))]
    http_config = next((config for config in http_configs if config and config.complete), None)
    checks = {}
    if http_config and not found:
        for protocol, entries in ((IMAP, http_config.imap), (SMTP, http_config.smtp)):
            for rank_index, entry in enumerate(entries[:3]):
                if entry.port not in PROBE_PORTS:
                    continue  # only the usual mail ports are ever probed (no port scanning through a file)
                key = ("http", protocol, rank_index)
                checks[key] = (entry.host, entry.port, entry.security, protocol)
    missing = [protocol for protocol in (IMAP, SMTP) if protocol not in found]
    if not dns_lookup.dead:
        for protocol in missing:
            for rank_index, (prefix, port, security) in enumerate(GUESSES[protocol]):
                checks[("guess", protocol, rank_index)] = (f"{prefix}.{domain}", port, security, protocol)
    for key, (host, port, security, protocol) in checks.items():
        run.start(key, lambda t, h=host, p=port, s=security, pr=protocol: _confirm(h, p, s, pr, dns_lookup, verify, t))

    def confirmed(kind, protocol, count):
        """The best confirmed entry of a kind, (decided, index or None)."""
        for index in range(count):
            key = (kind, protocol, index)
            if key not in checks:
                continue
            if not run.done(key):
                return False, None
            if run.result(key):
                return True, index
        return True, None

    def decide_two():
        if http_config and not found:
            imap_ok = confirmed("http", IMAP, 3)
            smtp_ok = confirmed("http", SMTP, 3)
            if not (imap_ok[0] and smtp_ok[0]):
                return False, None
            if imap_ok[1] is not None and smtp_ok[1] is not None:
                chosen = dataclasses.replace(
                    http_config, imap=(http_config.imap[imap_ok[1]],), smtp=(http_config.smtp[smtp_ok[1]],)
                )
                return True, _from_config(
                    email, domain, "autoconfig_http", chosen, f"{http_config.source}, confirmed by connecting"
                )
        results = {}
        for protocol in missing:
            done, index = confirmed("guess", protocol, len(GUESSES[protocol]))
            if not done:
                return False, None
            results[protocol] = index
        return True, results

    decided, outcome = run.until(decide_two, run.deadline)
    if isinstance(outcome, Detection):
        return dataclasses.replace(outcome, exchange=exchange_found())
    for protocol in missing:
        index = (outcome or {}).get(protocol)
        if index is None:
            # Out of time: the best guess confirmed so far, if any.
            index = next(
                (
                    i
                    for i in range(len(GUESSES[protocol]))
                    if run.done(("guess", protocol, i)) and run.result(("guess", protocol, i))
                ),
                None,
            )
        if index is not None:
            prefix, port, security = GUESSES[protocol][index]
            found[protocol], how[protocol] = ServerSettings(f"{prefix}.{domain}", port, security), "guess"

    imap, smtp = found.get(IMAP), found.get(SMTP)
    detail = ", ".join(f"{protocol} by {how[protocol]}" for protocol in (IMAP, SMTP) if protocol in how)
    exchange = exchange_found()
    if imap and smtp:
        method = "srv" if "srv" in how.values() else "guess"
        return Detection(email, domain, method, imap=imap, smtp=smtp, login=email, detail=detail, exchange=exchange)
    if dns_lookup.dead:
        detail = "; ".join(filter(None, [detail, "DNS did not answer in time"]))
    elif decided is False:
        detail = "; ".join(filter(None, [detail, "not everything answered in time"]))
    return Detection(email, domain, "none", imap=imap, smtp=smtp, login=email, detail=detail, exchange=exchange)


def _confirm(host, port, security, protocol, dns_lookup, verify, timeout):
    if not dns_lookup.has_address(host, timeout):
        return False
    try:
        return bool(verify(host, port, security, protocol))
    except Exception:  # noqa: BLE001 - an injected check failing is a "no", not a crash
        return False


def _mx_preset(email, domain, mx_hosts, presets):
    match = _match_mx(mx_hosts or [], presets)
    if match:
        preset, host = match
        return _from_preset(email, domain, "mx", preset, f"mail exchanger {host}")
    return None


def _mx_ispdb(email, domain, mx_hosts, ispdb):
    for host in mx_hosts or []:
        config = ispdb.lookup_mx(host)
        if config:
            return _from_config(email, domain, "ispdb_mx", config, f"mail exchanger {host} ({config.name})")
    return None


def _autoconfig_answer(email, domain, config):
    if config and config.complete:
        return _from_config(email, domain, "autoconfig", config, config.source)
    return None


def _microsoft_answer(email, domain, exchange, presets):
    if not exchange or exchange.kind != "microsoft365":
        return None
    preset = next((p for p in presets if p.code == MICROSOFT_365 and p.has_servers), None)
    if preset is None:
        return None
    found = _from_preset(email, domain, "autodiscover", preset, f"Autodiscover: {exchange.url}")
    return dataclasses.replace(found, exchange=exchange)


def _srv_answer(email, domain, imap, smtp):
    if imap and smtp:
        return Detection(email, domain, "srv", imap=imap, smtp=smtp, login=email, detail="IMAP by srv, SMTP by srv")
    return None


def _from_preset(email, domain, method, preset, detail):
    return Detection(
        email,
        domain,
        method,
        preset=preset,
        imap=ServerSettings(preset.imap_host, preset.imap_port, preset.imap_security),
        smtp=ServerSettings(preset.smtp_host, preset.smtp_port, preset.smtp_security),
        login=preset.login_for(email),
        detail=detail,
    )


def _from_config(email, domain, method, config, detail):
    config = config.filled(email)
    imap, smtp = config.imap[0], config.smtp[0]
    return Detection(
        email,
        domain,
        method,
        imap=ServerSettings(imap.host, imap.port, imap.security),
        smtp=ServerSettings(smtp.host, smtp.port, smtp.security),
        login=imap.username or email,
        detail=detail,
        provider_name=config.name,
        documentation=config.documentation,
    )


class _Lookups:
    """Lookups running at once in threads, each given the time left (capped
    at ``timeout``); results read by key. Nothing raises out of a lookup."""

    def __init__(self, deadline, timeout):
        self.deadline = deadline
        self.timeout = timeout
        self.pool = concurrent.futures.ThreadPoolExecutor(max_workers=16, thread_name_prefix="autodetect")
        self.futures = {}

    def start(self, key, function):
        budget = max(min(self.timeout, self.deadline - time.monotonic()), 0.05)
        self.futures[key] = self.pool.submit(_quiet, function, budget)

    def done(self, key):
        return key in self.futures and self.futures[key].done()

    def result(self, key):
        future = self.futures.get(key)
        return future.result() if future is not None and future.done() else None

    def until(self, decide, limit):
        """Call ``decide()`` after each answer until it is decided or ``limit``
        passes: ``(True, value)``, or ``(False, value)`` out of time."""
        limit = min(limit, self.deadline)
        while True:
            decided, value = decide()
            if decided:
                return True, value
            pending = [future for future in self.futures.values() if not future.done()]
            remaining = limit - time.monotonic()
            if not pending or remaining <= 0:
                return False, value
            concurrent.futures.wait(pending, timeout=remaining, return_when=concurrent.futures.FIRST_COMPLETED)

    def close(self):
        self.pool.shutdown(wait=False, cancel_futures=True)


def _quiet(function, budget):
    try:
        return function(budget)
    except Exception:  # noqa: BLE001 - one lookup failing only leaves its answer empty
        return None


def nameserver_resolver(nameserver):
    """A dnspython resolver asking only ``nameserver`` (``"host"`` or ``"host:port"``).

    :raises ValueError: the port is not a number
    """
    host, _sep, port = nameserver.strip().partition(":")
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [host]
    resolver.port = int(port or 53)
    return resolver


def _system_resolver():
    try:
        return dns.resolver.Resolver()
    except (dns.exception.DNSException, OSError):
        return None  # no resolver configuration: every DNS step is skipped


def _match_mx(mx_hosts, presets):
    """The preset of the most preferred MX host any preset recognises.

    When several presets match one host, the most specific pattern wins
    (``*.olc.protection.outlook.com`` before ``*.protection.outlook.com``).
    """
    for host in mx_hosts:
        best = None
        for preset in presets:
            if not preset.has_servers:
                continue
            pattern = preset.matches_mx(host)
            if pattern and (best is None or pattern_specificity(pattern) > pattern_specificity(best[1])):
                best = (preset, pattern)
        if best:
            return best[0], host
    return None


class _Dns:
    """DNS queries with a lifetime each; after a timeout, no more queries."""

    def __init__(self, resolver, timeout):
        self.resolver = resolver
        self.timeout = timeout
        self.dead = resolver is None
        self.nxdomain = False

    def _query(self, qname, rdtype, timeout=None):
        if self.dead:
            return []
        try:
            return list(self.resolver.resolve(qname, rdtype, lifetime=timeout or self.timeout))
        except dns.resolver.NXDOMAIN:
            return []
        except dns.exception.Timeout:
            self.dead = True
            return []
        except dns.resolver.NoNameservers:
            # Every server failed (SERVFAIL, refused, unreachable): the next
            # query would most likely fail the same way, after as long.
            self.dead = True
            return []
        except (dns.exception.DNSException, OSError, ValueError):
            return []  # NoAnswer, a malformed reply, ...

    def mx_hosts(self, domain, timeout=None):
        """MX host names, most preferred first; sets ``nxdomain``."""
        if self.dead:
            return []
        try:
            answer = self.resolver.resolve(domain, "MX", lifetime=timeout or self.timeout)
        except dns.resolver.NXDOMAIN:
            self.nxdomain = True
            return []
        except (dns.exception.Timeout, dns.resolver.NoNameservers):
            self.dead = True
            return []
        except (dns.exception.DNSException, OSError, ValueError):
            return []
        records = sorted(answer, key=lambda rdata: rdata.preference)
        hosts = [rdata.exchange.to_text(omit_final_dot=True).lower() for rdata in records]
        return [host for host in hosts if host and host != "."]

    def srv_server(self, domain, protocol, rng=random, timeout=None):
        for service, security in SRV_SERVICES[protocol]:
            records = self._query(f"{service}.{domain}", "SRV", timeout)
            if not records:
                continue
            best = order_srv(records, rng)[0]
            target = best.target.to_text(omit_final_dot=True).lower()
            if not target or target == "." or best.port == 0:
                continue  # RFC 2782/6186: "." means the service is not offered
            return ServerSettings(target, best.port, security)
        return None

    def has_address(self, host, timeout=None):
        return any(self._query(host, rdtype, timeout) for rdtype in ("A", "AAAA"))


def order_srv(records, rng=random):
    """SRV records in the order RFC 2782 says to try them.

    Lowest priority first; within a priority, a weighted random order (a
    record with a larger weight comes first more often; weight 0 rarely).
    """
    ordered = []
    by_priority = {}
    for record in records:
        by_priority.setdefault(record.priority, []).append(record)
    for priority in sorted(by_priority):
        pending = sorted(by_priority[priority], key=lambda record: record.weight)  # weight 0 first, as the RFC says
        while pending:
            total = sum(record.weight for record in pending)
            pick = rng.randint(0, total) if total else 0
            running = 0
            for index, record in enumerate(pending):
                running += record.weight
                if running >= pick:
                    ordered.append(pending.pop(index))
                    break
    return ordered


class ConnectionProbe:
    """The default ``verify``: is there a mail server of that kind there?

    Opens a TCP connection, sets up TLS as ``security`` asks (verifying the
    certificate against ``host``), and reads the server's greeting; for
    STARTTLS it upgrades the connection first. It never signs in. Any
    failure or timeout is simply ``False``.
    """

    def __init__(self, timeout=3.0, cafile=None):
        self.timeout = timeout
        self.cafile = cafile

    def __call__(self, host, port, security, protocol):
        return probe(host, port, security, protocol, timeout=self.timeout, cafile=self.cafile)


def probe(host, port, security, protocol, timeout=3.0, cafile=None):
    """``True`` if an IMAP or SMTP server answers at ``host:port`` with ``security``."""
    security = Security(security)
    deadline = time.monotonic() + timeout
    try:
        context = tls_context(cafile)
        with socket.create_connection((host, port), timeout=timeout) as sock:
            if security is Security.SSL:
                with context.wrap_socket(sock, server_hostname=host) as tls:
                    return _greeted(_Lines(tls, deadline), protocol)
            lines = _Lines(sock, deadline)
            if not _greeted(lines, protocol):
                return False
            if security is Security.NONE:
                return True
            if not _starttls(lines, protocol):
                return False
            with context.wrap_socket(sock, server_hostname=host):
                return True  # the handshake (with certificate check) succeeded
    except (OSError, ssl.SSLError, ValueError, UnicodeError):
        return False


class _Lines:
    """Read CRLF-terminated lines from a socket, byte by byte (nothing is
    read past a line, so a STARTTLS upgrade starts on a clean socket)."""

    def __init__(self, sock, deadline):
        self.sock = sock
        self.deadline = deadline

    def readline(self):
        data = bytearray()
        while not data.endswith(b"\n"):
            remaining = self.deadline - time.monotonic()
            if remaining <= 0 or len(data) > _MAX_LINE:
                raise TimeoutError("no complete line in time")
            self.sock.settimeout(remaining)
            chunk = self.sock.recv(1)
            if not chunk:
                raise ConnectionError("connection closed")
            data += chunk
        return bytes(data).rstrip(b"\r\n")

    def send(self, data):
        self.sock.settimeout(max(self.deadline - time.monotonic(), 0.001))
        self.sock.sendall(data)


def _greeted(lines, protocol):
    if protocol == IMAP:
        line = lines.readline()
        return line.startswith((b"* OK", b"* PREAUTH"))
    if protocol == SMTP:
        return _smtp_reply(lines)[0] == 220
    raise ValueError(f"unknown protocol {protocol!r}")


def _smtp_reply(lines):
    """``(code, [lines])`` of one (possibly multi-line) SMTP reply."""
    texts = []
    while True:
        line = lines.readline()
        if len(line) < 3 or not line[:3].isdigit():
            return 0, texts
        texts.append(line[4:].decode("ascii", "replace"))
        if line[3:4] != b"-":
            return int(line[:3]), texts


def _starttls(lines, protocol):
    if protocol == IMAP:
        lines.send(b"p1 STARTTLS\r\n")
        while True:
            line = lines.readline()
            if line.startswith(b"p1 "):
                return line.startswith(b"p1 OK")
    lines.send(b"EHLO autodetect.invalid\r\n")
    code, extensions = _smtp_reply(lines)
    if code != 250 or not any(ext.upper().startswith("STARTTLS") for ext in extensions):
        return False
    lines.send(b"STARTTLS\r\n")
    return _smtp_reply(lines)[0] == 220


__all__ = [
    "DETECTION_BUDGET",
    "METHODS",
    "NOT_DETECTED",
    "PROBE_PORTS",
    "SOURCES",
    "ConnectionProbe",
    "Detection",
    "InvalidEmailAddress",
    "ServerSettings",
    "detect",
    "order_srv",
    "parse_address",
    "probe",
]
