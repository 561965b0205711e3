"""The reported inputs of issue 10 that concern parsing, each with the value a user expects.

The .eml files are copies of ``shared/cases/reported/`` (its README gives the
expected values), kept in ``data/reported/`` so the suite does not depend on it.
"""

import pathlib
import re

from mailsync.imap_sync import HEADER_FIELDS
from mailsync.message import parse_headers, parse_message

DATA = pathlib.Path(__file__).parent / "data" / "reported"
_FIELDS = {name.lower() for name in HEADER_FIELDS.decode().split()}


def read(name):
    return (DATA / name).read_bytes()


def imap_header_block(raw):
    """The header block as IMAP ``BODY[HEADER.FIELDS (...)]`` gives it: only the fetched fields."""
    head = re.split(rb"\r?\n\r?\n", raw, maxsplit=1)[0]
    kept, keep = [], False
    for line in re.split(rb"\r?\n", head):
        if line[:1] in (b" ", b"\t"):
            if keep:
                kept.append(line)
            continue
        keep = line.split(b":", 1)[0].strip().decode("latin-1").lower() in _FIELDS
        if keep:
            kept.append(line)
    return b"\r\n".join([*kept, b"", b""])


def test_01_gb2312_label_reads_gbk_text():
    content = parse_message(read("01-gbk-labelled-gb2312.eml"))
    assert content.headers.subject == "关于报价的問題"
    assert content.text.strip() == "这是报价 – 第二版"  # noqa: RUF001 - the en dash of the message


def test_05_base64_with_trailing_space_is_decoded():
    content = parse_message(read("05-cte-trailing-space.eml"))
    assert [(a.filename, a.mimetype, a.content) for a in content.attachments] == [
        ("quote-signed.pdf", "application/pdf", b"%PDF-1.4\n% quote for Acme\n%%EOF\n")
    ]
    assert content.text.strip() == "Signed quote attached."


def test_07_multipart_without_boundary_is_the_body():
    content = parse_message(read("07-multipart-no-boundary.eml"))
    assert content.text.strip() == "Thanks for the meeting today, please send the revised offer."
    assert content.attachments == () and content.skipped == ()


def test_08_address_inside_one_encoded_word_is_the_sender():
    raw = read("08-encoded-whole-address.eml")
    for headers in (parse_message(raw).headers, parse_headers(imap_header_block(raw))):
        assert headers.sender == (("María Ortega", "maria.ortega@example.org"),)


def test_12_long_message_id_fits_an_index_and_is_stable():
    raw = read("12-long-message-id.eml")
    full = parse_message(raw).headers
    block = parse_headers(imap_header_block(raw))
    assert full.identity == block.identity
    assert full.message_id == block.message_id == full.identity
    assert len(full.identity.encode()) <= 2000 and len(full.message_id.encode()) <= 2000
    assert re.fullmatch(r"<sha256-[0-9a-f]{64}@long-message-id\.invalid>", full.message_id)
    assert full.sender == (("Acme Buyer", "buyer@example.org"),)
