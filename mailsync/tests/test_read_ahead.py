"""Bodies read one chunk ahead (issue 14), against a real Dovecot: order kept,
never more than one chunk ahead nor beyond the memory bound, a dropped
connection or a failing message surfaces where the chunk is taken, and no
thread outlives the block."""

import itertools
import threading

import pytest

from mailsync.errors import ConnectionLost
from mailsync.imap import ImapSettings, connect
from mailsync.imap_sync import MailboxSync
from mailsync.message import parse_message
from mailsync.read_ahead import THREAD_NAME, ReadAhead
from mailsync.testing.proxy import CuttingProxy

_users = itertools.count(1)


def mail(n, size=0):
    padding = "".join(f"line {i} of the long body of message {n}\r\n" for i in range(size // 40))
    return (
        f"From: bea@customer.example\r\nTo: sam@example.com\r\nSubject: Message {n}\r\n"
        f"Message-ID: <m{n}@customer.example>\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\n\r\n"
        f"Body of message {n}.\r\n{padding}"
    ).encode()


@pytest.fixture
def mailbox(dovecot):
    """A fresh user of the shared Dovecot (see conftest): (login, settings)."""
    login = f"mailbox{30 + next(_users)}@example.com"
    return login, ImapSettings(dovecot.host, dovecot.port, "none", login, "pw")


def read_ahead_threads():
    return [thread for thread in threading.enumerate() if thread.name.startswith(THREAD_NAME)]


def plan(batch, per_chunk):
    records = batch.records
    return [
        (
            [record.uid for record in records[i : i + per_chunk]],
            sum(record.size for record in records[i : i + per_chunk]),
        )
        for i in range(0, len(records), per_chunk)
    ]


class Recorder:
    """The batch's real fetch, noting which UIDs were asked, on which thread,
    and signalling each chunk downloaded."""

    def __init__(self, fetch):
        self.fetch = fetch
        self.calls = []  # (uids, thread name)
        self.started = threading.Semaphore(0)
        self.done = threading.Semaphore(0)

    def __call__(self, uids):
        self.calls.append((list(uids), threading.current_thread().name))
        self.started.release()
        try:
            return self.fetch(uids)
        finally:
            self.done.release()


def test_chunks_come_in_order_parsed_on_the_other_thread(dovecot, mailbox):
    login, settings = mailbox
    for n in range(1, 8):
        dovecot.append(login, "INBOX", mail(n, size=3000))
    readers = []

    def read(raw):
        readers.append(threading.current_thread().name)
        return parse_message(raw)

    with connect(settings) as session:
        batch = next(iter(MailboxSync(session).batches()))
        chunks = plan(batch, 3)
        with batch.read_ahead(chunks, read=read) as bodies:
            got = [bodies.take() for _chunk in chunks]
    assert [list(chunk.read) for chunk in got] == [uids for uids, _size in chunks]
    assert [content.headers.subject for chunk in got for content in chunk.read.values()] == [
        f"Message {n}" for n in range(1, 8)
    ]
    assert all(not chunk.failed for chunk in got)
    assert readers and all(name.startswith(THREAD_NAME) for name in readers), "parsed off the caller's thread"
    assert not read_ahead_threads()


def test_never_more_than_one_chunk_ahead(dovecot, mailbox):
    login, settings = mailbox
    for n in range(1, 10):
        dovecot.append(login, "INBOX", mail(n))
    with connect(settings) as session:
        batch = next(iter(MailboxSync(session).batches()))
        chunks = plan(batch, 2)  # 5 chunks
        fetch = Recorder(batch.fetch_bodies)
        with ReadAhead(fetch, chunks) as bodies:
            assert fetch.done.acquire(timeout=10)  # the first chunk, started on entering
            assert [uids for uids, _thread in fetch.calls] == [chunks[0][0]]
            first = bodies.take()
            assert fetch.done.acquire(timeout=10)  # the second, read while the caller holds the first
            assert not fetch.done.acquire(timeout=0.3), "nothing beyond one chunk ahead"
            assert [uids for uids, _thread in fetch.calls] == [chunks[0][0], chunks[1][0]]
            assert list(first.read) == chunks[0][0]
            rest = list(bodies)
        assert [list(chunk.read) for chunk in rest] == [uids for uids, _size in chunks[1:]]
        assert [uids for uids, _thread in fetch.calls] == [uids for uids, _size in chunks]
        assert all(thread.startswith(THREAD_NAME) for _uids, thread in fetch.calls)
        # The connection is the caller's again, in a usable state.
        assert batch.fetch_bodies([chunks[0][0][0]]) == {chunks[0][0][0]: mail(1)}
    assert not read_ahead_threads()


def test_a_chunk_beyond_the_memory_bound_is_downloaded_alone_when_taken(dovecot, mailbox):
    login, settings = mailbox
    for n, size in enumerate((1000, 1000, 40_000, 1000), start=1):
        dovecot.append(login, "INBOX", mail(n, size=size))
    with connect(settings) as session:
        batch = next(iter(MailboxSync(session).batches()))
        chunks = plan(batch, 1)
        fetch = Recorder(batch.fetch_bodies)
        with ReadAhead(fetch, chunks, max_bytes=20_000) as bodies:
            bodies.take()
            assert fetch.done.acquire(timeout=10)
            bodies.take()  # message 2 in hand: message 3 (40 KB) would pass the bound with it
            assert fetch.done.acquire(timeout=10)
            assert not fetch.done.acquire(timeout=0.3)
            assert len(fetch.calls) == 2
            big = bodies.take()
            assert fetch.calls[2] == ([chunks[2][0][0]], threading.current_thread().name), "on the caller's thread"
            assert big.read == {chunks[2][0][0]: mail(3, size=40_000)}
            assert fetch.done.acquire(timeout=10)  # its own download, above
            assert not fetch.done.acquire(timeout=0.3), "nothing read ahead while the big one is held"
            assert len(fetch.calls) == 3
            assert bodies.take().read == {chunks[3][0][0]: mail(4, size=1000)}
    assert not read_ahead_threads()


def test_a_connection_dropped_during_a_read_ahead_is_connection_lost_where_the_chunk_is_taken(dovecot, mailbox):
    login, settings = mailbox
    for n in range(1, 9):
        dovecot.append(login, "INBOX", mail(n, size=20_000))
    # Headers and the first chunk (2 x 20 KB) pass; the second chunk, read ahead, is cut.
    with CuttingProxy(dovecot.host, dovecot.port, cut_after_bytes=(60_000, 60_000)) as proxy:
        proxied = ImapSettings(proxy.host, proxy.port, "none", login, "pw", timeout=10)
        with connect(proxied) as session:
            batch = next(iter(MailboxSync(session).batches()))
            chunks = plan(batch, 2)
            with batch.read_ahead(chunks) as bodies:
                first = bodies.take()
                with pytest.raises(ConnectionLost) as raised:
                    bodies.take()
        assert proxy.cuts == 1
    assert list(first.read.values()) == [mail(1, size=20_000), mail(2, size=20_000)]
    assert type(raised.value) is ConnectionLost, "the same typed error as without read-ahead"
    assert not read_ahead_threads()


def test_a_message_that_cannot_be_read_costs_only_itself(dovecot, mailbox):
    login, settings = mailbox
    for n in range(1, 5):
        dovecot.append(login, "INBOX", mail(n))

    def read(raw):
        if b"Subject: Message 2\r\n" in raw:
            raise ValueError("cannot read this one")
        return parse_message(raw).headers.subject

    with connect(settings) as session:
        batch = next(iter(MailboxSync(session).batches()))
        uids = [record.uid for record in batch.records]
        with batch.read_ahead(plan(batch, 4), read=read) as bodies:
            chunk = bodies.take()
    assert chunk.read == {uids[0]: "Message 1", uids[2]: "Message 3", uids[3]: "Message 4"}
    assert list(chunk.failed) == [uids[1]]
    assert isinstance(chunk.failed[uids[1]], ValueError)


class Killed(BaseException):
    """The worker dying while a chunk is read ahead."""


def test_leaving_by_an_exception_waits_for_the_chunk_under_way_and_stops_the_thread(dovecot, mailbox):
    login, settings = mailbox
    for n in range(1, 7):
        dovecot.append(login, "INBOX", mail(n, size=5000))
    with connect(settings) as session:
        batch = next(iter(MailboxSync(session).batches()))
        chunks = plan(batch, 2)
        for error in (RuntimeError, Killed):
            fetch = Recorder(batch.fetch_bodies)
            with pytest.raises(error), ReadAhead(fetch, chunks) as bodies:
                bodies.take()
                assert fetch.started.acquire(timeout=10) and fetch.started.acquire(timeout=10)
                raise error()  # the second chunk is under way when the caller fails
            assert not read_ahead_threads()
            assert len(fetch.calls) == 2, "the third chunk was never asked"
            with pytest.raises(RuntimeError):
                bodies.take()  # closed
            # The connection is whole: no half-read answer left on it.
            uid = chunks[2][0][0]
            assert batch.fetch_bodies([uid]) == {uid: mail(5, size=5000)}


def test_without_background_everything_happens_when_taken_on_the_callers_thread(dovecot, mailbox):
    login, settings = mailbox
    for n in range(1, 5):
        dovecot.append(login, "INBOX", mail(n))
    with connect(settings) as session:
        batch = next(iter(MailboxSync(session).batches()))
        chunks = plan(batch, 2)
        fetch = Recorder(batch.fetch_bodies)
        with ReadAhead(fetch, chunks, background=False) as bodies:
            assert not fetch.calls
            got = list(bodies)
            with pytest.raises(IndexError):
                bodies.take()
    me = threading.current_thread().name
    assert fetch.calls == [(uids, me) for uids, _size in chunks]
    assert [body for chunk in got for body in chunk.read.values()] == [mail(n) for n in range(1, 5)]
