"""Read a raw email into what the CRM stores.

The sync hands raw bytes: first only the header block of each new message
(to decide, with :func:`parse_headers`, whether it concerns a CRM record),
then the whole message of those that do (:func:`parse_message`). Nothing here
raises on malformed mail: a broken header or charset gives a best-effort
value, never a lost message. HTML is returned as sent; the Odoo side cleans it
with Odoo's own sanitizer before storing it.
"""

import dataclasses
import datetime
import email
import email.policy
import hashlib
import html
import html.parser
import re
from email.header import decode_header, make_header
from email.utils import parsedate_to_datetime

from .addresses import parse_header_addresses

_POLICY = email.policy.compat32  # the most tolerant parser: we decode headers ourselves
_MSGID = re.compile(r"<[^<>\s]+>")
_SPACES = re.compile(r"\s+")
# Reply and forward prefixes in the languages of our users and their customers.
_PREFIX = re.compile(
    r"^\s*(?:(?:re|aw|sv|vs|antw|fwd?|tr|rv|wg|enc|res|r[ée]f|doorst)\s*(?:\[\d+\]|\(\d+\))?\s*[:\uff1a]\s*)+",
    re.IGNORECASE,
)


def _decode(value):
    """A header value as text, RFC 2047 words decoded, whitespace collapsed."""
    if value is None:
        return ""
    if isinstance(value, email.header.Header):
        value = _raw_header_value(value)
    try:
        text = str(make_header(decode_header(value)))
    except (UnicodeError, LookupError, ValueError, email.errors.HeaderParseError):
        text = value if isinstance(value, str) else str(value)
    return _SPACES.sub(" ", text).strip()


def _raw_header(message, name):
    value = message.get(name)
    return "" if value is None else _raw_header_value(value)


def _raw_header_value(value):
    if isinstance(value, email.header.Header):  # raw 8-bit bytes in the header: UTF-8, else Latin-1
        return "".join(
            chunk if isinstance(chunk, str) else _bytes_text(chunk) for chunk, _charset in decode_header(value)
        )
    return str(value)


def _bytes_text(data):
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def normalize_message_id(value):
    """``"<id@host>"`` from a Message-ID-like value, or ``""``."""
    value = _decode(value)
    match = _MSGID.search(value)
    if match:
        return match.group(0)
    value = value.strip().strip("<>").strip()
    return f"<{value}>" if value and " " not in value and "@" in value else ""


def _message_ids(value):
    seen, result = set(), []
    for found in _MSGID.findall(_decode(value)):
        if found not in seen:
            seen.add(found)
            result.append(found)
    return tuple(result)


@dataclasses.dataclass(frozen=True)
class Headers:
    message_id: str
    identity: str
    subject: str
    date: datetime.datetime | None
    sender: tuple
    to: tuple
    cc: tuple
    bcc: tuple
    in_reply_to: str
    references: tuple

    def participants(self):
        return {key for _name, key in (*self.sender, *self.to, *self.cc, *self.bcc)}

    def thread_ids(self):
        ids = list(self.references)
        if self.in_reply_to and self.in_reply_to not in ids:
            ids.append(self.in_reply_to)
        return tuple(ids)


def _parse_date(value):
    value = _decode(value)
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.UTC)
    return parsed.astimezone(datetime.UTC)


def _identity(message_id, message, raw):
    if message_id:
        return message_id
    canonical = "\n".join(_raw_header(message, name) for name in ("Date", "From", "To", "Cc", "Subject"))
    digest = hashlib.sha256(canonical.encode("utf-8", "replace"))
    if not canonical.strip():
        digest.update(raw[:4096])
    return "sha256:" + digest.hexdigest()


def _headers_of(message, raw):
    def addresses(name):
        values = message.get_all(name) or []
        # Display names stay encoded until addresses are split (addresses.py decodes them).
        return tuple(parse_header_addresses(*[_raw_header_value(value) for value in values]))

    message_id = normalize_message_id(_raw_header(message, "Message-ID"))
    return Headers(
        message_id=message_id,
        identity=_identity(message_id, message, raw),
        subject=_decode(message.get("Subject")),
        date=_parse_date(_raw_header(message, "Date")),
        sender=addresses("From")[:1],
        to=addresses("To"),
        cc=addresses("Cc"),
        bcc=addresses("Bcc"),
        in_reply_to=normalize_message_id(_raw_header(message, "In-Reply-To")),
        references=_message_ids(_raw_header(message, "References")),
    )


def parse_headers(raw):
    """:class:`Headers` of a header block or a whole message (bytes)."""
    message = email.message_from_bytes(raw or b"", policy=_POLICY)
    return _headers_of(message, raw or b"")


@dataclasses.dataclass(frozen=True)
class Attachment:
    filename: str
    mimetype: str
    content: bytes
    content_id: str = ""


@dataclasses.dataclass(frozen=True)
class SkippedAttachment:
    filename: str
    mimetype: str
    size: int


@dataclasses.dataclass(frozen=True)
class Content:
    headers: Headers
    html: str = ""
    text: str = ""
    attachments: tuple = ()
    skipped: tuple = ()

    def body_text(self):
        return self.text.strip() if self.text.strip() else html_to_text(self.html)


def _part_text(part):
    payload = part.get_payload(decode=True) or b""
    for charset in (part.get_content_charset(), "utf-8", "latin-1"):
        if not charset:
            continue
        try:
            return payload.decode(charset)
        except (LookupError, UnicodeDecodeError):
            continue
    return payload.decode("utf-8", "replace")


def _filename(part):
    name = part.get_filename()
    return _decode(name) if name else ""


def parse_message(raw, max_attachment_bytes=25 * 1024 * 1024):
    """:class:`Content` of a whole message (bytes)."""
    raw = raw or b""
    message = email.message_from_bytes(raw, policy=_POLICY)
    headers = _headers_of(message, raw)
    html_parts, text_parts, attachments, skipped = [], [], [], []

    def walk(part):
        content_type = part.get_content_type()
        disposition = (part.get("Content-Disposition") or "").split(";")[0].strip().lower()
        if content_type == "message/rfc822":
            inner = part.get_payload()
            inner = inner[0] if isinstance(inner, list) and inner else inner
            data = inner.as_bytes() if hasattr(inner, "as_bytes") else bytes(str(inner), "utf-8", "replace")
            subject = _decode(inner.get("Subject")) if hasattr(inner, "get") else ""
            name = _filename(part) or f"{subject or 'message'}.eml"
            _attach(name, "message/rfc822", data, "")
            return
        if part.is_multipart():
            for sub in part.get_payload():
                walk(sub)
            return
        name = _filename(part)
        if content_type in ("text/plain", "text/html") and disposition != "attachment" and not name:
            (html_parts if content_type == "text/html" else text_parts).append(_part_text(part))
            return
        data = part.get_payload(decode=True) or b""
        content_id = (part.get("Content-ID") or "").strip().strip("<>")
        _attach(name or _default_name(content_type), content_type, data, content_id)

    def _attach(name, mimetype, data, content_id):
        if len(data) > max_attachment_bytes:
            skipped.append(SkippedAttachment(name, mimetype, len(data)))
        else:
            attachments.append(Attachment(name, mimetype, data, content_id))

    try:
        walk(message)
    except Exception:  # noqa: BLE001 - a broken MIME tree keeps what was read
        if not (html_parts or text_parts):
            text_parts.append(raw.decode("utf-8", "replace"))
    return Content(
        headers=headers,
        html="\n".join(html_parts),
        text="\n".join(text_parts),
        attachments=tuple(attachments),
        skipped=tuple(skipped),
    )


def _default_name(content_type):
    main, _slash, sub = content_type.partition("/")
    return f"{main or 'file'}.{sub or 'bin'}"


def clean_subject(subject):
    """The subject without reply and forward prefixes (Re:, Fwd:, TR:, RV:, AW:, ...)."""
    return _PREFIX.sub("", _decode(subject or "")).strip()


class _TextExtractor(html.parser.HTMLParser):
    _BREAKS = {"br", "p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "table"}
    _HIDDEN = {"script", "style", "head", "title"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts, self.hidden = [], 0

    def handle_starttag(self, tag, attrs):
        if tag in self._HIDDEN:
            self.hidden += 1
        elif tag in self._BREAKS:
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag in self._HIDDEN:
            self.hidden = max(0, self.hidden - 1)
        elif tag in self._BREAKS:
            self.parts.append("\n")

    def handle_data(self, data):
        if not self.hidden:
            self.parts.append(data)


def html_to_text(markup):
    """Readable plain text of an HTML body: no scripts or styles, paragraph breaks kept."""
    if not markup:
        return ""
    parser = _TextExtractor()
    parser.feed(markup)
    parser.close()
    lines = [_SPACES.sub(" ", line).strip() for line in "".join(parser.parts).splitlines()]
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip()
