"""Email address normalisation and matching keys.

Messages are matched to contacts case-insensitively (local part included: a
product decision), with IDN domains in their ASCII (punycode) form so both
spellings of a domain give the same key. Internationalised domains are mapped
as mail servers and browsers do: IDNA 2008 with the UTS #46 mapping (the
``idna`` package), so ``bücher.example``, ``BÜCHER.example`` and
``xn--bcher-kva.example`` give one key.
"""

import re
from email.errors import HeaderParseError
from email.header import decode_header, make_header
from email.utils import getaddresses, parseaddr

import idna

#: Longest matching key kept (RFC 5321 allows 64 + 1 + 255 octets; anything longer is not an address).
MAX_ADDRESS_LENGTH = 320
# C0/C1 controls and lone surrogates (undecodable bytes): never part of an address.
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")

#: Local parts of common automated senders, excluded by default.
DEFAULT_EXCLUSIONS = (
    "noreply@*",
    "no-reply@*",
    "do-not-reply@*",
    "donotreply@*",
    "mailer-daemon@*",
    "postmaster@*",
    "bounce@*",
    "bounces@*",
)


def _ascii_domain(domain):
    """ASCII (A-label) form of ``domain``, lower case, or None if it is not a domain.

    ASCII domains are only lower-cased (``xn--`` labels kept as written); others
    are mapped by UTS #46 and encoded by IDNA 2008 (``idna.encode(..., uts46=True)``),
    with Python's IDNA 2003 codec as a fallback for names IDNA 2008 refuses
    (symbols, emoji), so they still give a stable key.
    """
    domain = domain.strip().rstrip(".")
    if not domain or _CONTROLS.search(domain):
        return None
    if not domain.isascii():
        try:
            domain = idna.encode(domain, uts46=True).decode("ascii")
        except (idna.IDNAError, UnicodeError, ValueError):
            try:
                domain = domain.encode("idna").decode("ascii")
            except UnicodeError:
                return None
    domain = domain.lower()
    if any(not label for label in domain.split(".")):
        return None
    return domain


def normalize(address, keep_plus=True):
    """Return the matching key of ``address``, or None if it is not an address."""
    if not address or not isinstance(address, str):
        return None
    _name, addr = parseaddr(address.strip())
    addr = addr.strip()
    if not addr or any(ch.isspace() for ch in addr) or addr.count("@") != 1 or _CONTROLS.search(addr):
        return None
    local, domain = addr.rsplit("@", 1)
    local = local.lower()
    if not keep_plus:
        local = local.split("+", 1)[0]
    domain = _ascii_domain(domain)
    if not local or not domain or len(local) + len(domain) + 1 > MAX_ADDRESS_LENGTH:
        return None
    return f"{local}@{domain}"


def _decode_name(name):
    if not name:
        return ""
    try:
        return str(make_header(decode_header(name))).strip()
    except (UnicodeError, LookupError, ValueError, HeaderParseError):
        return name.strip()


def parse_header_addresses(*header_values, keep_plus=True):
    """Parse To/Cc/From values into ``[(display name, key)]``, de-duplicated in order.

    Never raises: a value that cannot be split gives no address.
    """
    result, seen = [], set()
    try:
        pairs = getaddresses([value for value in header_values if value])
    except (ValueError, TypeError, IndexError):  # defensive: getaddresses on hostile input
        return result
    for name, addr in pairs:
        key = normalize(addr, keep_plus=keep_plus)
        if key and key not in seen:
            seen.add(key)
            result.append((_decode_name(name), key))
    return result


def domain_of(address):
    """Return the ASCII domain of ``address``, or None."""
    key = normalize(address)
    return key.rsplit("@", 1)[1] if key else None


class Exclusions:
    """Addresses never synced: full addresses, ``local@*``, ``example.com``/``@example.com``, ``*.example.com``."""

    def __init__(self, entries=()):
        self.addresses, self.locals, self.domains, self.suffixes = set(), set(), set(), set()
        for entry in entries:
            entry = (entry or "").strip().lower()
            if not entry:
                continue
            if entry.endswith("@*"):
                self.locals.add(entry[:-2])
            elif entry.startswith("*."):
                domain = _ascii_domain(entry[2:])
                if domain:
                    self.suffixes.add(domain)
            elif entry.startswith("@") or "@" not in entry:
                domain = _ascii_domain(entry.lstrip("@"))
                if domain:
                    self.domains.add(domain)
            else:
                key = normalize(entry)
                if key:
                    self.addresses.add(key)

    def union(self, other):
        """A new :class:`Exclusions` matching what this one or ``other`` matches."""
        merged = Exclusions()
        for name in ("addresses", "locals", "domains", "suffixes"):
            setattr(merged, name, getattr(self, name) | getattr(other, name))
        return merged

    def matches(self, address):
        key = normalize(address)
        if not key:
            return False
        local, domain = key.rsplit("@", 1)
        if key in self.addresses or local in self.locals or domain in self.domains:
            return True
        return any(domain == s or domain.endswith("." + s) for s in self.suffixes)
