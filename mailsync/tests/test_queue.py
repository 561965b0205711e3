"""Company email logging on a real Dovecot: the queue read in batches, moved
only after the caller's commit, MOVE or UIDPLUS (never a plain EXPUNGE),
folders checked and created; forwarded originals read."""

import datetime
import itertools

import pytest

from mailsync import forwarded, message, queue
from mailsync.imap import ImapSettings, connect
from mailsync.testing.dovecot import DovecotServer

_users = itertools.count(1)
FOLDERS = queue.QueueFolders("INBOX", "Logged", "Not logged")


def mail(n, sender="bea@customer.example", to="log@example.com"):
    return (
        f"From: {sender}\r\nTo: {to}\r\nSubject: Message {n}\r\nMessage-ID: <q{n}@customer.example>\r\n"
        f"Date: Mon, 23 Nov 2026 10:00:00 +0000\r\n\r\nBody of message {n}.\r\n"
    ).encode()


QUEUE_USERS = {f"queue{n}@example.com": "pw" for n in range(1, 21)}


@pytest.fixture(scope="module")
def servers():
    """Three real Dovecots: one as shipped (MOVE and UIDPLUS), one that
    advertises UIDPLUS without MOVE, one with neither."""
    with (
        DovecotServer(users=QUEUE_USERS) as full,
        DovecotServer(users=QUEUE_USERS, extra_config="imap_capability = IMAP4rev1 LITERAL+ UIDPLUS") as uidplus,
        DovecotServer(users=QUEUE_USERS, extra_config="imap_capability = IMAP4rev1 LITERAL+") as bare,
    ):
        yield {"full": full, "uidplus": uidplus, "bare": bare}


def mailbox(server, folders=("Logged", "Not logged")):
    login = f"queue{next(_users)}@example.com"
    client = server.client(login)
    for name in folders:
        client.create_folder(name)
    client.logout()
    return login, ImapSettings(server.host, server.port, "none", login, "pw")


def contents(server, login):
    """``{folder: sorted subjects}`` of the three folders, \\Deleted included."""
    client = server.client(login)
    found = {}
    try:
        for name in ("INBOX", "Logged", "Not logged"):
            if not client.folder_exists(name):
                continue
            client.select_folder(name, readonly=True)
            uids = client.search(["ALL"])
            data = client.fetch(uids, [b"BODY.PEEK[HEADER.FIELDS (SUBJECT)]"]) if uids else {}
            found[name] = sorted(
                message.parse_headers(item[b"BODY[HEADER.FIELDS (SUBJECT)]"]).subject for item in data.values()
            )
    finally:
        client.logout()
    return found


def process(settings, decide, batch_size=2, fail_after=None):
    """Drive the reader as the Odoo sync does: for each batch, decide where
    each message goes (``decide(subject)`` -> STORAGE/NOT_LOGGED/None),
    "commit", ask for the next. ``fail_after``: raise after that many
    batches, before the "commit" of the next."""
    handed = []
    with connect(settings) as session, queue.open_queue(session, FOLDERS, batch_size=batch_size) as reader:
        for count, batch in enumerate(reader.batches()):
            if fail_after is not None and count >= fail_after:
                raise RuntimeError("worker killed")
            for record in batch.records:
                where = decide(message.parse_headers(record.raw_headers).subject)
                if where:
                    batch.destinations[record.uid] = where
            handed.append(batch)
    return handed


@pytest.mark.parametrize("kind", ["full", "uidplus"])
def test_processed_messages_move_to_storage_and_not_logged(servers, kind):
    server = servers[kind]
    login, settings = mailbox(server)
    for n in range(1, 6):
        server.append(login, "INBOX", mail(n))
    poison = {"Message 3"}
    batches = process(settings, lambda subject: queue.NOT_LOGGED if subject in poison else queue.STORAGE)
    assert [len(batch.records) for batch in batches] == [2, 2, 1]
    assert contents(server, login) == {
        "INBOX": [],
        "Logged": ["Message 1", "Message 2", "Message 4", "Message 5"],
        "Not logged": ["Message 3"],
    }
    # The new place of a not-logged message, for Retry (COPYUID, RFC 4315).
    uidvalidity, uids = batches[1].moved[queue.NOT_LOGGED]
    assert uidvalidity and list(uids.values()) == [1]


def test_without_move_only_the_copied_messages_are_expunged(servers):
    """UID EXPUNGE of the copied UIDs: a message someone else marked
    \\Deleted in the queue is left alone (a plain EXPUNGE would remove it)."""
    server = servers["uidplus"]
    login, settings = mailbox(server)
    server.append(login, "INBOX", mail(1))
    server.append(login, "INBOX", mail(2), flags=[b"\\Deleted"])
    process(settings, lambda subject: queue.STORAGE)
    assert contents(server, login) == {"INBOX": ["Message 2"], "Logged": ["Message 1"], "Not logged": []}


def test_a_crash_before_the_commit_moves_nothing_and_the_next_run_finishes(servers):
    server = servers["full"]
    login, settings = mailbox(server)
    for n in range(1, 6):
        server.append(login, "INBOX", mail(n))
    with pytest.raises(RuntimeError, match="worker killed"):
        process(settings, lambda subject: queue.STORAGE, fail_after=1)
    # Batch 1 was "committed" (the next was asked for): moved; batch 2 was not.
    assert contents(server, login)["Logged"] == ["Message 1", "Message 2"]
    assert contents(server, login)["INBOX"] == ["Message 3", "Message 4", "Message 5"]
    process(settings, lambda subject: queue.STORAGE)
    found = contents(server, login)
    assert found["INBOX"] == [] and found["Logged"] == [f"Message {n}" for n in range(1, 6)]


def test_a_message_left_undecided_stays_in_the_queue(servers):
    server = servers["full"]
    login, settings = mailbox(server)
    server.append(login, "INBOX", mail(1))
    server.append(login, "INBOX", mail(2))
    process(settings, lambda subject: queue.STORAGE if subject == "Message 1" else None)
    assert contents(server, login) == {"INBOX": ["Message 2"], "Logged": ["Message 1"], "Not logged": []}


def test_stopping_early_still_moves_the_committed_batch(servers):
    """The sync stops at its time budget right after a commit: the block
    ends normally, so the last batch handed out is moved."""
    server = servers["full"]
    login, settings = mailbox(server)
    for n in range(1, 4):
        server.append(login, "INBOX", mail(n))
    with connect(settings) as session, queue.open_queue(session, FOLDERS, batch_size=2) as reader:
        for batch in reader.batches():
            for record in batch.records:
                batch.destinations[record.uid] = queue.STORAGE
            break
    assert contents(server, login)["Logged"] == ["Message 1", "Message 2"]
    assert contents(server, login)["INBOX"] == ["Message 3"]


def test_validate_lists_missing_folders_and_creates_them(servers):
    server = servers["full"]
    login, settings = mailbox(server, folders=())
    with connect(settings) as session:
        assert queue.check_setup(session, FOLDERS) == [
            (queue.STORAGE_MISSING, "Logged"),
            (queue.NOT_LOGGED_MISSING, "Not logged"),
        ]
        assert queue.check_setup(session, queue.QueueFolders("Queue", "Logged", "Logged")) == [
            (queue.SAME_FOLDER, None),
            (queue.QUEUE_MISSING, "Queue"),
            (queue.STORAGE_MISSING, "Logged"),
            (queue.NOT_LOGGED_MISSING, "Logged"),
        ]
        assert queue.create_folders(session, ["INBOX", "Logged", "Not logged"]) == ["Logged", "Not logged"]
        assert queue.check_setup(session, FOLDERS) == []
        assert queue.create_folders(session, ["Logged"]) == []
    # The reader refuses to start with a folder missing, before touching anything.
    server.append(login, "INBOX", mail(1))
    wrong = queue.QueueFolders("INBOX", "Archive2", "Not logged")
    with (
        connect(settings) as session,
        queue.open_queue(session, wrong) as reader,
        pytest.raises(queue.QueueSetupError) as refused,
    ):
        next(reader.batches())
    assert refused.value.problems == [(queue.STORAGE_MISSING, "Archive2")]
    assert contents(server, login)["INBOX"] == ["Message 1"]


def test_a_server_without_move_nor_uidplus_is_refused(servers):
    server = servers["bare"]
    login, settings = mailbox(server)
    server.append(login, "INBOX", mail(1))
    with connect(settings) as session:
        assert queue.check_setup(session, FOLDERS) == [(queue.CANNOT_MOVE, None)]
    with pytest.raises(queue.QueueSetupError) as refused:
        process(settings, lambda subject: queue.STORAGE)
    assert refused.value.problems == [(queue.CANNOT_MOVE, None)]
    assert contents(server, login)["INBOX"] == ["Message 1"]


def test_copyuid_reads_ranges():
    assert queue.copyuid([b"[COPYUID 38505 304,319:320 3956:3958] Done"]) == (38505, {304: 3956, 319: 3957, 320: 3958})
    assert queue.copyuid([b"OK done", None]) == (0, {})


# -- forwarded originals ---------------------------------------------------------

FORWARD_HEAD = (
    "From: Sam Seller <sam@example.com>\r\nTo: log@example.com\r\nSubject: Fwd: Chairs\r\n"
    "Message-ID: <fwd@example.com>\r\nDate: Tue, 24 Nov 2026 09:00:00 +0000\r\n"
)


def forward(body, content_type="text/plain; charset=utf-8"):
    raw = f"{FORWARD_HEAD}MIME-Version: 1.0\r\nContent-Type: {content_type}\r\n\r\n{body}"
    return message.parse_message(raw.encode())


INLINE = {
    "gmail": (
        "FYI\r\n\r\n---------- Forwarded message ---------\r\nFrom: Bea Buyer <bea@customer.example>\r\n"
        "Date: Mon, Nov 23, 2026 at 10:15 AM\r\nSubject: Chairs\r\nTo: Sam Seller <sam@example.com>\r\n"
        "Cc: <cy@customer.example>\r\n\r\nWe need 40 chairs.\r\n"
    ),
    "outlook": (
        "FYI\r\n\r\n________________________________\r\n"
        "From: Bea Buyer <bea@customer.example<mailto:bea@customer.example>>\r\n"
        "Sent: Monday, November 23, 2026 10:15 AM\r\nTo: Sam Seller <sam@example.com>\r\n"
        "Cc: cy@customer.example\r\nSubject: Chairs\r\n\r\nWe need 40 chairs.\r\n"
    ),
    "outlook-original": (
        "-----Original Message-----\r\nFrom: Bea Buyer [mailto:bea@customer.example]\r\n"
        "Sent: Monday, November 23, 2026 10:15 AM\r\nTo: Sam Seller\r\nCc: cy@customer.example\r\n"
        "Subject: Chairs\r\n\r\nWe need 40 chairs.\r\n"
    ),
    "apple": (
        "FYI\r\n\r\nBegin forwarded message:\r\n\r\nFrom: Bea Buyer <bea@customer.example>\r\n"
        "Subject: Chairs\r\nDate: November 23, 2026 at 11:15:00 AM GMT+1\r\nTo: Sam Seller <sam@example.com>\r\n"
        "Cc: cy@customer.example\r\n\r\nWe need 40 chairs.\r\n"
    ),
    "thunderbird": (
        "\r\n-------- Forwarded Message --------\r\nSubject: \tChairs\r\nDate: \tMon, 23 Nov 2026 10:15:00 +0000\r\n"
        "From: \tBea Buyer <bea@customer.example>\r\nTo: \tSam Seller <sam@example.com>\r\n"
        "CC: \tcy@customer.example\r\n\r\nWe need 40 chairs.\r\n"
    ),
    "french-gmail": (
        "---------- Message transféré ---------\r\nDe : Bea Buyer <bea@customer.example>\r\n"
        "Date: Mon, 23 Nov 2026 10:15:00 +0000\r\nObjet : Chairs\r\nÀ : Sam Seller <sam@example.com>\r\n"
        "Cc: cy@customer.example\r\n\r\nWe need 40 chairs.\r\n"
    ),
    "spanish-outlook": (
        "________________________________\r\nDe: Bea Buyer <bea@customer.example>\r\n"
        "Enviado: Monday, November 23, 2026 10:15 AM\r\nPara: Sam Seller <sam@example.com>\r\n"
        "CC: cy@customer.example\r\nAsunto: Chairs\r\n\r\nWe need 40 chairs.\r\n"
    ),
}


@pytest.mark.parametrize("client", sorted(INLINE))
def test_an_inline_forward_gives_the_original_sender_date_and_body(client):
    found = forwarded.original(forward(INLINE[client]))
    assert found.shape == "inline"
    headers = found.content.headers
    assert headers.sender == (("Bea Buyer", "bea@customer.example"),)
    assert headers.subject == "Chairs"
    assert "cy@customer.example" in {key for _name, key in headers.cc}
    if client != "outlook-original":
        assert headers.to == (("Sam Seller", "sam@example.com"),)
    assert headers.date == datetime.datetime(2026, 11, 23, 10, 15, tzinfo=datetime.UTC)
    assert "We need 40 chairs." in found.content.text
    # Stable: the same forward read twice is the same message (no double log).
    assert forwarded.original(forward(INLINE[client])).content.headers.identity == headers.identity


def test_a_forward_as_attachment_gives_the_attached_message():
    inner = mail(7, to="sam@example.com")
    raw = (
        f"{FORWARD_HEAD}MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
        "--b\r\nContent-Type: text/plain\r\n\r\nSee below.\r\n"
        f"--b\r\nContent-Type: message/rfc822\r\n\r\n{inner.decode()}\r\n--b--\r\n"
    ).encode()
    found = forwarded.original(message.parse_message(raw))
    assert found.shape == "attachment"
    assert found.content.headers.message_id == "<q7@customer.example>"
    assert found.content.headers.sender == (("", "bea@customer.example"),)
    assert found.content.headers.date == datetime.datetime(2026, 11, 23, 10, 0, tzinfo=datetime.UTC)


@pytest.mark.parametrize(
    "body",
    [
        "Just a note, nothing forwarded.\r\n",
        "---------- Forwarded message ---------\r\nnot headers at all\r\n",
        "---------- Forwarded message ---------\r\nFrom:\r\n\r\n",
        "________________________________\r\n\r\nsignature\r\n",
    ],
)
def test_not_a_forward_gives_none(body):
    assert forwarded.original(forward(body)) is None


def test_an_unreadable_inline_date_falls_back():
    body = INLINE["gmail"].replace("Mon, Nov 23, 2026 at 10:15 AM", "lundi dernier")
    fallback = datetime.datetime(2026, 11, 24, 9, 0, tzinfo=datetime.UTC)
    assert forwarded.original(forward(body), fallback_date=fallback).content.headers.date == fallback
