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
  forward's attachments are the original's.
"""

import dataclasses
import datetime
import email.utils
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


@dataclasses.dataclass(frozen=True)
class Forwarded:
    """What a forward carried: ``content`` (:class:`mailsync.message.Content`
    of the original) and ``shape``: ``"attachment"`` or ``"inline"``."""

    content: message.Content
    shape: str


def original(content, max_attachment_bytes=25 * 1024 * 1024, fallback_date=None):
    """The original message of a forward, or None when ``content`` (the
    forward's :class:`mailsync.message.Content`) carries none.

    :param fallback_date: an aware datetime used when an inline forward's
        date cannot be read (e.g. the forward's own date)
    :returns: :class:`Forwarded`; never raises
    """
    try:
        for attachment in content.attachments:
            if attachment.mimetype == "message/rfc822" and attachment.content:
                inner = message.parse_message(attachment.content, max_attachment_bytes=max_attachment_bytes)
                if inner.headers.sender:
                    return Forwarded(inner, "attachment")
        return _inline(content, fallback_date)
    except Exception:  # noqa: BLE001 - mail from strangers: not a forward we can read
        return None


def _inline(content, fallback_date):
    text = content.body_text().replace("\r\n", "\n").replace("\r", "\n")
    for marker in _MARKERS.finditer(text):
        headers, body = _header_lines(text[marker.end() :])
        if headers.get("from"):
            raw = _synthesize(headers, body, fallback_date)
            inner = message.parse_message(raw)
            if not inner.headers.sender:
                continue
            attachments = tuple(a for a in content.attachments if a.mimetype != "message/rfc822")
            return Forwarded(dataclasses.replace(inner, attachments=attachments), "inline")
    return None


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


def parse_date(value):
    """An aware UTC datetime of a date as mail clients quote it (RFC 5322,
    ``Mon, Jan 1, 2024 at 10:00 AM``, ``January 1, 2024 at 10:00:00 AM
    GMT+1``, ``Monday, January 1, 2024 10:00 AM``), or None. A date
    without a zone is taken as UTC."""
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
            parsed = date_parser.parse(cleaned, fuzzy=True)
        except (ValueError, OverflowError, TypeError):
            return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.UTC)
    parsed = parsed.astimezone(datetime.UTC)
    return parsed if 1970 <= parsed.year <= 2200 else None


def _synthesize(headers, body, fallback_date):
    """A raw RFC 5322 message (bytes) of the quoted header lines and body."""

    def encoded(value):
        return Header(value, "utf-8", maxlinelen=998).encode() if not value.isascii() else value

    date = parse_date(headers.get("date")) or fallback_date
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
