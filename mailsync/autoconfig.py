"""Mozilla autoconfig files, Thunderbird's ISP database and Microsoft Autodiscover.

Three sources of a domain's mail servers, used by :func:`mailsync.autodetect.detect`:

- the domain's own **autoconfig** file (Mozilla autoconfig 1.1, served by cPanel,
  Plesk and many hosts), fetched from :attr:`Endpoints.autoconfig` (HTTPS) and
  :attr:`Endpoints.autoconfig_http` (plain HTTP, whose answer must then be
  confirmed by a real connection); format:
  https://wiki.mozilla.org/Thunderbird:Autoconfiguration:ConfigFileFormat
- Thunderbird's **ISP database** (github.com/thunderbird/autoconfig, MPL-2.0),
  imported into ``data/ispdb.json`` by ``scripts/refresh_ispdb.py``
  (:class:`Ispdb`); looked up offline, by the address's domain and by the
  domain of its MX host;
- Microsoft **Autodiscover v2** (the JSON endpoint): tells Microsoft 365 from an
  on-premises Exchange server and gives the EWS URL
  (https://learn.microsoft.com/exchange/client-developer/exchange-web-services/autodiscover-for-exchange).

Everything that comes from the network is untrusted: the XML is parsed by
``defusedxml`` with DTDs forbidden (no external entity, no entity expansion),
after a size check (:data:`MAX_BYTES`); JSON is size-checked too. Host names in
URLs are resolved through the caller's dnspython resolver (so tests never leave
127.0.0.1) and every request has a deadline. Nothing here imports Odoo.
"""

import contextlib
import dataclasses
import http.client
import ipaddress
import json
import os
import socket
import ssl
import time
import urllib.parse
from xml.etree.ElementTree import ParseError

import defusedxml
import defusedxml.ElementTree
import dns.exception
import dns.resolver

from .security import Security, tls_context

IMAP = "IMAP"
SMTP = "SMTP"

#: Largest autoconfig or Autodiscover answer read (bytes); anything bigger is refused.
MAX_BYTES = 1024 * 1024

#: The imported ISP database shipped with the addon.
DEFAULT_ISPDB_FILE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "ispdb.json")

_SOCKET_TYPES = {"ssl": Security.SSL, "tls": Security.SSL, "starttls": Security.STARTTLS, "plain": Security.NONE}
_RANK = {Security.SSL: 0, Security.STARTTLS: 1, Security.NONE: 2}
_USABLE_AUTH = {"password-cleartext", "plain", "password-encrypted", "secure", "oauth2", ""}
_MICROSOFT_365_HOSTS = ("outlook.office365.com", "outlook.office.com", "outlook.com", "office365.com")


class AutoconfigError(ValueError):
    """An autoconfig file or Autodiscover answer that cannot be used (why in the message)."""


@dataclasses.dataclass(frozen=True)
class Endpoints:
    """Where the network lookups go: URL templates with ``{domain}``,
    ``{email}`` (URL-encoded) and ``{local}`` placeholders.

    Defaults are the real services; tests point them at 127.0.0.1 (the port
    may be part of a template: ``https://autoconfig.{domain}:8443/...``).
    """

    autoconfig: tuple = (
        "https://autoconfig.{domain}/mail/config-v1.1.xml?emailaddress={email}",
        "https://{domain}/.well-known/autoconfig/mail/config-v1.1.xml",
    )
    autoconfig_http: tuple = (
        "http://autoconfig.{domain}/mail/config-v1.1.xml?emailaddress={email}",
        "http://{domain}/.well-known/autoconfig/mail/config-v1.1.xml",
    )
    #: Microsoft's own Autodiscover v2 (answers for every Microsoft 365 domain).
    autodiscover_microsoft: str = (
        "https://autodiscover-s.outlook.com/autodiscover/autodiscover.json/v1.0/{email}?Protocol=AutodiscoverV1"
    )
    #: The domain's own Autodiscover v2 (an Exchange server on premises), asked for EWS.
    autodiscover_domain: str = "https://autodiscover.{domain}/autodiscover/autodiscover.json/v1.0/{email}?Protocol=EWS"
    cafile: str | None = None  # CA bundle to trust instead of the system's (tests)

    def expand(self, template, email, domain):
        local = email.rsplit("@", 1)[0]
        return template.format(
            domain=domain, email=urllib.parse.quote(email, safe="@"), local=urllib.parse.quote(local, safe="")
        )


@dataclasses.dataclass(frozen=True)
class ConfigServer:
    """One ``incomingServer``/``outgoingServer`` entry (placeholders filled or not)."""

    protocol: str  # IMAP or SMTP
    host: str
    port: int
    security: Security
    username: str = "%EMAILADDRESS%"
    authentication: tuple = ()

    def to_json(self):
        return [self.host, self.port, self.security.value, self.username, list(self.authentication)]

    @classmethod
    def from_json(cls, protocol, row):
        host, port, security, username, authentication = row
        return cls(protocol, host, int(port), Security(security), username, tuple(authentication))


@dataclasses.dataclass(frozen=True)
class ClientConfig:
    """An ``emailProvider`` of a clientConfig file.

    ``imap`` and ``smtp`` are ranked best first (implicit TLS, then STARTTLS,
    then plain text, which is dropped whenever a TLS entry exists); POP3 and
    other protocols are left out. ``documentation`` is ``((url, description),
    ...)``; ``source`` says where the file came from.
    """

    provider_id: str
    name: str
    domains: tuple
    imap: tuple
    smtp: tuple
    documentation: tuple = ()
    source: str = ""

    @property
    def complete(self):
        return bool(self.imap and self.smtp)

    def filled(self, email):
        """This configuration with ``%EMAILADDRESS%``, ``%EMAILLOCALPART%``,
        ``%EMAILDOMAIN%`` replaced for ``email`` in host names and user names."""
        local, _sep, domain = email.rpartition("@")

        def fill(text):
            return (
                text.replace("%EMAILADDRESS%", email)
                .replace("%EMAILLOCALPART%", local)
                .replace("%EMAILDOMAIN%", domain)
                .replace("%EMAILHOSTNAME%", domain)
            )

        def servers(entries):
            return tuple(dataclasses.replace(s, host=fill(s.host).lower(), username=fill(s.username)) for s in entries)

        return dataclasses.replace(self, imap=servers(self.imap), smtp=servers(self.smtp))

    def to_json(self):
        return {
            "id": self.provider_id,
            "name": self.name,
            "domains": list(self.domains),
            "imap": [server.to_json() for server in self.imap],
            "smtp": [server.to_json() for server in self.smtp],
            "documentation": [list(doc) for doc in self.documentation],
        }

    @classmethod
    def from_json(cls, data, source=""):
        return cls(
            provider_id=data["id"],
            name=data["name"],
            domains=tuple(data["domains"]),
            imap=tuple(ConfigServer.from_json(IMAP, row) for row in data["imap"]),
            smtp=tuple(ConfigServer.from_json(SMTP, row) for row in data["smtp"]),
            documentation=tuple(tuple(doc) for doc in data.get("documentation", ())),
            source=source,
        )


def _text(element, name):
    child = element.find(name)
    return (child.text or "").strip() if child is not None and child.text else ""


def _server(element, protocol):
    host = _text(element, "hostname")
    port = _text(element, "port")
    socket_type = _text(element, "socketType").lower()
    if not host or not port.isdigit() or not (0 < int(port) < 65536) or socket_type not in _SOCKET_TYPES:
        return None
    if any(ch.isspace() or ch in "/@:?#" for ch in host):
        return None
    auth = tuple(a.text.strip() for a in element.findall("authentication") if a.text and a.text.strip())
    if auth and not any(a.lower() in _USABLE_AUTH for a in auth):
        return None  # only NTLM, GSSAPI, client certificates...: nothing we can sign in with
    return ConfigServer(
        protocol, host, int(port), _SOCKET_TYPES[socket_type], _text(element, "username") or "%EMAILADDRESS%", auth
    )


def rank(servers):
    """Best first: implicit TLS, then STARTTLS; plain text only when nothing else."""
    ordered = sorted(servers, key=lambda server: _RANK[server.security])
    if any(server.security is not Security.NONE for server in ordered):
        ordered = [server for server in ordered if server.security is not Security.NONE]
    unique = []
    for server in ordered:
        if (server.host, server.port, server.security) not in {(s.host, s.port, s.security) for s in unique}:
            unique.append(server)
    return tuple(unique)


def parse_config(data, source="", max_bytes=MAX_BYTES):
    """Parse a clientConfig document (bytes); return a :class:`ClientConfig`.

    :raises AutoconfigError: bigger than ``max_bytes``, not well-formed XML,
        a DTD or entity declaration (refused outright), or no ``emailProvider``.
    """
    if len(data) > max_bytes:
        raise AutoconfigError(f"larger than {max_bytes} bytes")
    try:
        root = defusedxml.ElementTree.fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except defusedxml.DefusedXmlException as exc:
        raise AutoconfigError(f"refused XML construct ({type(exc).__name__})") from None
    except (ParseError, ValueError) as exc:
        raise AutoconfigError(f"not well-formed XML ({exc})") from None
    if root.tag != "clientConfig":
        raise AutoconfigError(f"the root element is <{root.tag}>, not <clientConfig>")
    provider = root.find("emailProvider")
    if provider is None:
        raise AutoconfigError("no <emailProvider>")
    imap, smtp = [], []
    for element in provider.findall("incomingServer"):
        if (element.get("type") or "").lower() == "imap":
            server = _server(element, IMAP)
            if server:
                imap.append(server)
    for element in provider.findall("outgoingServer"):
        if (element.get("type") or "").lower() == "smtp":
            server = _server(element, SMTP)
            if server:
                smtp.append(server)
    documentation = []
    for doc in provider.findall("documentation"):
        url = (doc.get("url") or "").strip()
        if not url.startswith("https://") and not url.startswith("http://"):
            continue
        descriptions = doc.findall("descr")
        english = [d for d in descriptions if (d.get("lang") or "en").startswith("en")]
        text = ((english or descriptions)[0].text or "").strip() if descriptions else ""
        documentation.append((url, " ".join(text.split())[:300]))
    domains = tuple(
        d.text.strip().lower() for d in provider.findall("domain") if d.text and d.text.strip() and "%" not in d.text
    )
    return ClientConfig(
        provider_id=(provider.get("id") or "").strip().lower(),
        name=_text(provider, "displayName") or _text(provider, "displayShortName") or (provider.get("id") or ""),
        domains=domains,
        imap=rank(imap),
        smtp=rank(smtp),
        documentation=tuple(documentation),
        source=source,
    )


# -- HTTP with our own resolver and a deadline -------------------------------------


class FetchError(OSError):
    """An HTTP fetch that gave nothing usable (why in the message)."""


def resolve_host(host, resolver, timeout):
    """IP addresses of ``host`` (an IP literal is its own answer).

    :param resolver: a dnspython-style resolver, or None for the system's
    :raises FetchError: no address
    """
    with contextlib.suppress(ValueError):  # not an IP address: a host name to resolve
        return [str(ipaddress.ip_address(host.strip("[]")))]
    if resolver is None:
        try:
            infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            raise FetchError(f"{host}: {exc}") from None
        return [info[4][0] for info in infos]
    addresses = []
    for rdtype in ("A", "AAAA"):
        try:
            addresses += [rdata.to_text() for rdata in resolver.resolve(host, rdtype, lifetime=timeout)]
        except (dns.exception.DNSException, OSError, ValueError):
            continue
    if not addresses:
        raise FetchError(f"{host}: no address")
    return addresses


_REDIRECTS = (301, 302, 303, 307, 308)
MAX_REDIRECTS = 3


def http_get(url, *, resolver=None, timeout=3.0, cafile=None, max_bytes=MAX_BYTES, accept="*/*"):
    """GET ``url``; return ``(status, body bytes)``.

    HTTPS verifies the certificate against the URL's host name (system CAs,
    or ``cafile``). Redirects are followed up to :data:`MAX_REDIRECTS` times,
    never from HTTPS to plain HTTP (that answer is refused: it would lose what
    HTTPS vouches for). The whole exchange, redirects included, must end
    within ``timeout`` seconds.

    :raises FetchError: DNS, connection, TLS, timeout, a body larger than
        ``max_bytes``, or a redirect loop or downgrade
    """
    deadline = time.monotonic() + timeout
    for _hop in range(MAX_REDIRECTS + 1):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise FetchError(f"{url}: timed out")
        status, body, location = _http_get_once(url, resolver, remaining, cafile, max_bytes, accept)
        if status not in _REDIRECTS or not location:
            return status, body
        target = urllib.parse.urljoin(url, location)
        if urllib.parse.urlsplit(url).scheme == "https" and urllib.parse.urlsplit(target).scheme != "https":
            raise FetchError(f"{url}: redirected from HTTPS to {target!r}")
        url = target
    raise FetchError(f"{url}: more than {MAX_REDIRECTS} redirects")


def _http_get_once(url, resolver, timeout, cafile, max_bytes, accept):
    deadline = time.monotonic() + timeout
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FetchError(f"unsupported URL {url!r}")
    host = parts.hostname
    port = parts.port or (443 if parts.scheme == "https" else 80)
    addresses = resolve_host(host, resolver, timeout)
    last = None
    for address in addresses[:2]:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        try:
            return _get_from(address, host, port, parts, deadline, cafile, max_bytes, accept)
        except FetchError:
            raise
        except (OSError, ssl.SSLError, http.client.HTTPException, ValueError) as exc:
            last = exc
    raise FetchError(f"{url}: {last or 'timed out'}")


def _get_from(address, host, port, parts, deadline, cafile, max_bytes, accept):
    sock = socket.create_connection((address, port), timeout=max(deadline - time.monotonic(), 0.01))
    try:
        if parts.scheme == "https":
            sock = tls_context(cafile).wrap_socket(sock, server_hostname=host)
        connection = http.client.HTTPConnection(host, port, timeout=max(deadline - time.monotonic(), 0.01))
        connection.sock = sock
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        connection.request("GET", path, headers={"Accept": accept, "User-Agent": "crm_mail_sync autoconfig"})
        response = connection.getresponse()
        length = response.getheader("Content-Length")
        if length and length.isdigit() and int(length) > max_bytes:
            raise FetchError(f"{host}: answer larger than {max_bytes} bytes")
        body = bytearray()
        while len(body) <= max_bytes:
            if time.monotonic() >= deadline:
                raise FetchError(f"{host}: answer not complete in time")
            sock.settimeout(max(deadline - time.monotonic(), 0.01))
            chunk = response.read1(65536)
            if not chunk:
                break
            body += chunk
        if len(body) > max_bytes:
            raise FetchError(f"{host}: answer larger than {max_bytes} bytes")
        return response.status, bytes(body), response.getheader("Location")
    finally:
        sock.close()


def fetch_autoconfig(url, email, *, resolver=None, timeout=3.0, cafile=None):
    """Fetch and parse the autoconfig file at ``url``; return the filled
    :class:`ClientConfig`, or None when there is none or it is unusable."""
    try:
        status, body = http_get(url, resolver=resolver, timeout=timeout, cafile=cafile, accept="text/xml")
    except FetchError:
        return None
    if status != 200:
        return None
    try:
        config = parse_config(body, source=url.split("?", 1)[0])
    except AutoconfigError:
        return None
    return config.filled(email)


# -- Autodiscover v2 -------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Exchange:
    """What Autodiscover said: ``kind`` is ``microsoft365`` or ``on_premises``."""

    kind: str
    url: str  # the Autodiscover/EWS URL Microsoft's JSON gave
    ews_url: str = ""  # on premises: the EWS endpoint


def parse_autodiscover(body):
    """``(protocol, url)`` of an Autodiscover v2 answer, Microsoft's documented
    shape ``{"Protocol": "AutodiscoverV1", "Url": "https://..."}``.

    :raises AutoconfigError: not that shape, or not an https URL
    """
    if len(body) > 64 * 1024:
        raise AutoconfigError("Autodiscover answer too large")
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise AutoconfigError("Autodiscover answer is not JSON") from None
    if not isinstance(data, dict) or not isinstance(data.get("Url"), str):
        raise AutoconfigError("Autodiscover answer has no Url")
    url = data["Url"].strip()
    if urllib.parse.urlsplit(url).scheme != "https" or not urllib.parse.urlsplit(url).hostname:
        raise AutoconfigError("Autodiscover Url is not an https URL")
    return str(data.get("Protocol") or ""), url


def is_microsoft_365_url(url):
    host = (urllib.parse.urlsplit(url).hostname or "").lower()
    return any(host == name or host.endswith("." + name) for name in _MICROSOFT_365_HOSTS)


def _ask_autodiscover(url, *, resolver, timeout, cafile):
    """Autodiscover v2's answer at ``url``: ``(protocol, url)``, or ``("", "")``
    when the server does not answer 200 with a usable JSON answer."""
    try:
        status, body = http_get(url, resolver=resolver, timeout=timeout, cafile=cafile, accept="application/json")
        if status != 200:
            return "", ""
        return parse_autodiscover(body)
    except (FetchError, AutoconfigError):
        return "", ""


def autodiscover_microsoft(url, *, resolver=None, timeout=3.0, cafile=None):
    """Ask Microsoft's Autodiscover v2: an :class:`Exchange` of kind
    ``microsoft365`` when the mailbox is in Microsoft 365, else None."""
    _protocol, answer = _ask_autodiscover(url, resolver=resolver, timeout=timeout, cafile=cafile)
    return Exchange("microsoft365", answer) if answer and is_microsoft_365_url(answer) else None


def autodiscover_domain(url, *, resolver=None, timeout=3.0, cafile=None):
    """Ask the domain's own Autodiscover v2 for EWS: an :class:`Exchange`
    (``on_premises`` with its EWS URL, or ``microsoft365``), or None."""
    protocol, answer = _ask_autodiscover(url, resolver=resolver, timeout=timeout, cafile=cafile)
    if not answer:
        return None
    if is_microsoft_365_url(answer):
        return Exchange("microsoft365", answer)
    ews = answer if protocol.upper() == "EWS" or answer.lower().endswith("/ews/exchange.asmx") else ""
    return Exchange("on_premises", answer, ews_url=ews) if ews else None


# -- the ISP database ---------------------------------------------------------------


class Ispdb:
    """Thunderbird's ISP database, imported (``data/ispdb.json``).

    ``lookup(domain)`` answers the provider of a domain; ``lookup_mx(host)``
    the provider of an MX host's domain (``mx00.gmx.net`` -> ``gmx.net``), as
    Thunderbird does for hosted domains.
    """

    def __init__(self, providers=(), meta=None):
        self.providers = tuple(providers)
        self.meta = dict(meta or {})
        self._by_domain = {}
        for provider in self.providers:
            for domain in provider.domains:
                self._by_domain.setdefault(domain, provider)

    @classmethod
    def load(cls, path=DEFAULT_ISPDB_FILE):
        """Read an imported file; a missing file is an empty database.

        :raises AutoconfigError: the file exists but is not the expected JSON
        """
        try:
            with open(path, encoding="utf-8") as file:
                data = json.load(file)
        except FileNotFoundError:
            return cls()
        except (OSError, ValueError) as exc:
            raise AutoconfigError(f"{path}: {exc}") from None
        try:
            providers = [ClientConfig.from_json(item, source="ispdb") for item in data["providers"]]
        except (KeyError, TypeError, ValueError) as exc:
            raise AutoconfigError(f"{path}: malformed provider ({exc})") from None
        return cls(providers, {key: value for key, value in data.items() if key != "providers"})

    @property
    def domains(self):
        return tuple(self._by_domain)

    def lookup(self, domain):
        return self._by_domain.get(domain.lower().rstrip("."))

    def lookup_mx(self, host):
        """The provider of the domain of MX host ``host`` (its parent domains,
        longest first, down to two labels), or None."""
        labels = host.lower().rstrip(".").split(".")
        for start in range(1, len(labels) - 1):
            provider = self._by_domain.get(".".join(labels[start:]))
            if provider:
                return provider
        return None


_DEFAULT_ISPDB = None


def default_ispdb():
    """The shipped database, read once."""
    global _DEFAULT_ISPDB
    if _DEFAULT_ISPDB is None:
        _DEFAULT_ISPDB = Ispdb.load()
    return _DEFAULT_ISPDB


__all__ = [
    "MAX_BYTES",
    "AutoconfigError",
    "ClientConfig",
    "ConfigServer",
    "Endpoints",
    "Exchange",
    "FetchError",
    "Ispdb",
    "autodiscover_domain",
    "autodiscover_microsoft",
    "default_ispdb",
    "fetch_autoconfig",
    "http_get",
    "parse_autodiscover",
    "parse_config",
    "rank",
]
