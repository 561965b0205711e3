"""Email address normalisation and matching keys.

Messages are matched to contacts case-insensitively (local part included: a
product decision), with IDN domains in their ASCII (punycode) form so both
spellings of a domain give the same key.
"""

from email.header import decode_header, make_header
from email.utils import getaddresses, parseaddr

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
    domain = domain.strip().rstrip(".").lower()
    if not domain or any(not label for label in domain.split(".")):
        return None
    try:
        return domain.encode("idna").decode("ascii")
    except UnicodeError:
        return None


def normalize(address, keep_plus=True):
    """Return the matching key of ``address``, or None if it is not an address."""
    if not address or not isinstance(address, str):
        return None
    _name, addr = parseaddr(address.strip())
    addr = addr.strip()
    if not addr or any(ch.isspace() for ch in addr) or addr.count("@") != 1:
        return None
    local, domain = addr.rsplit("@", 1)
    local = local.lower()
    if not keep_plus:
        local = local.split("+", 1)[0]
    domain = _ascii_domain(domain)
    if not local or not domain:
        return None
    return f"{local}@{domain}"


def _decode_name(name):
    if not name:
        return ""
    try:
        return str(make_header(decode_header(name))).strip()
    except (UnicodeError, LookupError, ValueError):
        return name.strip()


def parse_header_addresses(*header_values, keep_plus=True):
    """Parse To/Cc/From values into ``[(display name, key)]``, de-duplicated in order."""
    result, seen = [], set()
    for name, addr in getaddresses([value for value in header_values if value]):
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

    def matches(self, address):
        key = normalize(address)
        if not key:
            return False
        local, domain = key.rsplit("@", 1)
        if key in self.addresses or local in self.locals or domain in self.domains:
            return True
        return any(domain == s or domain.endswith("." + s) for s in self.suffixes)
