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

import dataclasses
import random
import socket
import ssl
import time

import dns.exception
import dns.resolver

from .errors import MailSyncError
from .presets import pattern_specificity
from .security import Security, tls_context

IMAP = "IMAP"
SMTP = "SMTP"

METHODS = ("domain", "mx", "srv", "guess", "none")
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

    @property
    def found(self):
        return self.method != "none"

    @property
    def message(self):
        if not self.found:
            return NOT_DETECTED
        what = self.preset.name if self.preset else "the mail servers"
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


def detect(email, presets, resolver=None, verify=None, timeout=3.0):
    """Detect the servers of ``email``; return a :class:`Detection`.

    :param presets: :class:`mailsync.presets.Preset` objects
    :param resolver: an object with ``resolve(qname, rdtype, lifetime=...)``
        like ``dns.resolver.Resolver`` (default: the system's resolver)
    :param verify: ``verify(host, port, security, protocol) -> bool`` used to
        confirm a guessed server (default: :class:`ConnectionProbe`, a real
        TCP + TLS + greeting check)
    :param timeout: seconds allowed to each DNS query and each connection
    :raises InvalidEmailAddress: for a malformed address (nothing else:
        network failures only lead to the next step)
    """
    email, _local, domain = parse_address(email)
    presets = list(presets)

    # 1. The address's own domain.
    for preset in presets:
        if preset.has_servers and preset.serves_domain(domain):
            return _from_preset(email, domain, "domain", preset, f"{domain} is served by {preset.name}")

    if resolver is None:
        resolver = _system_resolver()
    dns_lookup = _Dns(resolver, timeout)

    # 2. MX hosts of a custom domain.
    mx_hosts = dns_lookup.mx_hosts(domain)
    if dns_lookup.nxdomain:
        return Detection(email, domain, "none", detail=f"the domain {domain} does not exist")
    match = _match_mx(mx_hosts, presets)
    if match:
        preset, host = match
        return _from_preset(email, domain, "mx", preset, f"mail exchanger {host}")

    # 3. RFC 6186 SRV records, then 4. verified guesses, protocol by protocol.
    found, how = {}, {}
    for protocol in (IMAP, SMTP):
        server = dns_lookup.srv_server(domain, protocol)
        if server:
            found[protocol], how[protocol] = server, "srv"
    missing = [protocol for protocol in (IMAP, SMTP) if protocol not in found]
    if missing and not dns_lookup.dead:
        if verify is None:
            verify = ConnectionProbe(timeout=timeout)
        for protocol in missing:
            server = _guess(domain, protocol, dns_lookup, verify)
            if server:
                found[protocol], how[protocol] = server, "guess"

    imap, smtp = found.get(IMAP), found.get(SMTP)
    detail = ", ".join(f"{protocol} by {how[protocol]}" for protocol in (IMAP, SMTP) if protocol in how)
    if imap and smtp:
        method = "srv" if "srv" in how.values() else "guess"
        return Detection(email, domain, method, imap=imap, smtp=smtp, login=email, detail=detail)
    if dns_lookup.dead:
        detail = "; ".join(filter(None, [detail, "DNS did not answer in time"]))
    return Detection(email, domain, "none", imap=imap, smtp=smtp, login=email, detail=detail)


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


def _guess(domain, protocol, dns_lookup, verify):
    tried = {}
    for prefix, port, security in GUESSES[protocol]:
        host = f"{prefix}.{domain}"
        if host not in tried:
            tried[host] = dns_lookup.has_address(host)
        if not tried[host] or dns_lookup.dead:
            continue
        try:
            ok = verify(host, port, security, protocol)
        except Exception:  # noqa: BLE001 - an injected check failing is a "no", not a crash
            ok = False
        if ok:
            return ServerSettings(host, port, security)
    return None


class _Dns:
    """DNS queries with a lifetime each; after a timeout, no more queries."""

    def __init__(self, resolver, timeout):
        self.resolver = resolver
        self.timeout = timeout
        self.dead = resolver is None
        self.nxdomain = False

    def _query(self, qname, rdtype):
        if self.dead:
            return []
        try:
            return list(self.resolver.resolve(qname, rdtype, lifetime=self.timeout))
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

    def mx_hosts(self, domain):
        """MX host names, most preferred first; sets ``nxdomain``."""
        if self.dead:
            return []
        try:
            answer = self.resolver.resolve(domain, "MX", lifetime=self.timeout)
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

    def srv_server(self, domain, protocol, rng=random):
        for service, security in SRV_SERVICES[protocol]:
            records = self._query(f"{service}.{domain}", "SRV")
            if not records:
                continue
            best = order_srv(records, rng)[0]
            target = best.target.to_text(omit_final_dot=True).lower()
            if not target or target == "." or best.port == 0:
                continue  # RFC 2782/6186: "." means the service is not offered
            return ServerSettings(target, best.port, security)
        return None

    def has_address(self, host):
        return any(self._query(host, rdtype) for rdtype in ("A", "AAAA"))


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
    "METHODS",
    "NOT_DETECTED",
    "ConnectionProbe",
    "Detection",
    "InvalidEmailAddress",
    "ServerSettings",
    "detect",
    "order_srv",
    "parse_address",
    "probe",
]
