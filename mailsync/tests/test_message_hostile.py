# ruff: noqa: RUF001 - real mail text: full-width commas, en dashes, full-width letters on purpose
"""Mail as the world sends it: each kind of fault of issue 10, beyond the reported files.

Charsets labelled as mail clients label them, tolerant transfer encodings,
broken MIME structure, hidden and internationalised addresses, control
characters, impossible dates, oversized identities and attachments.
"""

import base64
import binascii
import email.policy
import re
import time
import tracemalloc
from email.message import EmailMessage

import pytest

from mailsync import message as message_module
from mailsync.addresses import normalize
from mailsync.message import (
    MAX_FALLBACK_TEXT,
    MAX_REFERENCES,
    MAX_TEXT_LENGTH,
    charset_codec,
    decode_bytes,
    parse_headers,
    parse_message,
)
from mailsync.tests.test_reported_cases import imap_header_block

HEAD = "From: Acme Buyer <buyer@example.org>\r\nTo: sam@example.com\r\nDate: Tue, 03 Mar 2026 09:15:00 +0100\r\n"
CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def b64(data):
    return base64.b64encode(data).decode()


def word(text, charset="utf-8", encoding="B"):
    """An RFC 2047 encoded word of ``text`` in ``charset``."""
    data = text.encode(charset) if isinstance(text, str) else text
    if encoding == "B":
        return f"=?{charset}?B?{b64(data)}?="
    return f"=?{charset}?Q?{''.join(f'={byte:02X}' for byte in data)}?="


def message(headers="", body="", head=HEAD):
    raw = head + headers + "\r\n" + body
    return raw.encode("utf-8", "surrogateescape") if isinstance(raw, str) else raw


def text_message(data, label, encoding="base64", extra=""):
    ctype = f'text/plain; charset="{label}"' if label is not None else "text/plain"
    payload = b64(data) if "base64" in encoding.lower() else data.decode("latin-1")
    return message(
        f"Subject: t\r\nMIME-Version: 1.0\r\nContent-Type: {ctype}\r\nContent-Transfer-Encoding: {encoding}\r\n{extra}",
        payload + "\r\n",
    )


def strings_of(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, tuple | list):
        for item in value:
            yield from strings_of(item)
    elif hasattr(value, "__dataclass_fields__"):
        for name in value.__dataclass_fields__:
            yield from strings_of(getattr(value, name))


def assert_storable(content):
    """Every string PostgreSQL would get: valid UTF-8, no NUL nor control character."""
    for text in strings_of(content):
        text.encode("utf-8")  # no lone surrogate: would raise UnicodeEncodeError
        assert not CONTROLS.search(text), repr(text)


# -- charset labels, as the WHATWG Encoding Standard resolves them -----------------------------

RUSSIAN = "Здравствуйте, Сергей! Высылаю коммерческое предложение по вашему запросу."


@pytest.mark.parametrize(
    ("label", "codec"),
    [
        ("gb2312", "gb18030"),
        ("GBK", "gb18030"),
        ("iso-8859-1", "cp1252"),
        ("latin1", "cp1252"),
        ("us-ascii", "cp1252"),
        ("ks_c_5601-1987", "cp949"),
        ("x-sjis", "cp932"),
        ("utf8", "utf-8"),
        ("x-cp1251", "cp1251"),
        ("koi8", "koi8-r"),
        ("big5", "big5hkscs"),
        ("utf-8*en", "utf-8"),
        ("utf-7", "utf-7"),  # outside the WHATWG table: Python's codec
        ("x-no-such-charset", None),
        ("base64", None),  # a Python codec, not a charset
        ("", None),
    ],
)
def test_charset_labels_resolve_as_mail_clients_do(label, codec):
    assert charset_codec(label) == codec


@pytest.mark.parametrize(
    ("text", "encode_as", "label"),
    [
        ("關於報價的問題，請回覆", "big5", "big5"),
        ("見積書を送付いたします。よろしくお願いします。", "cp932", "x-sjis"),
        ("見積書を送付いたします。", "shift_jis", "shift_jis"),
        ("견적서를 보내드립니다", "cp949", "ks_c_5601-1987"),
        (RUSSIAN, "cp1251", "x-cp1251"),
        ("Devis n° 12 – “final” €", "cp1252", "iso-8859-1"),
        ("Grüße – €", "cp1252", "latin1"),
        ("Ça marche très bien", "utf-8", "utf8"),
        ("这是报价 – 第二版", "gb18030", "gb2312"),
    ],
)
def test_bodies_and_subjects_in_unusual_labels(text, encode_as, label):
    data = text.encode(encode_as)
    content = parse_message(
        message(
            f"Subject: {word(data, label, 'B')}\r\nMIME-Version: 1.0\r\n"
            f"Content-Type: text/plain; charset={label}\r\nContent-Transfer-Encoding: base64\r\n",
            b64(data) + "\r\n",
        )
    )
    assert content.headers.subject == text
    assert content.text.strip() == text


def test_cp1251_text_labelled_koi8_r_is_read_as_cp1251():
    content = parse_message(text_message(RUSSIAN.encode("cp1251"), "koi8-r"))
    assert content.text.strip() == RUSSIAN
    # and real koi8-r stays koi8-r
    assert parse_message(text_message(RUSSIAN.encode("koi8-r"), "koi8-r")).text.strip() == RUSSIAN


def test_missing_or_wrong_label_falls_back_to_detection():
    assert parse_message(text_message("Grüße aus München".encode(), None)).text.strip() == "Grüße aus München"
    assert parse_message(text_message("Grüße".encode(), "x-unknown")).text.strip() == "Grüße"
    # Labelled UTF-8, sent in Windows-1252: read by detection, not as replacement characters.
    latin = "Très cher Monsieur, veuillez trouver ci-joint notre offre détaillée."
    assert parse_message(text_message(latin.encode("cp1252"), "utf-8")).text.strip() == latin


def test_undecodable_bytes_become_replacement_characters():
    text = decode_bytes(b"ok \xc3\x28 \xa0\xa1", "utf-8")
    assert "ok" in text
    text.encode("utf-8")


# -- encoded words: language tags, split characters, unknown charsets ----------------------------


def test_encoded_word_with_language_tag():
    raw = message("Subject: =?utf-8*en?q?Hello_W=C3=B6rld?= =?ISO-8859-1*fr?Q?caf=E9?=\r\n")
    assert parse_headers(raw).subject == "Hello Wörldcafé"


def test_character_split_across_two_encoded_words():
    data = "报价单".encode("gb18030")
    raw = message(f"Subject: {word(data[:3], 'gb2312')} {word(data[3:], 'gb2312')}\r\n")
    assert parse_headers(raw).subject == "报价单"


def test_bad_encoded_words_never_raise_and_keep_the_rest():
    raw = message("Subject: Offer =?utf-8?B?!!!not base64?= and =?bogus-charset?q?caf=C3=A9?= =?utf-8?q?\r\n")
    subject = parse_headers(raw).subject
    assert subject.startswith("Offer") and "café" in subject


def test_display_name_in_gbk_and_raw_utf8():
    name = word("关于报价".encode("gb18030"), "gb2312")
    raw = message("Subject: x\r\n", head=f"From: {name} <li@example.cn>\r\nTo: Jörg Müller <jorg@example.de>\r\n")
    headers = parse_headers(raw)
    assert headers.sender == (("关于报价", "li@example.cn"),)
    assert headers.to == (("Jörg Müller", "jorg@example.de"),)


# -- file names ---------------------------------------------------------------------------------


def attachment_message(disposition, content_type="application/pdf"):
    return message(
        'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n',
        "--b\r\nContent-Type: text/plain\r\n\r\nSee attached.\r\n--b\r\n"
        f"Content-Type: {content_type}\r\nContent-Disposition: {disposition}\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\nJVBERi0=\r\n--b--\r\n",
    )


@pytest.mark.parametrize(
    ("disposition", "expected"),
    [
        ("attachment; filename*=gb2312''%B1%A8%BC%DB%B5%A5.pdf", "报价单.pdf"),  # RFC 2231, GBK bytes
        ("attachment; filename*=utf-8'en'Devis%20%C3%A9t%C3%A9.pdf", "Devis été.pdf"),
        ("attachment; filename*0*=utf-8''Angebot%20f; filename*1*=%C3%BCr%20Acme.pdf", "Angebot für Acme.pdf"),
        (f'attachment; filename="{word("Cotización.pdf")}"', "Cotización.pdf"),  # Outlook style
        ('attachment; filename="=?utf-8*es?q?Cotizaci=C3=B3n.pdf?="', "Cotización.pdf"),
        ('attachment; filename="a=?utf-8?q?=00?=b.pdf"', "ab.pdf"),  # NUL in a file name
    ],
)
def test_file_names(disposition, expected):
    content = parse_message(attachment_message(disposition))
    assert [a.filename for a in content.attachments] == [expected]
    assert content.attachments[0].content == b"%PDF-"


def test_long_file_name_keeps_its_extension():
    content = parse_message(attachment_message(f'attachment; filename="{"x" * 1000}.pdf"'))
    name = content.attachments[0].filename
    assert len(name) <= 255 and name.endswith(".pdf")


# -- transfer encodings -----------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["BASE64", " Base64 ", "base64\t", '"base64"', "base64; x=y"])
def test_base64_spelt_loosely(encoding):
    content = parse_message(text_message("Grüße".encode(), "utf-8", encoding=encoding))
    assert content.text.strip() == "Grüße"


@pytest.mark.parametrize("encoding", ["quoted-printable", "Quoted-Printable  ", "QUOTED-PRINTABLE\t"])
def test_quoted_printable_with_trailing_spaces(encoding):
    body = b"Gr=C3=BC=C3=9Fe aus =  \r\nM=C3=BCnchen   \r\nzweite Zeile"
    content = parse_message(text_message(body, "utf-8", encoding=encoding))
    assert content.text.splitlines() == ["Grüße aus München", "zweite Zeile"]


def forwarded(encoding):
    inner = b"From: Ana <ana@example.es>\r\nSubject: Pedido original\r\n\r\nHola.\r\n"
    payload = b64(inner) if encoding == "base64" else inner.decode()
    return inner, message(
        'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\nSubject: Fwd\r\n',
        "--b\r\nContent-Type: text/plain\r\n\r\nSee below.\r\n--b\r\n"
        f"Content-Type: message/rfc822\r\nContent-Transfer-Encoding: {encoding}\r\n\r\n{payload}\r\n--b--\r\n",
    )


@pytest.mark.parametrize("encoding", ["base64", "Base64 ", "7bit"])
def test_forwarded_message_is_kept_as_eml(encoding):
    inner, raw = forwarded(encoding.strip().lower())
    content = parse_message(raw)
    assert content.text.strip() == "See below."
    [eml] = content.attachments
    assert (eml.filename, eml.mimetype) == ("Pedido original.eml", "message/rfc822")
    assert eml.content.replace(b"\r\n", b"\n").strip() == inner.replace(b"\r\n", b"\n").strip()
    assert parse_headers(eml.content).sender == (("Ana", "ana@example.es"),)


# -- MIME structure -----------------------------------------------------------------------------


def test_boundary_never_found_is_text_not_the_raw_message():
    raw = message(
        "Subject: s\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=nope\r\n",
        "--other\r\nContent-Type: text/plain\r\n\r\nHello\r\n--other--\r\n",
    )
    content = parse_message(raw)
    assert "Hello" in content.text and "From:" not in content.text and content.attachments == ()


def nested(depth, leaf="Deep hello"):
    body = f"Content-Type: text/plain; charset=utf-8\r\n\r\n{leaf}\r\n"
    for level in range(depth):
        body = f"Content-Type: multipart/mixed; boundary=b{level}\r\n\r\n--b{level}\r\n{body}--b{level}--\r\n"
    content_type, rest = body.split("\r\n\r\n", 1)
    return message(f"Subject: deep\r\nMIME-Version: 1.0\r\n{content_type}\r\n", rest)


def test_deep_nesting_is_read():
    assert parse_message(nested(60)).text.strip() == "Deep hello"


@pytest.mark.parametrize("depth", [400, 3000])
def test_absurd_nesting_never_raises(depth):
    # 400 levels: read up to MAX_DEPTH; 3000: Python's parser gives up (RecursionError), the body
    # is kept as bounded text, never the raw header block.
    content = parse_message(nested(depth))
    assert content.headers.subject == "deep" and content.headers.sender[0][1] == "buyer@example.org"
    assert len(content.text) <= MAX_FALLBACK_TEXT and "Subject:" not in content.text
    assert_storable(content)


# -- addresses ------------------------------------------------------------------------------------


def test_whole_address_in_a_q_encoded_word():
    raw = message("Subject: x\r\n", head="From: =?iso-8859-1?Q?Jos=E9_Garc=EDa_<jose@example.es>?=\r\n")
    assert parse_headers(raw).sender == (("José García", "jose@example.es"),)


def test_a_name_that_looks_like_an_address_does_not_replace_the_real_one():
    raw = message("Subject: x\r\n", head="From: =?utf-8?q?ceo=40bank.example?= <attacker@evil.example>\r\n")
    assert parse_headers(raw).sender == (("ceo@bank.example", "attacker@evil.example"),)


@pytest.mark.parametrize("address", ["user@bücher.example", "user@BÜCHER.example", "USER@xn--bcher-kva.example"])
def test_idn_domains_match_their_ascii_form(address):
    raw = message("Subject: x\r\n", head=f"From: {address}\r\n")
    assert parse_headers(raw).sender == (("", "user@xn--bcher-kva.example"),)


def test_idn_mapped_by_idna_2008_uts46():
    # IDNA 2008 keeps ß (IDNA 2003, Python's codec, maps it to "ss"); UTS 46 maps full-width letters.
    assert normalize("a@straße.example") == "a@xn--strae-oqa.example"
    assert normalize("a@ｂücher.example") == "a@xn--bcher-kva.example"
    assert normalize("a@under_score.example.com") == "a@under_score.example.com"


# -- control characters -----------------------------------------------------------------------


def test_nul_and_controls_never_reach_storage():
    raw = (
        b"From: =?utf-8?q?Ana=00_=C2=85Bad?= <ana@example.org>\r\n"
        b"To: sam@example.com\r\n"
        b"Subject: a=?utf-8?q?=00?=b\x00c\x1b[31m\r\n"
        b"Message-ID: <a\x00b@example.org>\r\n"
        b"In-Reply-To: <p\x00q@example.org>\r\n"
        b"MIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nline\x00one\ttab\x0c\r\n"
        b"--b\r\nContent-Type: text/html\r\n\r\n<p>x\x00y</p>\r\n"
        b'--b\r\nContent-Type: application/pdf; name="f\x00.pdf"\r\nContent-ID: <c\x00id>\r\n\r\nPDF\r\n--b--\r\n'
    )
    content = parse_message(raw)
    assert_storable(content)
    assert_storable(parse_headers(raw))
    headers = content.headers
    assert headers.sender == (("Ana Bad", "ana@example.org"),)
    assert headers.subject == "abc[31m"
    assert headers.message_id == "<ab@example.org>" and headers.in_reply_to == "<pq@example.org>"
    assert content.text.strip() == "lineone\ttab" and "xy" in content.html
    assert content.attachments[0].filename == "f.pdf"


def test_raw_8bit_and_nul_in_headers():
    raw = b"From: M\xfcller <m@example.de>\r\nSubject: Gr\xc3\xbc\xc3\x9fe \xff\x00\r\n\r\nbody"
    headers = parse_headers(raw)
    assert_storable(headers)
    assert headers.sender == (("Müller", "m@example.de"),)


# -- dates --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "Fri, 31 Dec 9999 23:59:59 -1200",  # OverflowError in Python's conversion to UTC
        "Mon, 01 Jan 1000 00:00:00 +1400",
        "Tue, 31 Apr 2026 10:00:00 +0000",
        "Tue, 03 Mar 2026 25:61:00 +0000",
        "Tue, 03 Mar 2026 10:00:00 +9999",
        "Wed, 31 Dec 1969 23:59:59 +0000",  # before 1970: absent
        "Sat, 01 Jan 2201 00:00:00 +0000",  # after 2200: absent
        "yesterday",
        "",
        "=?utf-8?q?=00?=",
        "Tue, 03 Mar",
    ],
)
def test_bad_dates_are_absent(value):
    raw = message(f"Subject: x\r\nDate: {value}\r\n", head="From: a@example.org\r\n")
    assert parse_headers(raw).date is None


def test_good_date_in_utc():
    assert parse_headers(message()).date.isoformat() == "2026-03-03T08:15:00+00:00"


# -- bounded identities and texts -----------------------------------------------------------------


def test_long_ids_link_threads_the_same_way_everywhere():
    long_id = "<" + "x" * 6000 + "@example.org>"
    parent = parse_headers(message(f"Message-ID: {long_id}\r\n"))
    refs = " ".join([f"<r{n}@example.org>" for n in range(500)] + [long_id])
    reply = parse_headers(message(f"In-Reply-To: {long_id}\r\nReferences: {refs}\r\n"))
    assert reply.in_reply_to == parent.message_id == parent.identity
    assert reply.references[-1] == parent.message_id
    assert len(reply.references) == MAX_REFERENCES and reply.references[0] == "<r401@example.org>"
    assert len(" ".join(reply.thread_ids()).encode()) < 100_000


def test_identity_without_message_id_is_stable_and_bounded():
    raw = message("Subject: " + "long " * 5000 + "\r\nX-Other: 1\r\n", "body " * 1000)
    full, block = parse_message(raw).headers, parse_headers(imap_header_block(raw))
    assert full.identity == block.identity and full.identity.startswith("sha256:")
    assert len(full.identity.encode()) <= 1000


def test_subject_and_names_are_capped():
    raw = message("Subject: " + "word " * 3000 + "\r\n", head=f"From: {'N' * 5000} <n@example.org>\r\n")
    headers = parse_headers(raw)
    assert len(headers.subject) == MAX_TEXT_LENGTH and headers.subject.endswith("\u2026")
    assert len(headers.sender[0][0]) == MAX_TEXT_LENGTH and headers.sender[0][1] == "n@example.org"


def test_huge_headers_are_read_quickly():
    junk = "=?a?q?x" * 20000
    raw = message(f"Subject: {junk}\r\nTo: {junk}\r\nReferences: {'<a@b> ' * 20000}\r\n")
    start = time.monotonic()
    headers = parse_headers(raw)
    assert time.monotonic() - start < 5
    assert headers.sender == (("Acme Buyer", "buyer@example.org"),) and len(headers.references) == 1


# -- memory -------------------------------------------------------------------------------------


def test_total_attachment_size_is_capped_per_message():
    parts = "".join(
        f'--b\r\nContent-Type: application/octet-stream; name="f{n}.bin"\r\n'
        f"Content-Transfer-Encoding: base64\r\n\r\n{b64(bytes(40))}\r\n"
        for n in range(4)
    )
    raw = message('MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n', parts + "--b--\r\n")
    content = parse_message(raw, max_attachment_bytes=50, max_total_attachment_bytes=100)
    assert [a.filename for a in content.attachments] == ["f0.bin", "f1.bin"]
    assert [(s.filename, s.size) for s in content.skipped] == [("f2.bin", 40), ("f3.bin", 40)]
    content = parse_message(raw, max_attachment_bytes=30)
    assert content.attachments == () and len(content.skipped) == 4


@pytest.mark.parametrize("encoding", ["x-uuencode", "X-UUENCODE ", "uue"])
def test_uuencoded_attachment(encoding):
    body = "begin 644 note.txt\r\n" + binascii.b2a_uu(b"hello uu").decode() + "`\r\nend\r\n"
    raw = message(
        'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n',
        f'--b\r\nContent-Type: application/octet-stream; name="note.txt"\r\n'
        f"Content-Transfer-Encoding: {encoding}\r\n\r\n{body}--b--\r\n",
    )
    assert [(a.filename, a.content) for a in parse_message(raw).attachments] == [("note.txt", b"hello uu")]


def many_attachments(count, size):
    """A message with ``count`` base64 attachments of ``size`` random-ish bytes, CRLF line ends."""
    email_message = EmailMessage()
    email_message["From"], email_message["To"], email_message["Subject"] = "buyer@example.org", "sam@x", "Invoices"
    email_message.set_content("All of them.")
    for n in range(count):
        data = (b"%06d" % n) * (size // 6)
        email_message.add_attachment(data, maintype="application", subtype="pdf", filename=f"i{n}.pdf")
    return email_message.as_bytes(policy=email.policy.SMTP), email_message


def test_a_thousand_attachments_are_all_read():
    raw, _source = many_attachments(1000, 600)
    content = parse_message(raw)
    assert [a.filename for a in content.attachments] == [f"i{n}.pdf" for n in range(1000)]
    assert content.attachments[999].content == b"000999" * 100
    assert content.text.strip() == "All of them." and not content.skipped


@pytest.mark.parametrize("feed_bytes", [1, 7, 76, 4096])
def test_a_message_fed_in_pieces_reads_as_one_fed_whole(monkeypatch, feed_bytes):
    """Pieces cut anywhere (inside a CRLF, a boundary, a header) change nothing."""
    raw, _source = many_attachments(5, 300)
    raw = raw.replace(b"All of them.", "Grüße, all of them.".encode())
    whole = parse_message(raw)
    monkeypatch.setattr(message_module, "_FEED_BYTES", feed_bytes)
    assert parse_message(raw) == whole
    assert whole.text.strip() == "Grüße, all of them." and len(whole.attachments) == 5


def test_parsing_a_large_message_holds_little_more_than_its_attachments():
    """Issue 10: the MIME tree is built from pieces and each part's encoded text is
    dropped once decoded (about 1.3 times the message's size at the peak, the tree's
    encoded text and the attachments decoded so far); parsing the whole message at
    once held about six times its size."""
    raw, _source = many_attachments(250, 20 * 1024)  # 6.8 MB on the wire, 5 MB of attachments
    tracemalloc.start()
    try:
        content = parse_message(raw)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    decoded = sum(len(a.content) for a in content.attachments)
    assert len(content.attachments) == 250
    assert decoded < peak < 1.5 * len(raw), (peak, decoded, len(raw))
