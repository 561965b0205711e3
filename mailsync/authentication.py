"""Was the sender of a received message authenticated by the receiving server?

The receiving mail server records what it checked (SPF, DKIM, DMARC) in an
``Authentication-Results`` header (RFC 8601), added on top of the message.
Anyone can write such a header into the message they send, so only the
topmost one whose authserv-id is the trusted receiving host's counts
(RFC 8601 section 5: a receiving host may have to delete forged ones, most do
not: the one it adds is above them). Headers are parsed with ``authres``.

The verdict (:func:`verdict`): ``"pass"``, ``"fail"`` or ``"none"`` (nothing
trusted to say). DMARC decides when the server evaluated it (RFC 7489:
``pass``; ``fail`` whatever the domain's policy); otherwise SPF and DKIM: a
pass of either passes, an SPF ``fail`` or a DKIM ``fail`` without any pass
fails. ``softfail``, ``neutral``, ``temperror``, ``permerror`` and
``policy`` say nothing.

Which authserv-ids are trusted (:func:`trusted_authserv_ids`): the ones
configured for the mailbox; else those of the provider (a few large
providers whose receiving hosts are named apart from their IMAP host, and
Microsoft 365, which writes no authserv-id at all); else any host of the
IMAP server's domain (``imap.example.com`` trusts ``mx.example.com``,
``example.com`` and their subdomains), the usual case of a company's own
Postfix with OpenDMARC. Nothing is trusted for an IP address.

Never raises on what a message contains.
"""

import contextlib
import ipaddress
import re

import authres

PASS, FAIL, NONE = "pass", "fail", "none"

# Microsoft 365 / Outlook.com write "Authentication-Results: spf=pass ...;
# dkim=...; dmarc=..." with no authserv-id (not RFC 8601). In a trusted list
# this stands for that header.
NO_AUTHSERV_ID = ""

# Providers whose receiving host is not in the IMAP server's domain: IMAP host
# suffix -> trusted authserv-ids (or domains: a trusted id also trusts its
# subdomains). Sources: the headers these providers add to received mail.
PROVIDER_AUTHSERV_IDS = {
    "gmail.com": ("mx.google.com",),
    "googlemail.com": ("mx.google.com",),
    "office365.com": (NO_AUTHSERV_ID,),
    "outlook.com": (NO_AUTHSERV_ID,),
    "hotmail.com": (NO_AUTHSERV_ID,),
    "me.com": ("icloud.com",),
    "icloud.com": ("icloud.com",),
    "zoho.com": ("zohomail.com", "zoho.com"),
    "zoho.eu": ("zohomail.eu", "zoho.eu"),
    "yahoo.com": ("yahoo.com",),
}
# Second-level labels under which a country code domain registers names (example.co.uk).
_SECOND_LEVEL = {"co", "com", "net", "org", "gov", "ac", "edu", "ne", "or", "gouv", "asso"}
MAX_HEADERS = 20  # Authentication-Results headers read per message, top first
MAX_HEADER_CHARS = 8192
_PSEUDO_ID = "no-authserv-id.invalid"
_SPACES = re.compile(r"\s+")


def _domain_of_host(host):
    """The registrable domain of a host name, without a public suffix list:
    its last two labels, or three under a country code's second level
    (``mail.example.co.uk`` -> ``example.co.uk``)."""
    labels = [label for label in host.lower().rstrip(".").split(".") if label]
    if len(labels) >= 3 and len(labels[-1]) == 2 and labels[-2] in _SECOND_LEVEL:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


def trusted_authserv_ids(imap_host, configured=None):
    """The authserv-ids whose ``Authentication-Results`` a mailbox trusts:
    ``configured`` (text, comma or space separated; ``-`` alone for
    Microsoft's header without an id) if given, else derived from
    ``imap_host`` (see the module's docstring). A tuple of lowercase names;
    ``""`` (:data:`NO_AUTHSERV_ID`) is Microsoft's nameless header."""
    if configured and configured.strip():
        ids = [word.strip().lower().rstrip(".") for word in re.split(r"[,\s]+", configured) if word.strip()]
        return tuple(NO_AUTHSERV_ID if word == "-" else word for word in ids)
    host = (imap_host or "").strip().lower().rstrip(".")
    if not host:
        return ()
    with contextlib.suppress(ValueError):  # not an IP address: a host name
        ipaddress.ip_address(host.strip("[]"))
        return ()
    for suffix, ids in PROVIDER_AUTHSERV_IDS.items():
        if host == suffix or host.endswith("." + suffix):
            return ids
    return (_domain_of_host(host),)


def _is_trusted(authserv_id, trusted):
    authserv_id = (authserv_id or "").lower().rstrip(".")
    for name in trusted:
        if name == NO_AUTHSERV_ID:
            if authserv_id == _PSEUDO_ID:
                return True
        elif authserv_id == name or authserv_id.endswith("." + name):
            return True
    return False


def _parse(value, nameless_allowed):
    """An ``authres.AuthenticationResultsHeader`` of one header value, or None."""
    value = _SPACES.sub(" ", str(value)[:MAX_HEADER_CHARS]).strip()
    candidates = [value, f"{_PSEUDO_ID}; {value}"] if nameless_allowed else [value]
    for candidate in candidates:
        try:
            return authres.AuthenticationResultsHeader.parse_value(candidate)
        except Exception:  # noqa: BLE001, S112 - authres raises its own SyntaxError and others on garbage
            continue
    return None


def trusted_results(values, trusted):
    """The results of the topmost ``Authentication-Results`` header (of
    ``values``, the raw header values top first) whose authserv-id is in
    ``trusted``: a list of ``authres`` results, or None when there is none.
    The headers below it (older, possibly written by the sender) are ignored."""
    nameless_allowed = NO_AUTHSERV_ID in trusted
    for value in list(values or ())[:MAX_HEADERS]:
        parsed = _parse(value, nameless_allowed)
        if parsed is not None and _is_trusted(parsed.authserv_id, trusted):
            return list(parsed.results)
    return None


def verdict(values, trusted):
    """``"pass"``, ``"fail"`` or ``"none"`` for the sender of a message whose
    ``Authentication-Results`` header values (top first) are ``values``, as
    the receiving host named in ``trusted`` (see :func:`trusted_authserv_ids`)
    found it. See the module's docstring for the rules."""
    results = trusted_results(values, trusted)
    if not results:
        return NONE
    by_method = {}
    for result in results:
        by_method.setdefault(str(result.method).lower(), []).append(str(result.result).lower())
    dmarc = by_method.get("dmarc", [])
    if PASS in dmarc:
        return PASS
    if FAIL in dmarc:
        return FAIL
    spf, dkim = by_method.get("spf", []), by_method.get("dkim", [])
    if PASS in spf or PASS in dkim:
        return PASS
    if FAIL in spf or FAIL in dkim:
        return FAIL
    return NONE
