"""Inline forwards of the common clients: the original read back, and its
identity matching the original's as a mailbox reads it (issue 16).

data/forwards/ holds one customer email and its inline forward by Gmail,
Outlook for Windows, Outlook on the web, Apple Mail and Thunderbird (see its
README); the forwarder's time zone is Europe/Paris.
"""

import dataclasses
import datetime
import pathlib
from zoneinfo import ZoneInfo

import pytest

from mailsync import forwarded, message

DATA = pathlib.Path(__file__).parent / "data" / "forwards"
PARIS = ZoneInfo("Europe/Paris")
CLIENTS = ["gmail", "outlook", "outlook_web", "apple_mail", "thunderbird"]
ORIGINAL = message.parse_message((DATA / "original.eml").read_bytes())


def forward(client):
    return message.parse_message((DATA / f"{client}.eml").read_bytes())


@pytest.mark.parametrize("client", CLIENTS)
def test_an_inline_forward_gives_the_original_as_the_mailbox_has_it(client):
    found = forwarded.original(forward(client), zone=PARIS)
    assert found.shape == "inline"
    headers = found.content.headers
    assert headers.sender == (("Bea Buyer", "bea@customer.example"),)
    assert headers.subject == "Chairs for the new office"
    assert {key for _name, key in headers.to} == {"sam@example.com"}
    assert {key for _name, key in headers.cc} == {"cy@customer.example"}
    # Gmail and Outlook show no seconds: the minute is what the forward knows.
    assert headers.date.replace(second=0) == datetime.datetime(2026, 11, 23, 10, 15, tzinfo=datetime.UTC)
    assert "We need 40 chairs for the new office." in found.content.body_text()
    assert "From:" not in found.content.body_text()
    # Its identity is the original's key, the one the original read from the mailbox has.
    assert found.key == forwarded.headers_key(ORIGINAL.headers) != ""
    assert headers.identity == forwarded.INLINE + found.key
    assert ORIGINAL.headers.identity == "<CAB3x7QkChairs1@mail.customer.example>"


@pytest.mark.parametrize("client", CLIENTS)
def test_the_html_part_alone_gives_the_same_original(client):
    """Clients that send HTML only (Outlook on the web, often Apple Mail on iOS)."""
    content = forward(client)
    found = forwarded.original(dataclasses.replace(content, text=""), zone=PARIS)
    assert found.key == forwarded.headers_key(ORIGINAL.headers)
    assert found.content.headers.subject == "Chairs for the new office"
    assert "We need 40 chairs" in found.content.body_text()


def test_the_key_is_the_same_whichever_client_forwarded():
    keys = {forwarded.original(forward(client), zone=PARIS).key for client in CLIENTS}
    assert len(keys) == 1


def test_a_date_shown_without_its_zone_is_read_in_the_forwarders():
    """The limit: Gmail and Outlook show the forwarder's local time. Read in
    another zone, the key differs (two entries, nothing merged wrongly);
    Thunderbird's date carries its offset and matches whatever the zone."""
    original_key = forwarded.headers_key(ORIGINAL.headers)
    for client in ("gmail", "outlook", "outlook_web"):
        assert forwarded.original(forward(client)).key != original_key, client  # read as UTC
    assert forwarded.original(forward("thunderbird")).key == original_key


def test_the_key_folds_case_spaces_and_seconds_but_not_the_sender():
    date = datetime.datetime(2026, 11, 23, 10, 15, 42, tzinfo=datetime.UTC)
    key = forwarded.forward_key("bea@customer.example", "Chairs  for the new office", date)
    assert key == forwarded.forward_key("bea@customer.example", "chairs for the NEW office", date.replace(second=0))
    assert key != forwarded.forward_key("cy@customer.example", "Chairs for the new office", date)
    assert key != forwarded.forward_key("bea@customer.example", "Chairs for the new office", date.replace(minute=16))
    assert forwarded.forward_key("", "Chairs", date) == forwarded.forward_key("bea@customer.example", "x", None) == ""


def test_an_unreadable_date_gives_no_key_and_the_forwards_date():
    content = forward("gmail")
    text = content.text.replace("Mon, Nov 23, 2026 at 11:15 AM", "le lundi d'avant")
    fallback = datetime.datetime(2026, 11, 23, 13, 2, tzinfo=datetime.UTC)
    found = forwarded.original(dataclasses.replace(content, text=text), fallback_date=fallback, zone=PARIS)
    assert (found.key, found.content.headers.date) == ("", fallback)
    assert not found.content.headers.identity.startswith(forwarded.INLINE)


def test_a_bare_header_block_needs_from_date_and_subject():
    """Outlook's plain text has no separator: a From line alone is not taken
    for a forwarded original."""
    content = forward("outlook")
    text = "Met Bea today.\n\nFrom: Bea Buyer <bea@customer.example>\nShe wants chairs.\n"
    assert forwarded.original(dataclasses.replace(content, text=text, html=""), zone=PARIS) is None
