"""The receiving server's Authentication-Results (RFC 8601): which header is
trusted, and the verdict on the sender. Header samples are the shapes real
servers write (Gmail, Microsoft 365, Postfix with OpenDKIM/OpenDMARC/SPF
policyd); addresses and hosts changed to example domains."""

import pytest

from mailsync import authentication as auth
from mailsync.imap import ImapSettings, connect
from mailsync.imap_sync import MailboxSync
from mailsync.message import parse_headers

GMAIL_PASS = (
    "mx.google.com;\r\n       dkim=pass header.i=@customer.example header.s=s1 header.b=Xb7kT2pQ;\r\n"
    "       spf=pass (google.com: domain of bea@customer.example designates 203.0.113.7 as permitted sender)"
    " smtp.mailfrom=bea@customer.example;\r\n"
    "       dmarc=pass (p=QUARANTINE sp=QUARANTINE dis=NONE) header.from=customer.example"
)
GMAIL_FAIL = (
    "mx.google.com;\r\n       spf=fail (google.com: domain of bea@customer.example does not designate"
    " 198.51.100.66 as permitted sender) smtp.mailfrom=bea@customer.example;\r\n"
    "       dmarc=fail (p=NONE sp=NONE dis=NONE) header.from=customer.example"
)
M365_PASS = (
    "spf=pass (sender IP is 203.0.113.7)\r\n smtp.mailfrom=customer.example; dkim=pass (signature was verified)\r\n"
    " header.d=customer.example;dmarc=pass action=none header.from=customer.example;compauth=pass reason=100"
)
M365_FAIL = (
    "spf=fail (sender IP is 198.51.100.66)\r\n smtp.mailfrom=customer.example; dkim=none (message not signed)\r\n"
    " header.d=none;dmarc=fail action=quarantine header.from=customer.example;compauth=fail reason=000"
)
POSTFIX_DMARC_FAIL = "mail.ourcompany.example; dmarc=fail (p=reject dis=none) header.from=customer.example"
POSTFIX_DKIM_PASS = (
    "mail.ourcompany.example;\r\n\tdkim=pass (2048-bit key; unprotected) header.d=customer.example"
    " header.i=@customer.example header.a=rsa-sha256 header.s=mail header.b=q8b2X1ab"
)
POSTFIX_SPF_FAIL = "mail.ourcompany.example; spf=fail smtp.mailfrom=customer.example"
POSTFIX_DMARC_NONE_SPF_PASS = "mail.ourcompany.example; dmarc=none (p=none dis=none) header.from=customer.example\r\n"
POSTFIX_SOFTFAIL = "mail.ourcompany.example; spf=softfail smtp.mailfrom=customer.example"

GMAIL = auth.trusted_authserv_ids("imap.gmail.com")
M365 = auth.trusted_authserv_ids("outlook.office365.com")
OWN = auth.trusted_authserv_ids("imap.ourcompany.example")


@pytest.mark.parametrize(
    ("values", "trusted", "expected"),
    [
        ([GMAIL_PASS], GMAIL, auth.PASS),
        ([GMAIL_FAIL], GMAIL, auth.FAIL),
        ([M365_PASS], M365, auth.PASS),
        ([M365_FAIL], M365, auth.FAIL),
        ([POSTFIX_DMARC_FAIL], OWN, auth.FAIL),
        ([POSTFIX_DKIM_PASS, POSTFIX_SPF_FAIL], OWN, auth.PASS),  # no DMARC: the topmost says DKIM passed
        ([POSTFIX_SPF_FAIL, POSTFIX_DKIM_PASS], OWN, auth.FAIL),  # topmost only: SPF failed, no DKIM there
        ([POSTFIX_DMARC_NONE_SPF_PASS + "; spf=pass smtp.mailfrom=customer.example"], OWN, auth.PASS),
        ([POSTFIX_SOFTFAIL], OWN, auth.NONE),
        ([], GMAIL, auth.NONE),
    ],
    ids=[
        "gmail-pass",
        "gmail-fail",
        "m365-pass",
        "m365-fail",
        "opendmarc-fail",
        "opendkim-pass-no-dmarc",
        "spf-fail-no-dmarc",
        "dmarc-none-then-spf",
        "softfail-says-nothing",
        "no-header",
    ],
)
def test_verdict_from_real_headers(values, trusted, expected):
    assert auth.verdict(values, trusted) == expected


@pytest.mark.parametrize(
    ("real", "forged", "trusted"),
    [
        (GMAIL_FAIL, GMAIL_PASS, GMAIL),
        (M365_FAIL, M365_PASS, M365),
        (POSTFIX_DMARC_FAIL, "mail.ourcompany.example; dmarc=pass header.from=customer.example", OWN),
    ],
    ids=["gmail", "m365", "postfix"],
)
def test_a_forged_header_below_the_trusted_one_is_ignored(real, forged, trusted):
    # The sender wrote "pass" into the message; the receiving host added its own "fail" on top.
    assert auth.verdict([real, forged], trusted) == auth.FAIL


def test_only_the_trusted_hosts_header_counts():
    forged_elsewhere = "mx.attacker.example; dmarc=pass header.from=customer.example"
    assert auth.verdict([forged_elsewhere, GMAIL_FAIL], GMAIL) == auth.FAIL
    assert auth.verdict([forged_elsewhere], GMAIL) == auth.NONE
    # Microsoft's nameless header is trusted only for Microsoft mailboxes.
    assert auth.verdict([M365_FAIL], OWN) == auth.NONE
    # A look-alike id is not a subdomain of the trusted one.
    assert auth.verdict(["evil-mx.google.com.attacker.example; dmarc=fail"], GMAIL) == auth.NONE


@pytest.mark.parametrize(
    ("host", "configured", "expected"),
    [
        ("imap.gmail.com", None, ("mx.google.com",)),
        ("outlook.office365.com", None, (auth.NO_AUTHSERV_ID,)),
        ("imap.ourcompany.example", None, ("ourcompany.example",)),
        ("mail.example.co.uk", None, ("example.co.uk",)),
        ("127.0.0.1", None, ()),
        ("127.0.0.1", "mx1.ourcompany.example, -", ("mx1.ourcompany.example", auth.NO_AUTHSERV_ID)),
        ("imap.gmail.com", "  ", ("mx.google.com",)),
    ],
)
def test_trusted_authserv_ids(host, configured, expected):
    assert auth.trusted_authserv_ids(host, configured) == expected


@pytest.mark.parametrize(
    "garbage",
    [";;;", "\x00", "mx.google.com; dmarc", "mx.google.com; dmarc=pass (unclosed", "x" * 100_000, "ü; spf=pass"],
)
def test_garbage_never_raises(garbage):
    assert auth.verdict([garbage], GMAIL) == auth.NONE
    assert auth.verdict([garbage, GMAIL_FAIL], GMAIL) == auth.FAIL


def test_the_synced_header_block_carries_authentication_results_top_first(dovecot):
    login = "mailbox41@example.com"
    dovecot.clear(login)
    raw = (
        f"Authentication-Results: {POSTFIX_DMARC_FAIL}\r\n"
        "Received: from mx.attacker.example by mail.ourcompany.example; Mon, 23 Nov 2026 10:00:00 +0000\r\n"
        "Authentication-Results: mail.ourcompany.example; dmarc=pass header.from=customer.example\r\n"
        "From: Bea <bea@customer.example>\r\nTo: sam@ourcompany.example\r\nSubject: Invoice\r\n"
        "Message-ID: <forged-1@customer.example>\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\n\r\nPay now.\r\n"
    ).encode()
    dovecot.append(login, "INBOX", raw)
    with connect(ImapSettings(dovecot.host, dovecot.port, "none", login, "pw")) as session:
        records = [record for batch in MailboxSync(session).batches() for record in batch.records]
    headers = parse_headers(records[0].raw_headers)
    assert len(headers.authentication_results) == 2
    assert auth.verdict(headers.authentication_results, OWN) == auth.FAIL
    assert parse_headers(raw).authentication_results == headers.authentication_results
