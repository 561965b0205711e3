"""Syncing a real Dovecot mailbox: batches, resume, read-only, folders, UIDVALIDITY, window."""

import datetime
import imaplib
import itertools

import pytest

from mailsync.imap import Folder, ImapSettings, _PlainIMAP4, connect
from mailsync.imap_sync import INBOX, SENT, MailboxSync, SyncState, find_sync_folders, poll
from mailsync.message import parse_headers
from mailsync.testing.dovecot import DovecotServer

_users = itertools.count(1)
NOW = datetime.datetime.now(datetime.UTC).replace(microsecond=0)


def mail(n, sender="bea@customer.example", to="sam@example.com"):
    return (
        f"From: {sender}\r\nTo: {to}\r\nSubject: Message {n}\r\nMessage-ID: <m{n}@customer.example>\r\n"
        f"Date: Mon, 23 Nov 2026 10:00:00 +0000\r\n\r\nBody of message {n}.\r\n"
    ).encode()


@pytest.fixture
def mailbox(dovecot):
    """A fresh user of the shared Dovecot (see conftest): (login, settings)."""
    login = f"mailbox{next(_users)}@example.com"
    settings = ImapSettings(dovecot.host, dovecot.port, "none", login, "pw")
    return login, settings


def subjects(batches):
    return [parse_headers(record.raw_headers).subject for batch in batches for record in batch.records]


def run(settings, state=None, **kwargs):
    with connect(settings) as session:
        sync = MailboxSync(session, state, **kwargs)
        batches = list(sync.batches())
    return batches, batches[-1].state


def test_initial_sync_yields_inbox_and_sent_in_batches(dovecot, mailbox):
    login, settings = mailbox
    for n in range(1, 6):
        dovecot.append(login, "INBOX", mail(n))
    dovecot.append(login, "Sent", mail(6, sender=login, to="bea@customer.example"))
    batches, state = run(settings, batch_size=2)
    inbox = [batch for batch in batches if batch.role == INBOX and batch.records]
    assert [len(batch.records) for batch in inbox] == [2, 2, 1]
    assert subjects(batches) == [f"Message {n}" for n in range(1, 7)]
    assert [batch.role for batch in batches if batch.records][-1] == SENT
    assert state.progress == 1.0


def test_incremental_sync_yields_exactly_the_new_messages(dovecot, mailbox):
    login, settings = mailbox
    dovecot.append(login, "INBOX", mail(1))
    _batches, state = run(settings)
    saved = state.to_json()
    dovecot.append(login, "INBOX", mail(2))
    dovecot.append(login, "Sent", mail(3, sender=login))
    batches, state = run(settings, SyncState.from_json(saved))
    assert subjects(batches) == ["Message 2", "Message 3"]
    batches, _state = run(settings, state)
    assert subjects(batches) == []


def test_abandoned_after_a_batch_resumes_without_loss_or_duplicate(dovecot, mailbox):
    login, settings = mailbox
    for n in range(1, 8):
        dovecot.append(login, "INBOX", mail(n))
    with connect(settings) as session:
        first = next(iter(MailboxSync(session, batch_size=3).batches()))  # then the process "dies"
    assert subjects([first]) == ["Message 1", "Message 2", "Message 3"]
    assert 0 < first.state.progress < 1
    batches, _state = run(settings, SyncState.from_json(first.state.to_json()), batch_size=3)
    assert subjects(batches) == [f"Message {n}" for n in range(4, 8)]


def test_a_sync_never_changes_flags_and_bodies_are_fetched_whole(dovecot, mailbox):
    login, settings = mailbox
    dovecot.append(login, "INBOX", mail(1))
    dovecot.append(login, "INBOX", mail(2), flags=["\\Flagged"])
    with connect(settings) as session:
        batch = next(iter(MailboxSync(session).batches()))
        bodies = batch.fetch_bodies([record.uid for record in batch.records])
    assert [bodies[record.uid] for record in batch.records] == [mail(1), mail(2)]
    client = dovecot.client(login)
    client.select_folder("INBOX", readonly=True)
    flags = client.get_flags(client.search(["ALL"]))
    client.logout()
    # Still \Recent: the sync only ever EXAMINEd the folder (a SELECT would have claimed them).
    assert sorted(tuple(sorted(f)) for f in flags.values()) == [(b"\\Flagged", b"\\Recent"), (b"\\Recent",)]


def test_sent_folder_found_by_special_use_or_by_localized_name():
    def folder(name, *flags):
        return Folder(name, "/", frozenset(flags))

    assert find_sync_folders([folder("INBOX"), folder("Outbox"), folder("Mine", "\\Sent")])[SENT].name == "Mine"
    for name in ("Envoyés", "Sent Items", "[Gmail]/Sent Mail", "INBOX/Elementos enviados", "Gesendet"):
        found = find_sync_folders([folder("INBOX"), folder("Drafts", "\\Drafts"), folder(name)])
        assert found[SENT].name == name
    assert SENT not in find_sync_folders([folder("INBOX"), folder("Archive", "\\Archive")])
    assert SENT not in find_sync_folders([folder("INBOX"), folder("Sent", "\\Noselect")])


def test_a_localized_sent_folder_without_flag_is_synced():
    login = "claire@example.fr"
    with DovecotServer(users={login: "pw"}, folders={"Envoyés": None, "Brouillons": None}) as server:
        server.append(login, "Envoyés", mail(1, sender=login))
        batches, _state = run(ImapSettings(server.host, server.port, "none", login, "pw"))
    assert [(batch.role, batch.folder) for batch in batches if batch.records] == [(SENT, "Envoyés")]


def test_a_uidvalidity_change_redelivers_the_folder(dovecot, mailbox):
    login, settings = mailbox
    dovecot.append(login, "Archive", mail(0))  # keeps the account's other folders busy
    dovecot.append(login, "Sent", mail(1, sender=login))
    _batches, state = run(settings)
    old_validity = state.folders["Sent"].uidvalidity
    client = dovecot.client(login)
    client.delete_folder("Sent")
    client.create_folder("Sent")
    client.logout()
    dovecot.append(login, "Sent", mail(1, sender=login))
    dovecot.append(login, "Sent", mail(2, sender=login))
    batches, state = run(settings, state)
    assert state.folders["Sent"].uidvalidity != old_validity
    assert subjects(batches) == ["Message 1", "Message 2"], "re-delivered: the caller's identity keys dedupe"


def test_the_initial_window_is_respected(dovecot, mailbox):
    login, settings = mailbox
    dovecot.append(login, "INBOX", mail(1), msg_time=NOW - datetime.timedelta(days=90))
    dovecot.append(login, "INBOX", mail(2), msg_time=NOW - datetime.timedelta(days=2))
    batches, state = run(settings, since=(NOW - datetime.timedelta(days=30)).date())
    assert subjects(batches) == ["Message 2"]
    dovecot.append(login, "INBOX", mail(3), msg_time=NOW - datetime.timedelta(days=400))  # new, old date
    batches, _state = run(settings, state, since=(NOW - datetime.timedelta(days=30)).date())
    assert subjects(batches) == ["Message 3"], "anything arriving after the first sync is new mail"


def test_an_empty_window_leaves_older_mail_behind(dovecot, mailbox):
    login, settings = mailbox
    dovecot.append(login, "INBOX", mail(1), msg_time=NOW - datetime.timedelta(days=90))
    since = (NOW - datetime.timedelta(days=30)).date()
    batches, state = run(settings, since=since)
    assert subjects(batches) == []
    batches, _state = run(settings, state, since=since)
    assert subjects(batches) == []


def test_idle_poll_says_whether_anything_changed(dovecot, mailbox):
    login, settings = mailbox
    dovecot.append(login, "INBOX", mail(1))
    _batches, state = run(settings)
    with connect(settings) as session:
        assert MailboxSync(session, state).changed() is False
    dovecot.append(login, "INBOX", mail(2))
    with connect(settings) as session:
        assert MailboxSync(session, state).changed() is True
    with connect(settings) as session:
        assert MailboxSync(session, SyncState()).changed() is True, "never synced"


def test_a_deleted_folder_does_not_break_the_sync(dovecot, mailbox):
    login, settings = mailbox
    dovecot.append(login, "Sent", mail(1, sender=login))
    _batches, state = run(settings)
    client = dovecot.client(login)
    client.delete_folder("Sent")
    client.logout()
    dovecot.append(login, "INBOX", mail(2))
    batches, state = run(settings, state)
    assert subjects(batches) == ["Message 2"]


def test_polling_many_mailboxes_at_once(dovecot):
    logins = [f"mailbox{next(_users)}@example.com" for _n in range(3)]
    settings = [ImapSettings(dovecot.host, dovecot.port, "none", login, "pw") for login in logins]
    states = [run(one)[1] for one in settings]
    dovecot.append(logins[1], "Sent", mail(1, sender=logins[1]))
    broken = ImapSettings(dovecot.host, dovecot.port, "none", logins[2], "wrong")
    jobs = [(settings[0], states[0], None), (settings[1], states[1], None), (broken, states[2], None)]
    assert poll(jobs) == [False, True, True]
    assert poll([]) == []


class _Wire:
    """What goes over an IMAP connection, in order: ``("send", command)`` and
    ``("read", None)`` (a line read from the server)."""

    def __init__(self, monkeypatch):
        self.events = []
        send, readline = imaplib.IMAP4.send, imaplib.IMAP4.readline

        def recording_send(imap, data):
            words = bytes(data).split()
            self.events.append(("send", words[1].decode() if len(words) > 1 else "(continuation)"))
            return send(imap, data)

        def recording_readline(imap):
            self.events.append(("read", None))
            return readline(imap)

        monkeypatch.setattr(imaplib.IMAP4, "send", recording_send)
        monkeypatch.setattr(imaplib.IMAP4, "readline", recording_readline)

    def commands(self):
        return [what for kind, what in self.events if kind == "send"]

    def round_trips(self):
        """Waits for the server after sending: a run of sends followed by a read."""
        return sum(
            1 for (kind, _), (next_kind, _) in itertools.pairwise(self.events) if kind == "send" and next_kind == "read"
        )


def test_an_idle_poll_costs_two_round_trips_after_the_greeting(dovecot, mailbox, monkeypatch):
    """Issue 14: the greeting's capabilities are kept (no CAPABILITY), the
    STATUS of both folders are sent together, and LOGOUT is not waited for."""
    login, settings = mailbox
    dovecot.append(login, "INBOX", mail(1))
    dovecot.append(login, "Sent", mail(2, sender=login))
    _batches, state = run(settings)
    wire = _Wire(monkeypatch)
    assert poll([(settings, state, None)]) == [False]
    assert wire.commands() == ["LOGIN", "STATUS", "STATUS", "LOGOUT"]
    assert wire.round_trips() == 2  # LOGIN; both STATUS
    dovecot.append(login, "Sent", mail(3, sender=login))
    assert poll([(settings, state, None)]) == [True], "new mail in the second folder of the pipeline"


def test_a_pipelined_poll_of_a_folder_gone_says_changed(dovecot, mailbox):
    login, settings = mailbox
    dovecot.append(login, "Sent", mail(1, sender=login))
    _batches, state = run(settings)
    client = dovecot.client(login)
    client.rename_folder("Sent", "Old Sent")
    client.logout()
    assert poll([(settings, state, None)]) == [True]


def test_the_capabilities_of_the_greeting_are_those_the_server_answers_when_asked(dovecot):
    kept = _PlainIMAP4(dovecot.host, dovecot.port, 10)
    asked = imaplib.IMAP4(dovecot.host, dovecot.port)
    try:
        assert "IMAP4REV1" in kept.capabilities
        assert kept.capabilities == asked.capabilities
    finally:
        kept.shutdown()
        asked.shutdown()


@pytest.mark.parametrize("security", ["ssl", "starttls", "none"])
def test_an_idle_poll_over_each_kind_of_connection(dovecot, mailbox, security):
    """The kept capabilities and the early hang-up work over TLS too (after
    STARTTLS the capabilities are asked again, RFC 2595 section 3.1)."""
    login, plain = mailbox
    dovecot.append(login, "INBOX", mail(1))
    _batches, state = run(plain)
    port = dovecot.ssl_port if security == "ssl" else dovecot.port
    settings = ImapSettings(dovecot.host, port, security, login, "pw", cafile=dovecot.certs.ca_file)
    assert poll([(settings, state, None)]) == [False]
    dovecot.append(login, "INBOX", mail(2))
    assert poll([(settings, state, None)]) == [True]
    with connect(settings) as session:
        assert "IMAP4REV1" in session.client._imap.capabilities
        assert ("STARTTLS" in session.client._imap.capabilities) is (security == "none")
