"""Connections as they are: a drop at any step is ConnectionLost, a new sync resumes
from the last committed state (progress included), bodies come a few at a time, a
folder that cannot be opened is an error."""

import datetime
import itertools

import pytest

from mailsync.errors import (
    AuthenticationFailed,
    ConnectionLost,
    FolderUnavailable,
    MailboxRefused,
    MailConnectionError,
    ServerUnavailable,
)
from mailsync.imap import ImapSettings, connect
from mailsync.imap_sync import INBOX, SENT, Batch, FolderState, MailboxSync, SyncState
from mailsync.message import parse_headers
from mailsync.testing.dovecot import DovecotServer
from mailsync.testing.proxy import CuttingProxy
from mailsync.testing.scripted_imap import Reply, ScriptedImapServer, select_lines

_users = itertools.count(1)


def mail(n, size=0):
    padding = "".join(f"line {i} of the long body of message {n}\r\n" for i in range(size // 40))
    return (
        f"From: bea@customer.example\r\nTo: sam@example.com\r\nSubject: Message {n}\r\n"
        f"Message-ID: <m{n}@customer.example>\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\n\r\n"
        f"Body of message {n}.\r\n{padding}"
    ).encode()


def header_lines(*uids):
    lines = []
    for uid in uids:
        block = b"From: bea@customer.example\r\nSubject: Message %d\r\n\r\n" % uid
        prefix = b"%d FETCH (UID %d RFC822.SIZE 500 BODY[HEADER.FIELDS (FROM SUBJECT)] {%d}" % (uid, uid, len(block))
        lines += [(prefix, block), b")"]
    return lines


def body_lines(*uids):
    lines = []
    for uid in uids:
        body = mail(uid)
        lines += [(b"%d FETCH (UID %d BODY[] {%d}" % (uid, uid, len(body)), body), b")"]
    return lines


def script(**steps):
    """A two-folder mailbox (INBOX, Sent flagged), two messages each; ``steps`` replace replies."""
    base = {
        "LIST": [b'LIST (\\HasNoChildren) "/" "INBOX"', b'LIST (\\HasNoChildren \\Sent) "/" "Sent"'],
        "EXAMINE": select_lines({b"UIDVALIDITY": 1, b"UIDNEXT": 3, b"EXISTS": 2}),
        "UID SEARCH": [b"SEARCH 1 2"],
        "UID FETCH": header_lines(1, 2),
        "STATUS": [b'STATUS "INBOX" (UIDNEXT 3 UIDVALIDITY 1)'],
    }
    base.update({key.replace("_", " "): value for key, value in steps.items()})
    return base


def scripted_settings(server):
    return ImapSettings(server.host, server.port, "none", "sam@example.com", "pw", timeout=5)


def synced_state():
    return SyncState(
        {
            "INBOX": FolderState("INBOX", INBOX, 1, 2, 3, 0, 2, 2),
            "Sent": FolderState("Sent", SENT, 1, 2, 3, 0, 2, 2),
        }
    )


def full_sync(sync):
    for batch in sync.batches():
        dict(batch.iter_bodies([record.uid for record in batch.records]))


CUT_FETCH = (b"1 FETCH (UID 1 RFC822.SIZE 500 BODY[HEADER.FIELDS (FROM)] {80}", b"From: bea@cust")
STEPS = {
    "LIST": (lambda drop: {"LIST": Reply([], drop=drop)}, full_sync),
    "EXAMINE": (lambda drop: {"EXAMINE": Reply([b"FLAGS ()"], drop=drop)}, full_sync),
    "SEARCH": (lambda drop: {"UID_SEARCH": Reply([], drop=drop)}, full_sync),
    "FETCH headers, inside a literal": (lambda drop: {"UID_FETCH": Reply([CUT_FETCH], drop=drop)}, full_sync),
    "FETCH bodies": (
        lambda drop: {"UID_FETCH": [Reply(header_lines(1, 2)), Reply(body_lines(1)[:1], drop=drop)]},
        full_sync,
    ),
    "STATUS": (lambda drop: {"STATUS": Reply([], drop=drop)}, lambda sync: sync.changed()),
}


@pytest.mark.parametrize("drop", ["close", "reset"])
@pytest.mark.parametrize("step", list(STEPS))
def test_a_connection_dropped_at_any_step_is_connection_lost(step, drop):
    steps, action = STEPS[step]
    with ScriptedImapServer(script(**steps(drop))) as server, connect(scripted_settings(server)) as session:
        sync = MailboxSync(session, synced_state() if step == "STATUS" else None)
        with pytest.raises(ConnectionLost) as caught:
            action(sync)
    error = caught.value
    assert isinstance(error, MailConnectionError)
    assert error.code == "connection_lost"
    assert (error.host, error.port) == (server.host, server.port)
    assert str(error).startswith(f"IMAP server {server.host}:{server.port}: the connection was lost during the sync.")
    assert "It resumes automatically" in str(error)


def test_a_listed_folder_that_cannot_be_opened_is_an_error_not_a_silent_success():
    refused = Reply(status="NO", text="[NOPERM] Permission denied")
    with (
        ScriptedImapServer(script(EXAMINE=refused)) as server,
        connect(scripted_settings(server)) as session,
        pytest.raises(FolderUnavailable) as caught,
    ):
        list(MailboxSync(session).batches())
    error = caught.value
    assert (error.code, error.folder) == ("folder_unavailable", "INBOX")
    assert "Permission denied" in error.detail
    assert "the folder 'INBOX' cannot be opened" in str(error)


@pytest.mark.parametrize(
    ("text", "error_type", "temporary"),
    [
        ("[UNAVAILABLE] Temporary authentication failure", ServerUnavailable, True),
        ("[LIMIT] Too many open mailboxes", ServerUnavailable, True),
        ("[EXPIRED] Your password has expired", AuthenticationFailed, False),
        ("User is authenticated but not connected.", MailboxRefused, False),
    ],
)
def test_a_refusal_of_the_account_at_examine_is_classified_not_blamed_on_the_folder(text, error_type, temporary):
    with (
        ScriptedImapServer(script(EXAMINE=Reply(status="NO", text=text))) as server,
        connect(scripted_settings(server)) as session,
        pytest.raises(MailConnectionError) as caught,
    ):
        list(MailboxSync(session).batches())
    error = caught.value
    assert type(error) is error_type, repr(error)
    assert not isinstance(error, FolderUnavailable)
    assert error.temporary is temporary
    assert text in error.detail


def test_a_folder_gone_between_list_and_examine_is_skipped_and_forgotten():
    both = script()["LIST"]
    steps = {
        "LIST": [Reply(both), Reply(both[:1])],  # Sent is deleted right after the first LIST
        "EXAMINE": [Reply(select_lines({b"UIDVALIDITY": 1, b"UIDNEXT": 1})), Reply(status="NO", text="No such folder")],
        "UID_SEARCH": [b"SEARCH"],
    }
    with ScriptedImapServer(script(**steps)) as server, connect(scripted_settings(server)) as session:
        batches = list(MailboxSync(session, synced_state()).batches())
    assert [(batch.folder, batch.records) for batch in batches] == [("INBOX", [])]


def test_bodies_are_fetched_a_few_at_a_time():
    with ScriptedImapServer(script(UID_FETCH=body_lines(1))) as server, connect(scripted_settings(server)) as session:
        sync = MailboxSync(session)
        batch = Batch("INBOX", INBOX, [], SyncState(), sync)
        bodies = batch.iter_bodies(range(12, 0, -1), chunk=5)
        assert next(bodies) == (1, mail(1))
        fetches = [arguments for verb, arguments in server.commands if verb == "UID FETCH"]
        assert len(fetches) == 1, "lazy: the next chunk is fetched when needed"
        assert list(bodies) == []  # the server only has message 1
        fetches = [arguments.split(" ")[0] for verb, arguments in server.commands if verb == "UID FETCH"]
    assert fetches == ["1,2,3,4,5", "6,7,8,9,10", "11,12"]
    assert [verb for verb, _arguments in server.commands].count("EXAMINE") == 1


# -- Dovecot ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def dovecot():
    """A Dovecot of this module's own (users user1..user20)."""
    with DovecotServer(users={f"user{n}@example.com": "pw" for n in range(1, 21)}) as server:
        yield server


@pytest.fixture
def mailbox(dovecot):
    login = f"user{next(_users)}@example.com"
    return login, ImapSettings(dovecot.host, dovecot.port, "none", login, "pw")


def test_iter_bodies_gives_whole_messages_in_uid_order(dovecot, mailbox):
    login, settings = mailbox
    for n in range(1, 8):
        dovecot.append(login, "INBOX", mail(n, size=2000))
    with connect(settings) as session:
        batch = next(iter(MailboxSync(session).batches()))
        uids = [record.uid for record in batch.records]
        got = list(batch.iter_bodies(reversed(uids), chunk=3))
        assert batch.fetch_bodies(uids[:2]) == dict(got[:2])
    assert [uid for uid, _body in got] == uids
    assert [body for _uid, body in got] == [mail(n, size=2000) for n in range(1, 8)]
    assert [record.size for record in batch.records] == [len(mail(n, size=2000)) for n in range(1, 8)]


def test_progress_reaches_one_however_often_the_initial_sync_is_resumed(dovecot, mailbox):
    login, settings = mailbox
    for n in range(1, 11):
        dovecot.append(login, "INBOX", mail(n))
    state, seen, progress = None, [], []
    while True:  # each run handles one batch of 3 and "dies"
        with connect(settings) as session:
            batch = next(iter(MailboxSync(session, state, batch_size=3).batches()), None)
        if batch is None or not batch.records:
            break
        seen += [parse_headers(record.raw_headers).subject for record in batch.records]
        state = SyncState.from_json(batch.state.to_json())
        progress.append(round(state.progress, 2))
    assert seen == [f"Message {n}" for n in range(1, 11)]
    assert progress == [0.3, 0.6, 0.9, 1.0]
    dovecot.append(login, "INBOX", mail(11))
    with connect(settings) as session:
        batches = list(MailboxSync(session, state).batches())
    assert [record.uid for batch in batches for record in batch.records] == [11]
    assert batches[-1].state.progress == 1.0


def sync_through(proxy_settings, batch_size, max_attempts=200):
    """Sync until done, reconnecting on ConnectionLost from the last committed
    state, as the caller does; returns (delivered {uid: body}, state, attempts)."""
    state, delivered, attempts = None, {}, 0
    while True:
        attempts += 1
        assert attempts <= max_attempts, "the sync made no progress"
        try:
            with connect(proxy_settings) as session:
                for batch in MailboxSync(session, state, batch_size=batch_size).batches():
                    bodies = list(batch.iter_bodies([record.uid for record in batch.records]))
                    # "commit": the batch's messages and its state together
                    for uid, body in bodies:
                        assert uid not in delivered, f"message {uid} delivered twice"
                        delivered[uid] = body
                    state = SyncState.from_json(batch.state.to_json())
            return delivered, state, attempts
        except ConnectionLost:
            continue


@pytest.mark.parametrize("security", ["none", "ssl"])
def test_a_sync_through_a_cutting_proxy_delivers_every_message_exactly_once(dovecot, mailbox, security):
    login, _settings = mailbox
    count = 100 if security == "none" else 40
    for n in range(1, count + 1):
        dovecot.append(login, "INBOX", mail(n, size=3000))
    port = dovecot.port if security == "none" else dovecot.ssl_port
    with CuttingProxy(dovecot.host, port, cut_after_bytes=(20_000, 60_000), seed=10) as proxy:
        settings = ImapSettings(proxy.host, proxy.port, security, login, "pw", timeout=10, cafile=dovecot.certs.ca_file)
        delivered, state, attempts = sync_through(settings, batch_size=5)
        cuts = proxy.cuts
    assert sorted(delivered) == list(range(1, count + 1))
    assert [delivered[uid] for uid in sorted(delivered)] == [mail(n, size=3000) for n in range(1, count + 1)]
    assert cuts >= 3, "the proxy did cut the connections"
    assert 2 <= attempts <= cuts + 1, "one reconnection per cut at most"
    assert state.progress == 1.0
    with connect(_settings) as session:
        again = list(MailboxSync(session, state).batches())
    assert [record for batch in again for record in batch.records] == []


def test_a_resumed_initial_sync_keeps_its_window(dovecot, mailbox):
    login, settings = mailbox
    now = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    recent, old = now - datetime.timedelta(days=2), now - datetime.timedelta(days=90)
    # Old mail moved back into the inbox keeps its arrival date, between recent mail.
    dates = [recent, old, recent, old, recent, recent, old, recent, recent]
    for n, date in enumerate(dates, 1):
        dovecot.append(login, "INBOX", mail(n), msg_time=date)
    since = (now - datetime.timedelta(days=30)).date()
    state, seen = None, []
    while True:  # one batch of 2 per run
        with connect(settings) as session:
            batch = next(iter(MailboxSync(session, state, since=since, batch_size=2).batches()), None)
        if batch is None or not batch.records:
            break
        seen += [record.uid for record in batch.records]
        state = SyncState.from_json(batch.state.to_json())
    assert seen == [n for n, date in enumerate(dates, 1) if date == recent]
    assert state.progress == 1.0
    dovecot.append(login, "INBOX", mail(10), msg_time=old)  # arrives now: new mail, whatever its date
    with connect(settings) as session:
        batches = list(MailboxSync(session, state, since=since).batches())
    assert [record.uid for batch in batches for record in batch.records] == [10]
