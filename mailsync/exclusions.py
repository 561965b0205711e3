"""What is not logged by default: bulk and automated mail, role addresses,
calendar invitations; and the per-user blocklist.

Each rule can be turned off (the Odoo side passes the rules in force). The
header rules read only the header block the sync already fetched (IMAP
``BODY.PEEK[HEADER.FIELDS (...)]``, see :data:`HEADER_FIELDS`): no extra
round trip. A calendar invitation usually sits in a ``multipart/*`` message
(Google, Outlook), so :func:`is_calendar_invitation` also reads a whole
message once its body is downloaded.

Rules (``BULK``, ``ROLE``, ``CALENDAR``):

- ``BULK``: mailing lists and automated mail: ``List-Unsubscribe`` (RFC 2369,
  RFC 8058), ``List-Id`` (RFC 2919), ``Precedence: bulk``, ``list`` or
  ``junk`` (de-facto, cited by RFC 3834 section 2), ``Auto-Submitted`` other
  than ``no`` (RFC 3834 section 5: auto-replies, auto-generated);
- ``ROLE``: no-reply and role addresses (``info@``, ``support@``,
  ``noreply@``...): never a person to log mail on, as :data:`ROLE_LOCALS`;
- ``CALENDAR``: invitations and cancellations (iTIP, RFC 5546): a
  ``text/calendar`` part with ``METHOD:REQUEST`` or ``METHOD:CANCEL``.

Internal-only mail (colleagues and the mailbox's own addresses only) is never
logged: :func:`mailsync.matching.external_keys` finds no customer in it.

Nothing here raises on mail from strangers.
"""

import email.parser
import email.policy
import re

from .addresses import Exclusions, _ascii_domain, normalize
from .message import parse_tree

BULK = "bulk"
ROLE = "role"
CALENDAR = "calendar"
#: Every rule, all on by default.
RULES = (BULK, ROLE, CALENDAR)

#: Header fields the rules read, fetched with the sync's header block (kept small).
HEADER_FIELDS = (b"LIST-UNSUBSCRIBE", b"LIST-ID", b"PRECEDENCE", b"AUTO-SUBMITTED", b"CONTENT-TYPE")

#: Local parts of no-reply and role addresses (not a person's).
ROLE_LOCALS = frozenset(
    {
        "noreply",
        "no-reply",
        "no_reply",
        "donotreply",
        "do-not-reply",
        "do_not_reply",
        "mailer-daemon",
        "postmaster",
        "bounce",
        "bounces",
        "notifications",
        "notification",
        "notify",
        "newsletter",
        "news",
        "info",
        "contact",
        "hello",
        "support",
        "help",
        "helpdesk",
        "service",
        "admin",
        "office",
        "billing",
        "invoice",
        "invoices",
        "accounts",
        "accounting",
        "marketing",
        "webmaster",
        "alerts",
        "careers",
        "jobs",
        "press",
        # French and Spanish usual ones
        "ne-pas-repondre",
        "nepasrepondre",
        "facturation",
        "comptabilite",
        "no-responder",
        "noresponder",
        "facturacion",
        "soporte",
        "contacto",
        "informacion",
    }
)
_BULK_PRECEDENCE = {"bulk", "list", "junk"}
_METHOD = re.compile(rb"^METHOD:\s*(REQUEST|CANCEL)\s*$", re.IGNORECASE | re.MULTILINE)
_INVITATION_METHODS = {"request", "cancel"}
_HEADER_END = re.compile(rb"\r\n\r\n|\n\n")
_DOMAIN = re.compile(r"^[a-z0-9_-]+(\.[a-z0-9_-]+)+$")


def role_exclusions():
    """:class:`~mailsync.addresses.Exclusions` entries (``local@*``) of :data:`ROLE_LOCALS`."""
    return sorted(f"{local}@*" for local in ROLE_LOCALS)


def _head(raw):
    raw = bytes(raw or b"")
    end = _HEADER_END.search(raw)
    head = raw[: end.end()] if end else raw
    try:
        return email.parser.BytesParser(policy=email.policy.compat32).parsebytes(head, headersonly=True)
    except Exception:  # noqa: BLE001 - a header block from a stranger
        return None


def _value(message, name):
    try:
        value = message.get(name)
    except Exception:  # noqa: BLE001
        return ""
    return str(value or "").strip()


def header_reason(raw_headers, rules=RULES):
    """The rule (``BULK`` or ``CALENDAR``) that keeps a message out, read from
    its header block (bytes: the IMAP header fields or a whole message), or
    None. Only the rules in ``rules`` are applied. Never raises."""
    message = _head(raw_headers)
    if message is None:
        return None
    if BULK in rules:
        if _value(message, "List-Unsubscribe") or _value(message, "List-Id"):
            return BULK
        if _value(message, "Precedence").lower() in _BULK_PRECEDENCE:
            return BULK
        submitted = _value(message, "Auto-Submitted").split(";", 1)[0].strip().lower()
        if submitted and submitted != "no":
            return BULK
    if CALENDAR in rules:
        try:
            content_type = message.get_content_type()
            method = str(message.get_param("method", "") or "").lower()
        except Exception:  # noqa: BLE001
            content_type, method = "", ""
        if content_type == "text/calendar" and method in _INVITATION_METHODS:
            return CALENDAR
    return None


# "text/calendar" as a Content-Type may spell it (any case, spaces around the slash).
_CALENDAR_TYPE = re.compile(rb"text\s*/\s*calendar", re.IGNORECASE)


def is_calendar_invitation(raw):
    """Whether a whole message (bytes) is a calendar invitation or cancellation:
    a ``text/calendar`` part whose ``method`` parameter or ``METHOD`` property is
    REQUEST or CANCEL (RFC 5546 section 1.4). Never raises. The message is
    fed to the parser in pieces (:func:`mailsync.message.parse_tree`): a
    large one costs about its size, not several times it."""
    raw = bytes(raw or b"")
    if not _CALENDAR_TYPE.search(raw):
        return False  # no text/calendar part: no need to build the MIME tree
    try:
        message = parse_tree(raw, policy=email.policy.compat32)
        for part in message.walk():
            if part.get_content_type() != "text/calendar":
                continue
            if str(part.get_param("method", "") or "").lower() in _INVITATION_METHODS:
                return True
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes) and _METHOD.search(payload):
                return True
    except Exception:  # noqa: BLE001 - mail from strangers
        return False
    return False


def reason(raw, rules=RULES, role_addresses=None):
    """The rule that keeps a message (its header block or whole bytes) out, or
    None: the header rules, then ``ROLE`` for a no-reply or role sender
    (``role_addresses``: :class:`~mailsync.addresses.Exclusions`, default
    :data:`ROLE_LOCALS`). A convenience for callers with a whole message."""
    found = header_reason(raw, rules)
    if found:
        return found
    if CALENDAR in rules and is_calendar_invitation(raw):
        return CALENDAR
    if ROLE in rules:
        message = _head(raw)
        sender = normalize(_value(message, "From")) if message is not None else None
        roles = role_addresses or Exclusions(role_exclusions())
        if sender and roles.matches(sender):
            return ROLE
    return None


class Blocklist(Exclusions):
    """A user's blocked senders: ``address@domain``, ``domain`` (that domain
    only) or ``*.domain`` (the domain and its subdomains), as
    :class:`~mailsync.addresses.Exclusions` reads them."""

    @staticmethod
    def entry(value, kind):
        """The blocklist entry for ``value`` (an address or a domain) and
        ``kind`` (``address``, ``domain`` or ``subdomains``), or None when
        ``value`` is not one."""
        value = (value or "").strip()
        if not value or any(ch.isspace() for ch in value):
            return None
        if kind == "address":
            return normalize(value) if "@" in value else None
        domain = _ascii_domain(value.rsplit("@", 1)[-1].lstrip("*."))
        if not domain or "." not in domain or not _DOMAIN.match(domain):
            return None
        return f"*.{domain}" if kind == "subdomains" else domain
