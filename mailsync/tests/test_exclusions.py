"""Exclusion defaults on real message samples: a newsletter, an auto-reply, a
calendar invitation, an internal thread, a role address; and the blocklist.
The header rules are also checked on the header block a real Dovecot gives
the sync (no extra round trip)."""

import pytest

from mailsync import exclusions
from mailsync.addresses import Exclusions
from mailsync.imap import ImapSettings, connect
from mailsync.imap_sync import MailboxSync
from mailsync.matching import Scope, external_keys
from mailsync.message import parse_headers

# As Mailchimp sends a campaign (headers trimmed to the usual ones).
NEWSLETTER = (
    b"Return-Path: <bounce-mc.us5_1234.5678-sam=ourcompany.example@mail123.atl11.mcsv.net>\r\n"
    b"From: Furniture Weekly <editor@furnitureweekly.example>\r\n"
    b"Reply-To: Furniture Weekly <editor@furnitureweekly.example>\r\n"
    b"To: sam@ourcompany.example\r\n"
    b"Subject: =?utf-8?Q?This_week=3A_5_office_trends?=\r\n"
    b"Date: Tue, 24 Nov 2026 14:03:11 +0000\r\n"
    b"Message-ID: <0a1b2c3d4e5f.1234567@mail123.atl11.mcsv.net>\r\n"
    b"List-Unsubscribe: <https://furnitureweekly.us5.list-manage.com/unsubscribe?u=1&id=2>, "
    b"<mailto:unsubscribe-mc.us5_1234@unsubscribe.mailchimpapp.net?subject=unsubscribe>\r\n"
    b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
    b"List-Id: 1234abcd mailchimp list <1234abcd.5678.list-id.mcsv.net>\r\n"
    b"Precedence: bulk\r\n"
    b"MIME-Version: 1.0\r\n"
    b'Content-Type: multipart/alternative; boundary="_----------=_MCPart_1"\r\n'
    b"\r\n"
    b"--_----------=_MCPart_1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nTrends.\r\n"
    b"--_----------=_MCPart_1--\r\n"
)

# An Exchange out-of-office reply (RFC 3834 Auto-Submitted).
AUTO_REPLY = (
    b"From: Bea Buyer <bea@customer.example>\r\n"
    b"To: Sam Seller <sam@ourcompany.example>\r\n"
    b"Subject: Automatic reply: Your quote\r\n"
    b"Date: Wed, 25 Nov 2026 08:00:00 +0100\r\n"
    b"Message-ID: <AM0PR01MB1234.oof@AM0PR01MB1234.eurprd01.prod.outlook.com>\r\n"
    b"In-Reply-To: <quote-1@ourcompany.example>\r\n"
    b"Auto-Submitted: auto-replied\r\n"
    b"X-Auto-Response-Suppress: All\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=us-ascii\r\n"
    b"\r\n"
    b"I am out of the office until December 1st.\r\n"
)

# As Google Calendar sends an invitation: the text/calendar part is nested.
INVITATION = (
    b"From: Bea Buyer <bea@customer.example>\r\n"
    b"To: sam@ourcompany.example\r\n"
    b"Subject: Invitation: Showroom visit @ Thu Dec 3, 2026 10am - 11am (CET)\r\n"
    b"Date: Thu, 26 Nov 2026 09:12:00 +0000\r\n"
    b"Message-ID: <calendar-0f1e2d3c@google.com>\r\n"
    b"Reply-To: Bea Buyer <bea@customer.example>\r\n"
    b"MIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="000000000000mixed"\r\n'
    b"\r\n"
    b"--000000000000mixed\r\n"
    b'Content-Type: multipart/alternative; boundary="000000000000alt"\r\n'
    b"\r\n"
    b"--000000000000alt\r\n"
    b'Content-Type: text/plain; charset="UTF-8"\r\n\r\nYou have been invited to Showroom visit.\r\n'
    b"--000000000000alt\r\n"
    b'Content-Type: text/calendar; charset="UTF-8"; method=REQUEST\r\n'
    b"Content-Transfer-Encoding: 7bit\r\n\r\n"
    b"BEGIN:VCALENDAR\r\nPRODID:-//Google Inc//Google Calendar 70.9054//EN\r\nVERSION:2.0\r\n"
    b"METHOD:REQUEST\r\nBEGIN:VEVENT\r\nDTSTART:20261203T090000Z\r\nDTEND:20261203T100000Z\r\n"
    b"SUMMARY:Showroom visit\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    b"--000000000000alt--\r\n"
    b"--000000000000mixed--\r\n"
)

# Outlook sends a cancellation as a text/calendar message itself.
CANCELLATION = (
    b"From: Bea Buyer <bea@customer.example>\r\n"
    b"To: sam@ourcompany.example\r\n"
    b"Subject: Canceled: Showroom visit\r\n"
    b"Date: Thu, 26 Nov 2026 10:00:00 +0000\r\n"
    b"Message-ID: <cancel-1@customer.example>\r\n"
    b'Content-Type: text/calendar; charset="utf-8"; method=CANCEL\r\n'
    b"\r\n"
    b"BEGIN:VCALENDAR\r\nMETHOD:CANCEL\r\nEND:VCALENDAR\r\n"
)

# A colleague answers a colleague: nothing in it is a customer.
INTERNAL = (
    b"From: Tina Teammate <tina@ourcompany.example>\r\n"
    b"To: Sam Seller <sam@ourcompany.example>\r\n"
    b"Cc: otto@ourcompany.example\r\n"
    b"Subject: Re: Team lunch\r\n"
    b"Date: Fri, 27 Nov 2026 12:00:00 +0000\r\n"
    b"Message-ID: <lunch-2@ourcompany.example>\r\n"
    b"In-Reply-To: <lunch-1@ourcompany.example>\r\n"
    b"\r\n"
    b"Noon is fine.\r\n"
)

# A person writing (with an iCalendar file that is only a reply, METHOD:REPLY).
PERSON = (
    b"From: Bea Buyer <bea@customer.example>\r\n"
    b"To: sam@ourcompany.example\r\n"
    b"Subject: Order of 500 chairs\r\n"
    b"Date: Fri, 27 Nov 2026 15:00:00 +0000\r\n"
    b"Message-ID: <order-1@customer.example>\r\n"
    b"Auto-Submitted: no\r\n"
    b'Content-Type: text/plain; charset="utf-8"\r\n'
    b"\r\n"
    b"Please send the quote.\r\n"
)

SUPPORT = PERSON.replace(b"Bea Buyer <bea@customer.example>", b"Acme Support <support@acme.example>")

SCOPE = Scope.build(own_addresses=["sam@ourcompany.example"], internal_domains=["ourcompany.example"])


def test_a_newsletter_is_bulk():
    assert exclusions.header_reason(NEWSLETTER) == exclusions.BULK
    assert exclusions.reason(NEWSLETTER) == exclusions.BULK


def test_an_auto_reply_is_bulk():
    assert exclusions.header_reason(AUTO_REPLY) == exclusions.BULK


@pytest.mark.parametrize("precedence", [b"bulk", b"List", b"junk"])
def test_precedence_bulk_list_junk(precedence):
    raw = PERSON.replace(b"Auto-Submitted: no", b"Precedence: " + precedence)
    assert exclusions.header_reason(raw) == exclusions.BULK


def test_a_calendar_invitation_nested_in_multipart_is_found_in_the_whole_message():
    assert exclusions.header_reason(INVITATION) is None  # multipart/mixed: the header cannot tell
    assert exclusions.is_calendar_invitation(INVITATION)
    assert exclusions.reason(INVITATION) == exclusions.CALENDAR


def test_a_calendar_part_is_found_however_its_type_is_spelt():
    assert exclusions.is_calendar_invitation(INVITATION.replace(b"text/calendar", b"Text/Calendar"))
    assert not exclusions.is_calendar_invitation(INVITATION.replace(b"text/calendar", b"text/plain"))


def test_a_message_without_calendar_part_is_not_parsed(monkeypatch):
    """Issue 10: a large attachment-laden message is not parsed a second time just to learn it has no invitation."""
    parsed = []
    monkeypatch.setattr(exclusions, "parse_tree", lambda raw, policy: parsed.append(raw))
    assert not exclusions.is_calendar_invitation(PERSON + b"x" * 1_000_000)
    assert parsed == []


def test_a_cancellation_is_found_from_its_headers():
    assert exclusions.header_reason(CANCELLATION) == exclusions.CALENDAR


def test_an_internal_thread_gives_no_customer():
    assert exclusions.reason(INTERNAL) is None
    assert external_keys(parse_headers(INTERNAL), SCOPE) == set()


def test_a_role_address_is_excluded_a_person_is_not():
    assert exclusions.reason(SUPPORT) == exclusions.ROLE
    assert exclusions.reason(PERSON) is None
    scope = Scope(SCOPE.own_addresses, SCOPE.internal_domains, Exclusions(exclusions.role_exclusions()))
    assert external_keys(parse_headers(SUPPORT), scope) == set()
    assert external_keys(parse_headers(PERSON), scope) == {"bea@customer.example"}


def test_each_rule_can_be_turned_off():
    assert exclusions.reason(NEWSLETTER, rules=()) is None
    assert exclusions.reason(INVITATION, rules=(exclusions.BULK,)) is None
    assert exclusions.reason(SUPPORT, rules=(exclusions.BULK, exclusions.CALENDAR)) is None
    assert exclusions.reason(AUTO_REPLY, rules=(exclusions.CALENDAR, exclusions.ROLE)) is None


def test_broken_headers_never_raise():
    for raw in (b"", b"\xff\xfe\x00", b"Content-Type: text/calendar; method=\r\n\r\n", b"List-Id:\r\n\r\n"):
        assert exclusions.reason(raw) in (None, exclusions.CALENDAR, exclusions.BULK)


def test_blocklist_entries_address_domain_subdomains():
    assert exclusions.Blocklist.entry("Spam@Vendor.example", "address") == "spam@vendor.example"
    assert exclusions.Blocklist.entry("spam@vendor.example", "domain") == "vendor.example"
    assert exclusions.Blocklist.entry("vendor.example", "subdomains") == "*.vendor.example"
    assert exclusions.Blocklist.entry("not an address", "address") is None
    assert exclusions.Blocklist.entry("not a domain!", "domain") is None
    assert exclusions.Blocklist.entry("vendor", "domain") is None
    assert exclusions.Blocklist.entry("Bücher.example", "domain") == "xn--bcher-kva.example"
    blocked = Exclusions(["vendor.example"]).union(Exclusions(["*.ads.example", "x@other.example"]))
    assert blocked.matches("a@vendor.example")
    assert not blocked.matches("a@eu.vendor.example")
    assert blocked.matches("a@eu.ads.example")
    assert blocked.matches("X@Other.example")
    assert not blocked.matches("y@other.example")


def test_the_sync_header_block_carries_what_the_rules_read(dovecot):
    """The newsletter and the auto-reply are told apart from the header block
    the sync fetches anyway (HEADER_FIELDS), the person's mail is not."""
    login = "mailbox42@example.com"
    for raw in (NEWSLETTER, AUTO_REPLY, CANCELLATION, PERSON):
        dovecot.append(login, "INBOX", raw)
    with connect(ImapSettings(dovecot.host, dovecot.port, "none", login, "pw")) as session:
        records = [record for batch in MailboxSync(session).batches() for record in batch.records]
    reasons = {parse_headers(r.raw_headers).subject: exclusions.header_reason(r.raw_headers) for r in records}
    assert reasons == {
        "This week: 5 office trends": exclusions.BULK,
        "Automatic reply: Your quote": exclusions.BULK,
        "Canceled: Showroom visit": exclusions.CALENDAR,
        "Order of 500 chairs": None,
    }
