"""Reading an Exchange Server mailbox through EWS with exchangelib, unpatched,
against the local EWS endpoint (mailsync.testing.ews_server), which answers
over HTTPS with the shapes of Microsoft's documented examples: exchangelib's
version probe, SyncFolderItems paging, GetItem with MimeContent,
ErrorServerBusy with BackOffMilliseconds, ErrorAccessDenied, NTLM and Basic."""

import datetime
import socket
import time
from email.message import EmailMessage
from email.utils import format_datetime

import pytest

from mailsync import errors, ews_sync
from mailsync.imap_sync import FolderState, SyncState
from mailsync.message import parse_headers
from mailsync.testing import ALICE, BOB
from mailsync.testing.dns_server import DnsServer
from mailsync.testing.ews_server import EwsServer

NOW = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
SINCE = (NOW - datetime.timedelta(days=30)).date()
ALICE_LOGIN = "CORP\\alice"
BOB_LOGIN = "CORP\\bob"


@pytest.fixture
def exchange():
    users = {ALICE_LOGIN: (ALICE[1], ALICE[0]), BOB_LOGIN: (BOB[1], BOB[0])}
    with EwsServer(users=users) as server:
        yield server


def raw_email(number, sender="bea@customer.example", to=ALICE[0], subject=None, **headers):
    message = EmailMessage()
    message["From"], message["To"] = sender, to
    message["Subject"] = subject or f"Order {number}"
    message["Date"] = format_datetime(NOW)
    message["Message-ID"] = f"<order-{number}@customer.example>"
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(f"Hello, this is order {number}.\n")
    return message.as_bytes()


def settings(exchange, login=ALICE_LOGIN, password=ALICE[1], email=ALICE[0], **kwargs):
    values = {"auth_type": "ntlm", "ews_url": exchange.ews_url, "cafile": exchange.certs.ca_file, **kwargs}
    return ews_sync.EwsSettings(email=email, username=login, password=password, **values)


def run(exchange, state=None, batch_size=3, **kwargs):
    """Every batch of one sync: [(folder, [record], state)]."""
    with ews_sync.EwsMailboxSync(settings(exchange, **kwargs), state, since=SINCE, batch_size=batch_size) as sync:
        return [(batch.folder, batch.records, batch.state) for batch in sync.batches()]


def check(config):
    with ews_sync.EwsMailboxSync(config) as sync:
        return sync.check()


def subjects(batches):
    return [parse_headers(record.raw_headers).subject for _folder, records, _state in batches for record in records]


def test_multi_page_sync_of_inbox_and_sent_items_headers_first(exchange):
    for number in range(7):
        exchange.mail.add(ALICE[0], "inbox", raw_email(number, Cc="carl@customer.example", In_Reply_To="<q@x>"))
    exchange.mail.add(ALICE[0], "sentitems", raw_email(8, sender=ALICE[0], to="bea@customer.example"))
    exchange.mail.add(BOB[0], "inbox", raw_email(9, to=BOB[0]))  # another mailbox: never read

    batches = run(exchange)
    assert [(folder, len(records)) for folder, records, _state in batches] == [
        ("inbox", 3),
        ("inbox", 3),
        ("inbox", 1),
        ("sentitems", 1),
    ]
    assert subjects(batches) == [f"Order {n}" for n in (0, 1, 2, 3, 4, 5, 6, 8)]
    first = parse_headers(batches[0][1][0].raw_headers)
    assert first.identity and "order-0@customer.example" in first.identity
    assert [key for _name, key in first.sender] == ["bea@customer.example"]
    assert [key for _name, key in first.to + first.cc] == ["alice@example.com", "carl@customer.example"]
    assert first.in_reply_to == "<q@x>"
    assert batches[0][1][0].size > 0
    assert batches[-1][1][0].role == "sent"
    # Headers first: no MIME content was sent while listing.
    assert exchange.mail.mime_requests == 0
    # The version probe (ConvertId), then per page one SyncFolderItems and one GetItem of headers.
    assert exchange.operations()[:2] == ["ConvertId", "SyncFolderItems"]
    assert exchange.operations("GetItem") == ["GetItem"] * 4
    final = batches[-1][2]
    assert final.progress == 1.0
    assert all(final.folders[name].sync_state for name in ("inbox", "sentitems"))


def test_resume_from_the_committed_state_and_an_idle_poll(exchange):
    for number in range(7):
        exchange.mail.add(ALICE[0], "inbox", raw_email(number))
    batches = run(exchange)
    committed = batches[1][2]  # the worker died after committing the second page
    assert 0 < committed.progress < 1
    resumed = run(exchange, ews_sync.EwsSyncState.from_json(committed.to_json()))
    assert subjects(resumed) == ["Order 6"]

    exchange.calls.clear()
    idle = run(exchange, resumed[-1][2])
    assert subjects(idle) == []
    assert exchange.operations() == ["SyncFolderItems", "SyncFolderItems"], "one SyncFolderItems per folder"

    exchange.mail.add(ALICE[0], "inbox", raw_email(10))
    assert subjects(run(exchange, idle[-1][2])) == ["Order 10"]


def test_an_expired_sync_state_restarts_the_folder(exchange):
    for number in range(4):
        exchange.mail.add(ALICE[0], "inbox", raw_email(number))
    state = run(exchange)[-1][2]
    exchange.mail.forget_sync_states()
    exchange.mail.add(ALICE[0], "inbox", raw_email(4))
    again = run(exchange, state, batch_size=10)
    # Everything again (the caller's Message-ID identity logs nothing twice), then a fresh state.
    assert subjects(again) == [f"Order {n}" for n in range(5)]
    assert subjects(run(exchange, again[-1][2])) == []


def test_the_window_leaves_older_mail_out(exchange):
    exchange.mail.add(ALICE[0], "inbox", raw_email(1), received=NOW - datetime.timedelta(days=90))
    exchange.mail.add(ALICE[0], "inbox", raw_email(2))
    assert subjects(run(exchange)) == ["Order 2"]


def test_an_imap_state_reads_as_a_first_sync(exchange):
    exchange.mail.add(ALICE[0], "inbox", raw_email(1))
    imap_state = SyncState({"INBOX": FolderState(name="INBOX", role="inbox", uidvalidity=7, last_uid=40)})
    assert subjects(run(exchange, imap_state)) == ["Order 1"]


def test_mime_content_of_the_matched_items_only_in_chunks(exchange):
    for number in range(60):
        exchange.mail.add(ALICE[0], "inbox", raw_email(number))
    with ews_sync.EwsMailboxSync(settings(exchange), since=SINCE, batch_size=100) as sync:
        batch = next(sync.batches())
        wanted = [record.uid for record in batch.records[::2]]  # 30 matched messages
        exchange.calls.clear()
        bodies = batch.fetch_bodies(wanted)
    assert sorted(bodies) == sorted(wanted)
    assert sorted(exchange.mail.mime_ids) == sorted(wanted), "no other message was downloaded"
    assert exchange.operations() == ["GetItem", "GetItem"], "25 MIME contents per GetItem"
    assert b"Hello, this is order 0." in bodies[wanted[0]]


def test_a_deleted_item_is_absent_from_the_bodies(exchange):
    kept = exchange.mail.add(ALICE[0], "inbox", raw_email(1))
    gone = exchange.mail.add(ALICE[0], "inbox", raw_email(2))
    exchange.mail.boxes[ALICE[0]]["inbox"].pop()
    assert sorted(ews_sync.fetch_messages(settings(exchange), [kept, gone])) == [kept]


def test_server_busy_is_waited_out_as_the_server_asks(exchange):
    exchange.mail.add(ALICE[0], "inbox", raw_email(1))
    exchange.mail.busy = [("SyncFolderItems", 700), ("GetItem", 300)]
    started = time.monotonic()
    assert subjects(run(exchange)) == ["Order 1"]
    assert time.monotonic() - started >= 1.0, "BackOffMilliseconds honoured"
    assert exchange.mail.busy == []


def test_server_busy_beyond_the_longest_wait_is_a_temporary_error(exchange):
    exchange.mail.busy = [("SyncFolderItems", 300_000)]
    started = time.monotonic()
    with pytest.raises(ews_sync.EwsThrottled) as caught:
        run(exchange)
    assert time.monotonic() - started < 10, "a five-minute back-off is not slept through in a sync"
    assert caught.value.temporary and caught.value.code == "ews_throttled"
    assert not caught.value.counts_as_sign_in_failure


def test_access_denied_to_another_mailbox_then_granted(exchange):
    exchange.mail.add(ALICE[0], "inbox", raw_email(1))
    bob_on_alice = {"login": BOB_LOGIN, "password": BOB[1], "email": ALICE[0]}
    with pytest.raises(ews_sync.EwsAccessDenied) as caught:
        run(exchange, **bob_on_alice)
    assert caught.value.code == "ews_access_denied"
    assert "ErrorAccessDenied" in caught.value.detail
    assert BOB[1] not in str(caught.value)
    with pytest.raises(ews_sync.EwsAccessDenied):
        check(settings(exchange, **bob_on_alice))

    exchange.grants[BOB_LOGIN.lower()] = {ALICE[0]}
    assert subjects(run(exchange, **bob_on_alice)) == ["Order 1"]


def test_a_mailbox_the_server_does_not_know(exchange):
    with pytest.raises(ews_sync.EwsMailboxNotFound) as caught:
        check(settings(exchange, email="nobody@example.com"))
    assert caught.value.code == "ews_mailbox"


@pytest.mark.parametrize("auth_type", ["ntlm", "basic"])
def test_sign_in_with_ntlm_or_basic(exchange, auth_type):
    with ews_sync.EwsMailboxSync(settings(exchange, auth_type=auth_type)) as sync:
        assert sync.check()
    started = time.monotonic()
    with pytest.raises(ews_sync.EwsAuthenticationFailed) as caught:
        check(settings(exchange, auth_type=auth_type, password="wrong"))
    assert time.monotonic() - started < 5, "a refused password is told at once, not retried as a busy server"
    assert caught.value.counts_as_sign_in_failure
    assert "wrong" not in str(caught.value)


def test_basic_only_server_refuses_ntlm_clearly():
    with EwsServer(users={ALICE_LOGIN: (ALICE[1], ALICE[0])}, auth="basic") as server:
        with pytest.raises(ews_sync.EwsAuthenticationFailed):
            check(settings(server, auth_type="ntlm"))
        with ews_sync.EwsMailboxSync(settings(server, auth_type="basic")) as sync:
            assert sync.check()


def test_an_untrusted_certificate(exchange):
    with pytest.raises(ews_sync.EwsCertificateError) as caught:
        check(settings(exchange, cafile=None))
    assert caught.value.code == "ews_certificate"
    assert isinstance(caught.value, errors.TlsError)


def test_nothing_listening():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"https://localhost:{port}/EWS/Exchange.asmx"
    config = ews_sync.EwsSettings(email=ALICE[0], username=ALICE_LOGIN, password=ALICE[1], ews_url=url, timeout=5)
    with pytest.raises(errors.HostUnreachable):
        check(config)


def test_a_server_slower_than_the_timeout_is_a_timeout_after_that_time(exchange):
    assert check(settings(exchange, timeout=1))  # the session is set up: the next request is the one that waits
    exchange.stall = 4
    started = time.monotonic()
    with pytest.raises(errors.ConnectionTimeout):
        check(settings(exchange, timeout=1))
    assert time.monotonic() - started < 3, "the mailbox's timeout, not exchangelib's 120 s"


def test_settings_hide_the_password():
    config = ews_sync.EwsSettings(email=ALICE[0], username=ALICE_LOGIN, password="s3cret", ews_url="https://x/EWS")
    assert "s3cret" not in repr(config)
    assert (config.host, config.port) == ("x", 443)


@pytest.fixture
def autodiscover_dns(monkeypatch):
    """exchangelib's Autodiscover asks DNS whether a host exists before it
    connects: its resolver (``Autodiscovery.DNS_RESOLVER_ATTRS``) asks the
    local DNS server, where ``localhost`` is 127.0.0.1 and nothing else exists."""
    from exchangelib.autodiscover import Autodiscovery

    with DnsServer({"localhost": {"A": ["127.0.0.1"]}}) as dns:
        attrs = {**Autodiscovery.DNS_RESOLVER_ATTRS, "nameservers": [dns.host], "port": dns.port}
        monkeypatch.setattr(Autodiscovery, "DNS_RESOLVER_ATTRS", attrs)
        yield dns


@pytest.fixture
def exchange_443():
    """The EWS endpoint on 127.0.0.1:443, the only port exchangelib's Autodiscover asks."""
    server = EwsServer(users={"CORP\\ann": ("ann-Pa55", "ann@localhost")})
    try:
        server.start(port=443)
    except OSError as error:
        pytest.skip(f"port 443 of 127.0.0.1 cannot be opened here ({error})")
    try:
        yield server
    finally:
        server.stop()


def test_autodiscover_finds_the_ews_url_from_the_address(exchange_443, autodiscover_dns):
    exchange_443.mail.add("ann@localhost", "inbox", raw_email(1, to="ann@localhost"))
    config = ews_sync.EwsSettings(
        email="ann@localhost", username="CORP\\ann", password="ann-Pa55", cafile=exchange_443.certs.ca_file
    )
    with ews_sync.EwsMailboxSync(config, since=SINCE) as sync:
        assert sync.check()
        assert sync.account.protocol.service_endpoint == exchange_443.ews_url
        assert subjects([(b.folder, b.records, b.state) for b in sync.batches()]) == ["Order 1"]
    assert exchange_443.autodiscover_requests[-1] == ("corp\\ann", "ann@localhost")


def test_autodiscover_that_finds_nothing_says_to_enter_the_url(autodiscover_dns):
    config = ews_sync.EwsSettings(email="nobody@nowhere.example", username="CORP\\x", password="x", timeout=5)
    started = time.monotonic()
    with pytest.raises(ews_sync.EwsAutodiscoverFailed) as caught:
        check(config)
    assert time.monotonic() - started < 30
    assert caught.value.code == "ews_autodiscover"
    assert "EWS URL" in caught.value.hint


def test_an_idle_poll_costs_one_sync_folder_items_per_folder_and_consumes_nothing(exchange):
    for number in range(3):
        exchange.mail.add(ALICE[0], "inbox", raw_email(number))
    state = ews_sync.EwsSyncState.from_json(run(exchange)[-1][2].to_json())
    exchange.calls.clear()

    assert ews_sync.poll([(settings(exchange), state)]) == [False]
    assert exchange.operations() == ["SyncFolderItems", "SyncFolderItems"], "one SyncFolderItems per folder"
    assert exchange.mail.mime_requests == 0

    # A new message: True; the probe committed nothing, the full sync still finds it.
    exchange.mail.add(ALICE[0], "sentitems", raw_email(3, sender=ALICE[0], to="bea@customer.example"))
    assert ews_sync.poll([(settings(exchange), state)]) == [True]
    assert subjects(run(exchange, state)) == ["Order 3"]


def test_an_idle_poll_says_changed_for_an_expired_state_a_pending_round_or_an_error(exchange):
    for number in range(4):
        exchange.mail.add(ALICE[0], "inbox", raw_email(number))
    batches = run(exchange)
    done = ews_sync.EwsSyncState.from_json(batches[-1][2].to_json())
    pending = ews_sync.EwsSyncState.from_json(batches[0][2].to_json())  # the round stopped after its first page
    refused = settings(exchange, password="wrong")
    jobs = [(settings(exchange), done), (settings(exchange), pending), (refused, done), (settings(exchange), None)]
    assert ews_sync.poll(jobs) == [False, True, True, True]

    exchange.mail.forget_sync_states()  # ErrorInvalidSyncStateData
    exchange.calls.clear()
    assert ews_sync.poll([(settings(exchange), done)]) == [True]
    assert exchange.operations() == ["SyncFolderItems"]
