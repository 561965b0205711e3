"""A generated corpus of malformed mail (Hypothesis): what must hold for any bytes.

Each example is a message built from hostile pieces: encoded words in good,
wrong and unknown charsets (some corrupted), raw 8-bit bytes, NUL and control
characters, huge header lines, long or absent Message-IDs, impossible dates,
MIME trees with missing or wrong boundaries, loosely spelt transfer encodings,
encoded forwarded messages and nesting up to 50 levels. For each:

- :func:`parse_headers` and :func:`parse_message` return (never raise);
- the identity is the same from the IMAP header block and from the whole
  message, and fits 1,000 bytes (Message-IDs 900);
- no returned string holds NUL, another control character or a lone surrogate;
- the address written in ``From`` is the sender found.

The run is derandomized (same examples on every run) and has no deadline.
"""

import base64
import quopri

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailsync.addresses import normalize
from mailsync.message import parse_headers, parse_message
from mailsync.tests.test_message_hostile import assert_storable
from mailsync.tests.test_reported_cases import imap_header_block

EXAMPLES = 300

CHARSETS = [
    "utf-8",
    "UTF8",
    "gb2312",
    "x-sjis",
    "ks_c_5601-1987",
    "koi8-r",
    "iso-8859-1",
    "utf-8*en",
    "utf-7",
    "iso-2022-jp",
    "x-user-defined",
    "replacement",
    "bogus-charset",
    "base64",
    "",
    "utf-16",
]
DOMAINS = ["example.org", "bücher.example", "xn--bcher-kva.example", "mail.example.co.uk", "例え.jp", "straße.example"]
DATES = [
    "Tue, 03 Mar 2026 09:15:00 +0100",
    "Fri, 31 Dec 9999 23:59:59 -1200",
    "Mon, 01 Jan 0001 00:00:00 +1400",
    "Tue, 31 Apr 2026 10:00:00 +9999",
    "Sat, 01 Jan 2201 00:00:00 +0000",
    "32 Foo 2026",
    "=?utf-8?q?=00?=",
    "",
]
ENCODINGS = ["base64", "BASE64 ", " Base64\t", "quoted-printable", "Quoted-Printable  ", "7bit", "8bit", "bogus", ""]
HUGE = ["a", "=?a?q?x", "=?utf-8?b?w7Y=?= ", "<a@b> ", "\x00", "x,"]

# Header bytes: anything but line breaks (a raw CR or LF would end the header).
header_bytes = st.binary(max_size=40).map(lambda data: data.replace(b"\r", b"").replace(b"\n", b""))
# Display-name bytes that keep "name <address>" one mailbox: no specials, no quote, no line break.
name_bytes = header_bytes.map(lambda data: bytes(b for b in data if b not in b'<>,;:"@()[]\\'))


@st.composite
def encoded_words(draw):
    charset = draw(st.sampled_from(CHARSETS))
    data = draw(st.binary(max_size=30))
    if draw(st.booleans()):
        text = base64.b64encode(data)
        letter = draw(st.sampled_from("Bb"))
    else:
        text = b"".join(b"=%02X" % byte for byte in data)
        letter = draw(st.sampled_from("Qq"))
    if draw(st.integers(0, 4)) == 0:  # corrupted: cut, or junk inside
        text = text[: draw(st.integers(0, len(text)))] + draw(st.sampled_from([b"", b"!", b"?", b"=", b"=?"]))
    return b"=?" + charset.encode() + b"?" + letter.encode() + b"?" + text + b"?="


@st.composite
def header_values(draw, pieces=None):
    parts = draw(st.lists(pieces or st.one_of(encoded_words(), header_bytes, st.just(b" ")), max_size=6))
    value = b"".join(part + draw(st.sampled_from([b"", b" ", b"\r\n "])) for part in parts)
    return value.rstrip(b" \r\n")


@st.composite
def senders(draw):
    """``(From header value, address)``; the address is always there to be found."""
    local = draw(st.sampled_from("abz09")) + draw(st.text(alphabet="az09._+-", max_size=15))
    address = f"{local}@{draw(st.sampled_from(DOMAINS))}"
    name = draw(st.one_of(name_bytes, encoded_words()))
    form = draw(st.integers(0, 4))
    encoded = address.encode()
    if form == 0:
        value = encoded
    elif form == 1:
        value = name + b" <" + encoded + b">"
    elif form == 2:
        value = b'"' + name + b'" <' + encoded + b">"
    elif form == 3:  # the whole "Name <address>" in one encoded word
        whole = draw(st.text(alphabet="abcdé Ñ", max_size=10)).encode() + b" <" + encoded + b">"
        value = b"=?utf-8?B?" + base64.b64encode(whole) + b"?="
    else:
        value = name + b" <" + encoded + b">, other@example.net"
    return value, address


@st.composite
def message_ids(draw):
    kind = draw(st.integers(0, 4))
    if kind == 0:
        return b""
    if kind == 1:
        return b"<" + b"x" * draw(st.integers(0, 7000)) + b"@example.org>"
    if kind == 2:
        return b"<a\x00b" + draw(header_bytes) + b"@example.org>"
    return b"<" + draw(st.text(alphabet="az09.", min_size=1, max_size=20)).encode() + b"@example.org>"


@st.composite
def leaves(draw):
    content_type = draw(st.sampled_from(["text/plain", "text/html", "application/pdf", "message/rfc822", "image/png"]))
    charset = draw(st.sampled_from(CHARSETS))
    encoding = draw(st.sampled_from(ENCODINGS))
    data = draw(st.binary(max_size=200))
    if content_type == "message/rfc822" and draw(st.booleans()):
        data = b"From: Inner <inner@example.org>\r\nSubject: " + draw(header_values()) + b"\r\n\r\n" + data
    token = encoding.strip().lower()
    if token == "base64":
        payload = base64.encodebytes(data)
    elif token == "quoted-printable":
        payload = quopri.encodestring(data)
    else:
        payload = data.replace(b"\r", b"").replace(b"\n", b"\r\n")
    head = b"Content-Type: " + content_type.encode() + b'; charset="' + charset.encode() + b'"\r\n'
    if draw(st.booleans()):
        head += b"Content-Disposition: attachment; filename=" + draw(st.one_of(encoded_words(), name_bytes)) + b"\r\n"
    if draw(st.booleans()):
        head += b"Content-Disposition: attachment; filename*=" + charset.encode() + b"''%B1%A8%00\r\n"
    return head + b"Content-Transfer-Encoding: " + encoding.encode() + b"\r\n\r\n" + payload


def multipart(children, boundary_mode, number):
    boundary = b"b%d" % number
    declared = {0: b'; boundary="' + boundary + b'"', 1: b"", 2: b"; boundary=wrong"}[boundary_mode]
    head = b"Content-Type: multipart/mixed" + declared + b"\r\n\r\n"
    body = b"".join(b"--" + boundary + b"\r\n" + child + b"\r\n" for child in children)
    return head + body + b"--" + boundary + b"--\r\n"


@st.composite
def bodies(draw):
    """A MIME entity: a small random tree at the bottom of a chain up to 50 levels deep."""
    children = draw(st.lists(leaves(), min_size=1, max_size=3))
    entity = multipart(children, draw(st.integers(0, 2)), 0)
    for level in range(draw(st.sampled_from([0, 0, 1, 2, 5, 50]))):
        entity = multipart([entity], draw(st.sampled_from([0, 0, 0, 0, 1, 2])), level + 1)
    return entity


@st.composite
def messages(draw):
    from_value, address = draw(senders())
    lines = [b"From: " + from_value]
    fields = [
        (b"To", st.one_of(header_values(), st.just(b"sam@example.com"))),
        (b"Cc", header_values()),
        (b"Subject", header_values()),
        (b"Date", st.sampled_from(DATES).map(str.encode) | header_bytes),
        (b"Message-ID", message_ids()),
        (b"In-Reply-To", message_ids()),
        (b"References", st.lists(message_ids(), max_size=4).map(b" ".join)),
        (b"X-Junk", header_values()),
    ]
    for name, values in fields:
        if draw(st.booleans()):
            lines.append(name + b": " + draw(values))
    size = draw(st.sampled_from([0, 0, 0, 0, 10, 1000, 5000]))
    if size:
        lines.append(
            draw(st.sampled_from([b"Subject", b"To", b"References", b"X-Huge"]))
            + b": "
            + draw(st.sampled_from(HUGE)).encode() * size
        )
    lines.append(b"MIME-Version: 1.0")
    body = draw(bodies())
    return b"\r\n".join(lines) + b"\r\n" + body, address


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)
@given(messages())
def test_any_message_is_read_safely(case):
    raw, address = case
    content = parse_message(raw)
    headers = content.headers
    block = parse_headers(imap_header_block(raw))
    assert headers.identity == block.identity == parse_headers(raw).identity
    assert len(headers.identity.encode()) <= 1000
    for message_id in (headers.message_id, headers.in_reply_to, *headers.references):
        assert len(message_id.encode()) <= 900
    assert_storable(content)
    assert_storable(block)
    assert headers.sender and headers.sender[0][1] == normalize(address)
    assert block.sender == headers.sender
