"""Read a raw email into what the CRM stores.

The sync hands raw bytes: first only the header block of each new message
(to decide, with :func:`parse_headers`, whether it concerns a CRM record),
then the whole message of those that do (:func:`parse_message`). Nothing here
raises on malformed mail: a broken header or charset gives a best-effort
value, never a lost message. HTML is returned as sent; the Odoo side cleans it
with Odoo's own sanitizer before storing it.

Mail is read as mail clients read it:

- charset labels (RFC 2047 encoded words, RFC 2231 parameters, body parts) are
  resolved by the WHATWG Encoding Standard label table (``webencodings``), so
  ``gb2312`` reads GBK text, ``iso-8859-1`` and ``us-ascii`` read windows-1252,
  ``ks_c_5601-1987``, ``x-sjis``, ``x-cp1251``... resolve; labels it does not
  know fall back to Python's codecs (``utf-7``...). Bytes that do not decode
  with their label (or have none) are detected (``chardet``, shipped with
  Odoo), else read as UTF-8 with replacement characters;
- transfer encodings are read whatever their case and surrounding spaces
  (``base64 ``), quoted-printable tolerates trailing spaces (RFC 2045 6.7);
- ``multipart/*`` without a usable boundary is read as text, a forwarded
  message (``message/rfc822``, even base64-encoded) is kept as an ``.eml``;
- addresses hidden in an encoded word (``=?utf-8?B?...?=`` around
  ``Name <address>``) are found when the header gives none otherwise.

Every returned string is storable in PostgreSQL: no NUL, no C0/C1 control
character (bodies keep tab and line breaks), no lone surrogate. Identities
and Message-IDs are bounded (see :func:`bounded_message_id`), subjects and
names capped at :data:`MAX_TEXT_LENGTH` characters.
"""

import binascii
import codecs
import dataclasses
import datetime
import email
import email.errors
import email.feedparser
import email.message
import email.parser
import email.policy
import hashlib
import html
import html.parser
import re
from email.utils import getaddresses, parsedate_to_datetime

import chardet
import webencodings

from .addresses import normalize

#: Subjects and display names longer than this (characters) are cut, with an ellipsis.
MAX_TEXT_LENGTH = 2000
#: File names longer than this (characters) are cut, their extension kept.
MAX_FILENAME_LENGTH = 255
#: Message-IDs longer than this (UTF-8 bytes) are replaced by their hashed form.
MAX_MESSAGE_ID_BYTES = 900
#: Only the last ones of a longer References header are kept (the closest ancestors).
MAX_REFERENCES = 100
#: Characters of the raw body kept as text when the MIME tree cannot be read at all.
MAX_FALLBACK_TEXT = 100_000
#: Deeper MIME nesting than this is not read (its parts are dropped).
MAX_DEPTH = 100
_DETECT_BYTES = 16 * 1024  # sample of a body given to charset detection (chardet reads ~1 MB/s)
_DETECT_HEADER_BYTES = 2048  # ...of a header value
#: Bytes handed to the MIME parser at a time: the parser splits what it is fed into
#: line objects (about five times the bytes), so feeding a large message whole costs
#: several times its size at once.
_FEED_BYTES = 256 * 1024

_MSGID = re.compile(r"<[^<>\s]+>")
_SPACES = re.compile(r"\s+")
#: Characters of a subject or name header read (the text kept is cut at MAX_TEXT_LENGTH anyway).
MAX_HEADER_CHARS = 64 * 1024
# RFC 2047 encoded word; the charset may carry an RFC 2231 language tag (=?utf-8*en?q?...?=). The
# encoded text has no space; a "?" not followed by "=" is tolerated (sloppy Q encoders). It never
# runs over the start of another word ("=?" not closing it), so a long header of unterminated
# words is read in linear time.
_ENCODED_WORD = re.compile(r"=\?([^?\s]{0,64})\?([qQbB])\?((?:[^\s?=]|\?(?!=)|=(?!\?(?!=))){0,4000}+)\?=")
# Controls removed from header values (their tabs and line breaks become spaces first).
_HEADER_CONTROLS = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f]")
# Controls removed from bodies: all C0/C1 but tab, LF and CR.
_BODY_CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_SURROGATES = re.compile("[\ud800-\udfff]")
_TRAILING_SPACE = re.compile(rb"[ \t]+(?=\r?\n|$)")
_HEADER_END = re.compile(rb"\r\n\r\n|\n\n|\r\r|\n\r\n")
# Python codecs that are not text charsets, refused even when a label names them.
_NOT_CHARSETS = {"idna", "punycode", "raw-unicode-escape", "unicode-escape", "undefined", "x-user-defined"}
# Single-byte Cyrillic charsets, often confused with one another (koi8-r vs windows-1251).
_CYRILLIC = {"koi8-r", "koi8-u", "cp1251", "iso8859-5", "cp866", "mac-cyrillic"}
_FORWARDED = ("message/rfc822", "message/global")
# Reply and forward prefixes in the languages of our users and their customers.
_PREFIX = re.compile(
    r"^\s*(?:(?:re|aw|sv|vs|antw|fwd?|tr|rv|wg|enc|res|r[ée]f|doorst)\s*(?:\[\d+\]|\(\d+\))?\s*[:\uff1a]\s*)+",
    re.IGNORECASE,
)


class _RawHeaders(email.policy.Compat32):
    """The most tolerant parser (compat32), handing header values over raw.

    Values are ``str`` as parsed (8-bit bytes as surrogate escapes), never
    ``email.header.Header`` objects: :func:`_header_text` decodes them.
    """

    def header_fetch_parse(self, name, value):
        return value


_POLICY = _RawHeaders()


# -- charsets ----------------------------------------------------------------


def charset_codec(label):
    """Python codec name for a charset ``label`` (str), or None if none fits.

    WHATWG Encoding Standard labels first (``webencodings.lookup``; GBK is read
    with the gb18030 codec, its WHATWG decoder), then Python's own codec names
    for labels outside that table (``utf-7``, ``iso-2022-kr``...). An RFC 2231
    language suffix (``utf-8*en``) is ignored. Never raises.
    """
    if not isinstance(label, str):
        return None
    label = _SURROGATES.sub("", label).strip().strip("\"'").split("*", 1)[0].strip()
    if not label or not label.isascii():
        return None
    encoding = webencodings.lookup(label)
    if encoding is not None and encoding.name not in ("replacement", "x-user-defined"):
        name = encoding.codec_info.name
        return "gb18030" if name == "gbk" else name
    try:
        info = codecs.lookup(label)
    except (LookupError, ValueError, TypeError):
        return None
    if not getattr(info, "_is_text_encoding", True) or info.name in _NOT_CHARSETS:
        return None
    return info.name


def _detect(data, sample=_DETECT_BYTES):
    """Codec guessed for ``data`` (its first ``sample`` bytes) by ``chardet``: ``(codec, confidence)``."""
    try:
        guess = chardet.detect(data[:sample])
    except (ValueError, TypeError, LookupError, IndexError):
        return None, 0.0
    return charset_codec(guess.get("encoding")), guess.get("confidence") or 0.0


def _try_decode(data, codec):
    try:
        return data.decode(codec)
    except (UnicodeError, LookupError, ValueError, TypeError):
        return None


def decode_bytes(data, label=None, sample=_DETECT_BYTES):
    """``data`` (bytes) as text, read as a mail client would (never raises).

    With its ``label`` (:func:`charset_codec`) when the bytes decode with it (a
    single-byte Cyrillic label is checked against detection, the classic
    koi8-r / windows-1251 mix-up); else ASCII, UTF-8, the charset detected by
    ``chardet`` (from the first ``sample`` bytes); else the label, or UTF-8,
    with replacement characters. Control characters are not removed here.
    """
    data = bytes(data or b"")
    codec = charset_codec(label) if label else None
    if codec:
        text = _try_decode(data, codec)
        if text is not None:
            if codec in _CYRILLIC and not data.isascii():
                detected, confidence = _detect(data, sample)
                if detected in _CYRILLIC and detected != codec and confidence >= 0.9:
                    return _try_decode(data, detected) or text
            return text
    if data.isascii():
        return data.decode("ascii")
    text = _try_decode(data, "utf-8")
    if text is not None:
        return text
    detected, confidence = _detect(data, sample)
    if detected and confidence >= 0.5:
        text = _try_decode(data, detected)
        if text is not None:
            return text
    try:
        return data.decode(codec or "utf-8", "replace")
    except (UnicodeError, LookupError, ValueError, TypeError):
        return data.decode("utf-8", "replace")


def _raw_bytes(text):
    """Bytes of a parsed value: its 8-bit bytes (surrogate escapes) restored."""
    try:
        return text.encode("ascii", "surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogateescape" if not _SURROGATES.search(text) else "replace")


def _unescape_8bit(text, utf8=False):
    """A raw header value with its 8-bit bytes (UTF-8, else detected) decoded; encoded words kept.

    With ``utf8``, bytes that are not UTF-8 become replacement characters (addresses and ids: RFC 6532).
    """
    if text.isascii():
        return text
    if utf8:
        return _raw_bytes(text).decode("utf-8", "replace")
    return decode_bytes(_raw_bytes(text), sample=_DETECT_HEADER_BYTES)


# -- header values -------------------------------------------------------------


def _word_bytes(encoding, encoded):
    encoded = _raw_bytes(encoded)
    if encoding in "bB":
        letters = re.sub(rb"[^A-Za-z0-9+/]", b"", encoded)
        if len(letters) % 4 == 1:
            letters = letters[:-1]
        return binascii.a2b_base64(letters + b"=" * (-len(letters) % 4))
    return binascii.a2b_qp(encoded, header=True)


def decode_words(text):
    """``text`` with its RFC 2047 encoded words decoded (language tags accepted).

    Adjacent encoded words are joined (the space between them dropped) and
    their bytes decoded together, so a character split across two words reads
    whole. Each word's charset goes through :func:`decode_bytes`. Nothing else
    is changed; never raises.
    """
    if "=?" not in text:
        return text
    pieces, pos, last_word = [], 0, None  # pieces: [str] or [label, bytearray]
    for match in _ENCODED_WORD.finditer(text):
        between = text[pos : match.start()]
        pos = match.end()
        label, encoding, encoded = match.groups()
        data = _word_bytes(encoding, encoded)
        label = label.split("*", 1)[0].lower()
        if last_word is not None and not between.strip():
            if last_word[0] == label:
                last_word[1].extend(data)
                continue
        elif between:
            pieces.append(between)
        last_word = [label, bytearray(data)]
        pieces.append(last_word)
    pieces.append(text[pos:])
    return "".join(piece if isinstance(piece, str) else decode_bytes(piece[1], piece[0]) for piece in pieces)


def clean_text(text, limit=None):
    """One-line text fit for storage: controls removed, whitespace collapsed, cut at ``limit`` characters."""
    text = _SURROGATES.sub("\ufffd", text or "")
    text = _HEADER_CONTROLS.sub("", _SPACES.sub(" ", text)).strip()
    if limit and len(text) > limit:
        text = text[: limit - 1].rstrip() + "\u2026"
    return text


def clean_body(text):
    """Body text fit for storage: NUL and other controls removed (tab, CR, LF kept), no lone surrogate."""
    return _BODY_CONTROLS.sub("", _SURROGATES.sub("\ufffd", text or ""))


def _header_text(value, limit=None, words=True):
    """A raw header value as clean text: 8-bit bytes and (if ``words``) RFC 2047 words decoded.

    Without ``words`` (Message-IDs), 8-bit bytes are read as UTF-8 only (no detection).

    With a ``limit`` (characters kept), only the first :data:`MAX_HEADER_CHARS` of the value are read.
    """
    if value is None:
        return ""
    if not isinstance(value, str):
        value = str(value)
    if limit:
        value = value[:MAX_HEADER_CHARS]
    value = _unescape_8bit(value, utf8=not words)
    return clean_text(decode_words(value) if words else value, limit)


def _decode(value):
    """A header value as text, RFC 2047 words decoded, whitespace collapsed."""
    return _header_text(value)


def _raw_header(message, name):
    value = message.get(name)
    return "" if value is None else str(value)


# -- identities ------------------------------------------------------------------


def bounded_message_id(message_id):
    """``message_id`` (``"<...>"``), or its stable hashed form if longer than :data:`MAX_MESSAGE_ID_BYTES`.

    The hashed form, ``<sha256-HEX@long-message-id.invalid>`` (HEX: SHA-256 of
    the UTF-8 id), is the same wherever the id appears (Message-ID, In-Reply-To,
    References), so threads still link; it fits a PostgreSQL btree entry.
    """
    data = message_id.encode("utf-8", "replace")
    if len(data) <= MAX_MESSAGE_ID_BYTES:
        return message_id
    return f"<sha256-{hashlib.sha256(data).hexdigest()}@long-message-id.invalid>"


def normalize_message_id(value):
    """``"<id@host>"`` from a Message-ID-like value (bounded, see :func:`bounded_message_id`), or ``""``.

    Ids are taken as written (8-bit bytes decoded, no RFC 2047 decoding: ids are not text).
    """
    value = _header_text(value, words=False)
    match = _MSGID.search(value)
    if match:
        return bounded_message_id(match.group(0))
    value = value.strip().strip("<>").strip()
    return bounded_message_id(f"<{value}>") if value and " " not in value and "@" in value else ""


def _message_ids(value):
    seen, result = set(), []
    for found in _MSGID.findall(_header_text(value, words=False)):
        found = bounded_message_id(found)
        if found not in seen:
            seen.add(found)
            result.append(found)
    return tuple(result[-MAX_REFERENCES:])


@dataclasses.dataclass(frozen=True)
class Headers:
    """What the header block says. ``message_id``, ``in_reply_to``, ``references``:
    bounded ``"<...>"`` ids; ``identity``: the message's key (its Message-ID, else
    ``sha256:HEX`` of its main headers), at most 1,000 bytes; ``date``: aware UTC
    datetime in 1970..2200 or None; ``sender``/``to``/``cc``/``bcc``: tuples of
    ``(display name, matching key)``; ``authentication_results``: the raw
    values of the ``Authentication-Results`` headers (RFC 8601), top first
    (read by ``mailsync.authentication``)."""

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
    authentication_results: tuple = ()

    def participants(self):
        return {key for _name, key in (*self.sender, *self.to, *self.cc, *self.bcc)}

    def thread_ids(self):
        ids = list(self.references)
        if self.in_reply_to and self.in_reply_to not in ids:
            ids.append(self.in_reply_to)
        return tuple(ids)


def _parse_date(value):
    """Aware UTC datetime of an RFC 5322 date, or None (unreadable, or outside 1970..2200)."""
    value = _header_text(value, MAX_TEXT_LENGTH)
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=datetime.UTC)
        parsed = parsed.astimezone(datetime.UTC)
    except (ArithmeticError, LookupError, TypeError, ValueError, AttributeError):
        # OverflowError (year 9999 at -1200), ValueError (bad offset, day 31 in April), IndexError...
        return None
    return parsed if 1970 <= parsed.year <= 2200 else None


def _identity(message_id, message, raw):
    if message_id:
        return message_id
    canonical = "\n".join(_raw_header(message, name) for name in ("Date", "From", "To", "Cc", "Subject"))
    if not canonical.strip():
        canonical = "\n".join(_raw_header(message, name) for name in ("Bcc", "In-Reply-To", "References"))
    digest = hashlib.sha256(_raw_bytes(canonical))
    if not canonical.strip():
        digest.update(raw[:4096])
    return "sha256:" + digest.hexdigest()


def _name(name):
    return _header_text(name, MAX_TEXT_LENGTH)


def _mailboxes(values):
    """``[(display name, key)]`` of raw address header values, de-duplicated in order.

    Split raw (RFC 5322, ``email.utils.getaddresses``), so a decoded name cannot
    add an address; then each address is read as UTF-8 (RFC 6532), each name
    decoded (8-bit bytes, RFC 2047 words) and capped.
    """
    result, seen = [], set()
    try:
        pairs = getaddresses(values)
    except (ValueError, TypeError, IndexError):  # defensive: getaddresses on hostile input
        return result
    for name, addr in pairs:
        key = normalize(_unescape_8bit(addr, utf8=True))
        if key and key not in seen:
            seen.add(key)
            result.append((_header_text(name, MAX_TEXT_LENGTH), key))
    return result


def _addresses(values):
    """``((display name, key), ...)`` of the raw values of one address header."""
    values = [str(value) for value in values if value]
    found = _mailboxes(values)
    if any("=?" in value for value in values) and (not found or any("=?" in name for name, _key in found)):
        # "=?utf-8?B?...?=" around "Name <address>" (not allowed by RFC 2047, read by mail clients):
        # decoded only when the header gives no address otherwise, or an encoded word left unread
        # around one, and kept only if it has every address found before: a name cannot hide one.
        decoded = [clean_text(decode_words(_unescape_8bit(value[:MAX_HEADER_CHARS]))) for value in values]
        again = _mailboxes(decoded)
        if {key for _name, key in again} >= {key for _name, key in found}:
            found = again
    return tuple(found)


def _headers_of(message, raw):
    def addresses(name):
        return _addresses(message.get_all(name) or [])

    message_id = normalize_message_id(_raw_header(message, "Message-ID"))
    return Headers(
        message_id=message_id,
        identity=_identity(message_id, message, raw),
        subject=_header_text(message.get("Subject"), MAX_TEXT_LENGTH),
        date=_parse_date(_raw_header(message, "Date")),
        sender=addresses("From")[:1],
        to=addresses("To"),
        cc=addresses("Cc"),
        bcc=addresses("Bcc"),
        in_reply_to=normalize_message_id(_raw_header(message, "In-Reply-To")),
        references=_message_ids(_raw_header(message, "References")),
        authentication_results=tuple(
            str(value)[:MAX_HEADER_CHARS] for value in (message.get_all("Authentication-Results") or [])[:20]
        ),
    )


def _header_section(raw):
    """The header block of a whole message (bytes up to and with the first empty line)."""
    match = _HEADER_END.search(raw)
    return raw[: match.end()] if match else raw


def parse_headers(raw):
    """:class:`Headers` of a header block or a whole message (bytes). Never raises.

    Only the header block is read, so a whole message and its header block
    (as IMAP ``BODY[HEADER.FIELDS ...]`` gives it) have the same identity.
    """
    head = _header_section(bytes(raw or b""))
    try:
        message = email.parser.BytesParser(policy=_POLICY).parsebytes(head, headersonly=True)
        return _headers_of(message, head)
    except Exception:  # noqa: BLE001 - a header block that cannot be read still gives a (keyed) result
        digest = "sha256:" + hashlib.sha256(head[:4096]).hexdigest()
        return Headers("", digest, "", None, (), (), (), (), "", ())


# -- whole messages --------------------------------------------------------------


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


def _transfer_encoding(part):
    """The Content-Transfer-Encoding token, lower case, spaces and quotes removed."""
    value = clean_text(_raw_header(part, "Content-Transfer-Encoding")).lower()
    return value.split(";", 1)[0].strip().strip("\"'").strip().split(" ", 1)[0] if value else ""


def _payload_bytes(part):
    """Decoded payload (bytes) of a leaf part, tolerant of transfer-encoding deviations."""
    payload = part.get_payload()
    if not isinstance(payload, str):
        return b""
    encoding = _transfer_encoding(part)
    if encoding == "quoted-printable":
        # RFC 2045 6.7 (3): trailing white space is deleted before decoding (soft breaks "=  ").
        return binascii.a2b_qp(_TRAILING_SPACE.sub(b"", _raw_bytes(payload)))
    if encoding in ("base64", "x-uuencode", "uuencode", "x-uue", "uue"):
        # email's own lenient decoders, once the token is spelt as they expect.
        del part["Content-Transfer-Encoding"]
        part["Content-Transfer-Encoding"] = encoding
        try:
            return part.get_payload(decode=True) or b""
        except (ValueError, TypeError, binascii.Error):
            return _raw_bytes(payload)
    return _raw_bytes(payload)


def _part_text(part):
    return clean_body(decode_bytes(_payload_bytes(part), part.get_content_charset()))


def _param_text(value):
    if isinstance(value, tuple):  # RFC 2231 (charset, language, text with its bytes as Latin-1)
        charset, _language, text = value
        try:
            data = text.encode("latin-1", "surrogateescape")
        except UnicodeEncodeError:
            data = text.encode("utf-8", "replace")
        return decode_bytes(data, charset or None)
    return _unescape_8bit(str(value))


def _filename(part):
    """The file name of a part (Content-Disposition filename, else Content-Type name), or ``""``."""
    for param, header in (("filename", "content-disposition"), ("name", "content-type")):
        value = part.get_param(param, header=header)
        if value is None:
            continue
        name = clean_text(decode_words(_param_text(value)))
        if name:
            return _cut_filename(name)
    return ""


def _cut_filename(name):
    if len(name) <= MAX_FILENAME_LENGTH:
        return name
    stem, dot, extension = name.rpartition(".")
    if dot and stem and 0 < len(extension) <= 16:
        return stem[: MAX_FILENAME_LENGTH - len(extension) - 2] + "\u2026." + extension
    return name[: MAX_FILENAME_LENGTH - 1] + "\u2026"


def _forwarded_bytes(part):
    """The raw bytes of a forwarded message (``message/rfc822`` part), decoded if it was encoded."""
    payload = part.get_payload()
    inner = payload[0] if isinstance(payload, list) and payload else payload
    encoding = _transfer_encoding(part)
    if isinstance(inner, email.message.Message):
        if encoding in ("base64", "quoted-printable"):
            # Encoded (RFC 2046 forbids it, clients send it): the parser read the encoded text as a message.
            text = inner.as_string(policy=_POLICY.clone(mangle_from_=False)) if inner.keys() else inner.get_payload()
            inner_part = email.message.Message(policy=_POLICY)
            inner_part["Content-Transfer-Encoding"] = encoding
            inner_part.set_payload(text if isinstance(text, str) else "")
            return _payload_bytes(inner_part)
        return inner.as_bytes(policy=_POLICY.clone(mangle_from_=False))
    return _raw_bytes(str(inner or ""))


def parse_message(raw, max_attachment_bytes=25 * 1024 * 1024, max_total_attachment_bytes=100 * 1024 * 1024):
    """:class:`Content` of a whole message (bytes). Never raises.

    Attachments larger than ``max_attachment_bytes`` (bytes), or beyond
    ``max_total_attachment_bytes`` stored for this message, are listed in
    ``skipped`` (name, type, size) instead. A part that cannot be read costs
    that part only; a message whose MIME tree cannot be read at all keeps its
    headers and at most :data:`MAX_FALLBACK_TEXT` characters of its body as text.
    """
    raw = bytes(raw or b"")
    headers = parse_headers(raw)
    html_parts, text_parts, attachments, skipped = [], [], [], []
    stored = [0]

    def attach(name, mimetype, data, content_id):
        if len(data) > max_attachment_bytes or stored[0] + len(data) > max_total_attachment_bytes:
            skipped.append(SkippedAttachment(name, mimetype, len(data)))
        else:
            stored[0] += len(data)
            attachments.append(Attachment(name, mimetype, data, content_id))

    def walk(part, depth):
        if depth > MAX_DEPTH:
            return
        content_type = clean_text(part.get_content_type()).lower()
        payload = part.get_payload()
        if content_type in _FORWARDED:
            data = _forwarded_bytes(part)
            name = _filename(part)
            if not name:
                subject = parse_headers(data).subject
                name = _cut_filename(f"{subject or 'message'}.eml")
            attach(name, "message/rfc822", data, "")
            return
        if isinstance(payload, list):
            for sub in payload:
                try:
                    walk(sub, depth + 1)
                except Exception:  # noqa: BLE001, S112 - a broken part costs that part only
                    continue
            return
        disposition = clean_text(_raw_header(part, "Content-Disposition")).split(";")[0].strip().lower()
        name = _filename(part)
        if content_type.startswith("multipart/") and not name:
            # No boundary (or none found in the body): mail clients show its text.
            text_parts.append(_part_text(part))
            return
        if content_type in ("text/plain", "text/html") and disposition != "attachment" and not name:
            (html_parts if content_type == "text/html" else text_parts).append(_part_text(part))
            return
        data = _payload_bytes(part)
        part.set_payload(None)  # the encoded text is no longer needed once decoded: hold one copy
        content_id = clean_text(_raw_header(part, "Content-ID")).strip("<>")[:MAX_TEXT_LENGTH]
        attach(name or _default_name(content_type), content_type, data, content_id)

    try:
        walk(parse_tree(raw), 0)
    except Exception:  # noqa: BLE001 - a broken MIME tree keeps what was read
        if not (html_parts or text_parts):
            body = raw[len(_header_section(raw)) :][: MAX_FALLBACK_TEXT * 4]
            text_parts.append(clean_body(decode_bytes(body))[:MAX_FALLBACK_TEXT])
    return Content(
        headers=headers,
        html="\n".join(part for part in html_parts if part),
        text="\n".join(part for part in text_parts if part),
        attachments=tuple(attachments),
        skipped=tuple(skipped),
    )


def parse_tree(raw, policy=_POLICY):
    """The MIME tree (``email.message.Message``) of ``raw`` (bytes), fed to
    the parser :data:`_FEED_BYTES` at a time: the same tree as
    ``email.parser.BytesParser(policy=policy).parsebytes(raw)``, for about the
    message's size in memory where that costs several times it."""
    parser = email.feedparser.BytesFeedParser(policy=policy)
    view = memoryview(raw)
    for start in range(0, len(raw), _FEED_BYTES):
        parser.feed(bytes(view[start : start + _FEED_BYTES]))
    view.release()
    return parser.close()


def _default_name(content_type):
    main, _slash, sub = content_type.partition("/")
    return _cut_filename(f"{main or 'file'}.{sub or 'bin'}")


def clean_subject(subject):
    """The subject without reply and forward prefixes (Re:, Fwd:, TR:, RV:, AW:, ...)."""
    return _PREFIX.sub("", _decode(subject or "")).strip()


class HtmlTextParser(html.parser.HTMLParser):
    """The text of HTML outside its hidden elements (script, style, head,
    title), as ``parts`` (strings) that :meth:`text_of` joins. A subclass lays
    the text out: :meth:`_open` and :meth:`_close` for every other tag,
    :meth:`_text` for the visible character data (character references
    already converted)."""

    _HIDDEN = {"script", "style", "head", "title"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts, self.hidden = [], 0

    @classmethod
    def text_of(cls, markup):
        """``markup`` (str, may be empty) as the joined ``parts`` of one parse."""
        if not markup:
            return ""
        parser = cls()
        parser.feed(markup)
        parser.close()
        return "".join(parser.parts)

    def handle_starttag(self, tag, attrs):
        if tag in self._HIDDEN:
            self.hidden += 1
        else:
            self._open(tag)

    def handle_endtag(self, tag):
        if tag in self._HIDDEN:
            self.hidden = max(0, self.hidden - 1)
        else:
            self._close(tag)

    def handle_data(self, data):
        if not self.hidden:
            self._text(data)

    def _open(self, tag):
        pass

    def _close(self, tag):
        pass

    def _text(self, data):
        self.parts.append(data)


class _TextExtractor(HtmlTextParser):
    _BREAKS = {"br", "p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "table"}

    def _open(self, tag):
        if tag in self._BREAKS:
            self.parts.append("\n")

    _close = _open


def html_to_text(markup):
    """Readable plain text of an HTML body: no scripts or styles, paragraph breaks kept."""
    lines = [_SPACES.sub(" ", line).strip() for line in _TextExtractor.text_of(markup).splitlines()]
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip()
