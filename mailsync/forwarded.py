"""The original message inside a forwarded email.

A salesperson forwards a customer's email to the logging address: what is
logged is the customer's message, with its own sender, recipients and date.
Two shapes are read, never raising on what strangers send:

- a forward *as attachment*: a ``message/rfc822`` part (RFC 2046 5.2.1),
  which :func:`mailsync.message.parse_message` keeps as an ``.eml``
  attachment: the first one is the original;
- an *inline* forward: the original's header lines quoted in the text after
  the separator the common clients write, in English, French and Spanish:
  Gmail (``---------- Forwarded message ---------``), Outlook
  (``-----Original Message-----``, or a rule ``________`` followed by
  ``From:``/``Sent:``), Apple Mail (``Begin forwarded message:``) and
  Thunderbird (``-------- Forwarded Message --------``). Its header lines
  (From, To, Cc, Date/Sent, Subject and their French and Spanish labels)
  become the original's headers, the text after them its body; the
  forward's attachments are the original's. Outlook's plain-text part may
  have no separator at all: a block of ``From:``, ``Sent:``/``Date:`` and
  ``Subject:`` lines is then taken as the original's headers. An HTML-only
  forward is read as its text (Thunderbird's header table included).

**Identity of an inline original.** The forward does not show the
original's Message-ID, the key a mailbox logs it under. What the forward
does show, and what the original's own headers give the same way, is its
sender's address, its date and its subject: :func:`forward_key` hashes
those three, and the inline original's identity is ``inline:<that key>``
(:data:`INLINE`). The Odoo side stores the key of every logged email, so
that the original logged from a mailbox and the same original forwarded
inline stay one entry, whichever comes first. Its limits, honestly:

- the date is compared to the minute: Gmail and Outlook show no seconds;
- Gmail and Outlook show the date in the forwarder's time zone without
  saying which: it is read in ``zone`` (the forwarder's time zone, from
  their preferences); a forward shown in another zone (a laptop abroad)
  does not match, and the two entries stay apart;
- dates are read in English and in numeric forms (``dateutil``); a date
  written with French or Spanish month or day names it cannot read makes
  the forward's own date the original's, and no key (no match);
- the recipients are not in the key: Outlook shows names without
  addresses. Two messages from one sender with one subject in the same
  minute are taken for one (for the same owner only);
- a subject or sender the forwarding client rewrote (a display name
  instead of the address) gives another key, or none.
"""

import dataclasses
import datetime
import email.utils
import functools
import hashlib
import re
from email.header import Header

from dateutil import parser as date_parser

from . import message

_MARKERS = re.compile(
    r"^[ \t>]*(?:"
    r"-{2,}\s*(?:forwarded message|original message|message transf[ée]r[ée]|message d'origine|"
    r"mensaje reenviado|mensaje original)\s*-{2,}"
    r"|begin forwarded message\s*:|d[ée]but du message r[ée]exp[ée]di[ée]\s*:|"
    r"comienzo del mensaje reenviado\s*:"
    r"|_{10,}"
    r")[ \t]*$",
    re.IGNORECASE | re.MULTILINE,
)
_LABELS = {
    "from": ("from", "de", "von"),
    "to": ("to", "à", "a", "para", "an"),
    "cc": ("cc",),
    "date": ("date", "sent", "envoyé", "envoye", "enviado", "enviada", "fecha", "datum", "gesendet"),
    "subject": ("subject", "objet", "asunto", "betreff"),
}
_LABEL_OF = {label: key for key, labels in _LABELS.items() for label in labels}
_HEADER_LINE = re.compile(r"^[ \t>*]*([^\s:*][^:*]{0,20}?)[ \t\u00a0]*\*?:\*?[ \t\u00a0]*(.*)$")
_MAILTO = re.compile(r"<mailto:[^<>]*>", re.IGNORECASE)
_BRACKETED_MAILTO = re.compile(r"\[mailto:([^\]\s]+)\]", re.IGNORECASE)
_GMT_OFFSET = re.compile(r"\b(?:GMT|UTC)\s*([+-])(\d{1,2})(?::?(\d{2}))?\b")
_MAX_HEADER_LINES = 40
# Outlook's plain-text part of a forward: the original's header block, no separator line.
_BARE_FROM = re.compile(r"^[ \t>*]*(?:from|de|von)[ \t\u00a0]*\*?:", re.IGNORECASE | re.MULTILINE)
_SPACES = re.compile(r"\s+")
#: Prefix of the identity of an original read from an inline forward.
INLINE = "inline:"


@dataclasses.dataclass(frozen=True)
class Forwarded:
    """What a forward carried: ``content`` (:class:`mailsync.message.Content`
    of the original), ``shape``: ``"attachment"`` or ``"inline"``, and
    ``key``: the original's :func:`forward_key` (``""`` when its sender or
    date is unknown)."""

    content: message.Content
    shape: str
    key: str = ""


def forward_key(sender, subject, date):
    """The key of a message as a forward shows it: SHA-256 (hex) of its
    sender's address (a matching key, ``mailsync.addresses.normalize``), its
    date to the minute in UTC and its subject (case and spaces folded); ``""``
    without a sender or a date. The same for the original read from a
    mailbox and read from an inline forward (see the module's limits).

    :param sender: str or None
    :param subject: str or None
    :param date: an aware datetime, or None
    """
    if not sender or not date:
        return ""
    minute = date.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M")
    subject = _SPACES.sub(" ", subject or "").strip().casefold()
    return hashlib.sha256(f"{sender}\n{minute}\n{subject}".encode("utf-8", "replace")).hexdigest()


def headers_key(headers):
    """:func:`forward_key` of :class:`mailsync.message.Headers`."""
    sender = headers.sender[0][1] if headers.sender else None
    return forward_key(sender, headers.subject, headers.date)


def original(content, max_attachment_bytes=25 * 1024 * 1024, fallback_date=None, zone=None):
    """The original message of a forward, or None when ``content`` (the
    forward's :class:`mailsync.message.Content`) carries none.

    :param fallback_date: an aware datetime used when an inline forward's
        date cannot be read (e.g. the forward's own date); such an original
        gets no key
    :param zone: a ``tzinfo`` for an inline date shown without its zone
        (Gmail, Outlook): the forwarder's time zone; UTC if None
    :returns: :class:`Forwarded`; never raises
    """
    try:
        for attachment in content.attachments:
            if attachment.mimetype == "message/rfc822" and attachment.content:
                inner = message.parse_message(attachment.content, max_attachment_bytes=max_attachment_bytes)
                if inner.headers.sender:
                    return Forwarded(inner, "attachment", headers_key(inner.headers))
        return _inline(content, fallback_date, zone)
    except Exception:  # noqa: BLE001 - mail from strangers: not a forward we can read
        return None


def _blocks(text):
    """``(headers, body)`` candidates of the quoted original in ``text``:
    after each separator line, else after a bare From/Sent/Subject block."""
    found = False
    for marker in _MARKERS.finditer(text):
        headers, body = _header_lines(text[marker.end() :])
        if headers.get("from"):
            found = True
            yield headers, body
    if found:
        return
    for start in _BARE_FROM.finditer(text):
        headers, body = _header_lines(text[start.start() :])
        if headers.get("from") and headers.get("date") and "subject" in headers:
            yield headers, body


def _inline(content, fallback_date, zone):
    text = content.text.strip() if content.text.strip() else _html_text(content.html)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    for headers, body in _blocks(text):
        date = parse_date(headers.get("date"), zone)
        raw = _synthesize(headers, body, date or fallback_date)
        inner = message.parse_message(raw)
        if not inner.headers.sender:
            continue
        attachments = tuple(a for a in content.attachments if a.mimetype != "message/rfc822")
        inner = dataclasses.replace(inner, attachments=attachments)
        key = headers_key(inner.headers) if date else ""
        if key:
            inner = dataclasses.replace(inner, headers=dataclasses.replace(inner.headers, identity=INLINE + key))
        return Forwarded(inner, "inline", key)
    return None


class _Text(message.HtmlTextParser):
    """Text of HTML as a browser lays it out: white space collapsed, a line
    per block or table row (adjacent block edges make one line break, a
    ``<br>`` always one), table cells side by side."""

    _BLOCKS = {"p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "table", "hr"}

    def __init__(self):
        super().__init__()
        self.line_start = True

    def _break(self, always=False):
        if always or not self.line_start:
            self.parts.append("\n")
        self.line_start = True

    def _open(self, tag):
        if tag == "br":
            self._break(always=True)
        elif tag in self._BLOCKS:
            self._break()
        elif tag in ("td", "th"):
            self.parts.append(" ")

    def _close(self, tag):
        if tag in self._BLOCKS:
            self._break()

    def _text(self, data):
        text = _SPACES.sub(" ", data)
        if text.strip():
            self.line_start = False
        self.parts.append(text)


def _html_text(markup):
    lines = [line.replace("\u00a0", " ").strip() for line in _Text.text_of(markup).split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _header_lines(text):
    """``({"from": ..., "date": ...}, body)`` of the quoted header block at
    the start of ``text`` (after blank lines), up to the first blank line."""
    lines = text.replace("\r\n", "\n").split("\n")
    index = 0
    while index < len(lines) and not lines[index].strip():
        index += 1
    headers, last = {}, None
    while index < len(lines) and index < _MAX_HEADER_LINES + 20:
        line = lines[index]
        if not line.strip().lstrip(">").strip():
            break
        match = _HEADER_LINE.match(line)
        key = _LABEL_OF.get(match.group(1).strip().lower()) if match else None
        if key and key not in headers:
            headers[key] = match.group(2).strip()
            last = key
        elif last and line[:1] in (" ", "\t") and headers:
            headers[last] += " " + line.strip()
        elif not headers:
            return {}, ""
        else:
            break
        index += 1
    return headers, "\n".join(line[1:].lstrip() if line.startswith(">") else line for line in lines[index:]).strip()


def _address_text(value):
    value = _MAILTO.sub("", value or "")
    return _BRACKETED_MAILTO.sub(r"<\1>", value).strip()


def parse_date(value, zone=None):
    """An aware UTC datetime of a date as mail clients quote it (RFC 5322,
    ``Mon, Jan 1, 2024 at 10:00 AM``, ``January 1, 2024 at 10:00:00 AM
    GMT+1``, ``Monday, January 1, 2024 10:00 AM``), or None. A date
    without a zone is taken in ``zone`` (a ``tzinfo``; UTC if None)."""
    value = " ".join((value or "").split())
    if not value:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        parsed = None
    if parsed is None:
        cleaned = re.sub(r"\s+(?:at|à|a las|um)\s+", " ", value, flags=re.IGNORECASE)

        def offset(match):
            return f"{match.group(1)}{int(match.group(2)):02d}{match.group(3) or '00'}"

        cleaned = _GMT_OFFSET.sub(offset, cleaned)
        try:
            parsed = date_parser.parse(cleaned, fuzzy=True, tzinfos=functools.partial(_zone_named, zone))
        except (ValueError, OverflowError, TypeError):
            return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone or datetime.UTC)
    parsed = parsed.astimezone(datetime.UTC)
    return parsed if 1970 <= parsed.year <= 2200 else None


def _zone_named(zone, name, offset):
    """dateutil's ``tzinfos``: UTC and GMT are UTC, a numeric offset is
    itself; another name (Apple Mail's CET, PST...: ambiguous abbreviations)
    is read as the forwarder's ``zone``, else UTC."""
    if offset is not None:
        return datetime.timezone(datetime.timedelta(seconds=offset))
    if (name or "").upper() in ("UTC", "GMT", "Z", "UT"):
        return datetime.UTC
    return zone or datetime.UTC


def _synthesize(headers, body, date):
    """A raw RFC 5322 message (bytes) of the quoted header lines and body,
    dated ``date`` (aware datetime, or None)."""

    def encoded(value):
        return Header(value, "utf-8", maxlinelen=998).encode() if not value.isascii() else value

    lines = [
        f"From: {encoded(_address_text(headers['from']))}",
        f"To: {encoded(_address_text(headers.get('to', '')))}",
    ]
    if headers.get("cc"):
        lines.append(f"Cc: {encoded(_address_text(headers['cc']))}")
    if headers.get("subject"):
        lines.append(f"Subject: {encoded(headers['subject'])}")
    if date:
        lines.append(f"Date: {email.utils.format_datetime(date)}")
    lines += ["MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: 8bit"]
    return ("\r\n".join(lines) + "\r\n\r\n" + body + "\r\n").encode("utf-8", "replace")
