"""Reading a mailbox through Microsoft Graph delta queries, against the local
Graph server (mailsync.testing.oauth_server.GraphMail), which answers with the
request and response shapes of Microsoft's documentation: Microsoft itself
cannot be reached from here."""

import datetime
import time
from email.message import EmailMessage
from email.utils import format_datetime

import pytest

from mailsync import errors, graph_sync, oauth
from mailsync.imap_sync import FolderState, SyncState
from mailsync.message import parse_headers
from mailsync.testing import ALICE, BOB
from mailsync.testing.oauth_server import OAuthServer

NOW = datetime.datetime.now(datetime.UTC)
SINCE = (NOW - datetime.timedelta(days=30)).date()


@pytest.fixture
def microsoft():
    with OAuthServer(clients={"app-id": "app-secret-value"}, users=[ALICE[0], BOB[0]]) as server:
        yield server


@pytest.fixture
def app_token(microsoft):
    return oauth.app_token(microsoft.microsoft_app("app-id", "app-secret-value")).access_token


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


def settings(microsoft, token, mailbox=ALICE[0], **kwargs):
    return graph_sync.GraphSettings(
        access_token=token, mailbox=mailbox, base_url=microsoft.graph_url, cafile=microsoft.certs.ca_file, **kwargs
    )


def run(microsoft, token, state=None, batch_size=10, **kwargs):
    """Every batch of one sync: [(folder, [record], state)]."""
    with graph_sync.GraphMailboxSync(
        settings(microsoft, token, **kwargs), state, since=SINCE, batch_size=batch_size
    ) as sync:
        return [(batch.folder, batch.records, batch.state) for batch in sync.batches()]


def ids(batches):
    return [parse_headers(record.raw_headers).message_id for _folder, records, _state in batches for record in records]


def test_a_first_sync_pages_through_the_window_with_immutable_ids(microsoft, app_token):
    for number in range(25):
        microsoft.mail.add(ALICE[0], "inbox", raw_email(number))
    microsoft.mail.add(ALICE[0], "inbox", raw_email(99), received=NOW - datetime.timedelta(days=40))
    sent = microsoft.mail.add(ALICE[0], "sentitems", raw_email(100, sender=ALICE[0], to="bea@customer.example"))

    batches = run(microsoft, app_token)

    assert [(folder, len(records)) for folder, records, _state in batches] == [
        ("inbox", 10),
        ("inbox", 10),
        ("inbox", 5),
        ("sentitems", 1),
    ]
    assert sorted(ids(batches)) == sorted([f"<order-{n}@customer.example>" for n in [*range(25), 100]])
    assert "<order-99@customer.example>" not in ids(batches), "older than the window"
    assert batches[-1][1][0].uid == sent and batches[-1][1][0].role == "sent"
    assert microsoft.mail.page_sizes[0] == 10, "odata.maxpagesize asked"
    # The round's state: nextLink while it goes on, the deltaLink with its last page.
    inbox_states = [state.folders["inbox"] for folder, _records, state in batches if folder == "inbox"]
    assert [bool(state.next_link) for state in inbox_states] == [True, True, False]
    assert inbox_states[-1].delta_link and "$deltatoken=" in inbox_states[-1].delta_link
    assert batches[-1][2].progress == 1.0
    assert batches[0][2].progress < 1.0


def test_headers_read_as_imap_ones_with_the_same_identity(microsoft, app_token):
    raw = raw_email(1, cc="Carl <carl@customer.example>", In_Reply_To="<order-0@customer.example>")
    microsoft.mail.add(ALICE[0], "inbox", raw)
    record = run(microsoft, app_token)[0][1][0]
    headers, original = parse_headers(record.raw_headers), parse_headers(raw)
    assert headers.identity == original.identity == "<order-1@customer.example>"
    assert headers.sender == original.sender and headers.cc == original.cc and headers.to == original.to
    assert headers.in_reply_to == "<order-0@customer.example>"


def test_a_header_block_is_synthesized_from_the_json_when_graph_gives_no_headers():
    # The message resource of https://learn.microsoft.com/en-us/graph/api/message-get (Response), trimmed.
    item = {
        "id": "AAMkAGI1AAAoZCfHAAA=",
        "receivedDateTime": "2026-11-20T09:30:00Z",
        "sentDateTime": "2026-11-20T09:29:55Z",
        "subject": "Devis pour 40 chaises",
        "internetMessageId": "<MWHPR1301MB@namprd13.prod.outlook.com>",
        "from": {"emailAddress": {"name": "María García", "address": "maria@acme-corp.example"}},
        "sender": {"emailAddress": {"name": "María García", "address": "maria@acme-corp.example"}},
        "toRecipients": [{"emailAddress": {"name": "Alice", "address": ALICE[0]}}],
        "ccRecipients": [{"emailAddress": {"name": "", "address": "bob@example.com"}}],
        "bccRecipients": [],
    }
    headers = parse_headers(graph_sync.header_block(item))
    assert headers.identity == "<MWHPR1301MB@namprd13.prod.outlook.com>"
    assert headers.sender == (("María García", "maria@acme-corp.example"),)
    assert [key for _name, key in headers.to + headers.cc] == [ALICE[0], "bob@example.com"]
    assert headers.subject == "Devis pour 40 chaises"
    assert headers.date == datetime.datetime(2026, 11, 20, 9, 29, 55, tzinfo=datetime.UTC)
    assert parse_headers(graph_sync.header_block({"id": "x", "from": None})).identity.startswith("sha256:")


def test_a_sync_resumes_from_the_delta_link_and_an_idle_mailbox_costs_one_request_per_folder(microsoft, app_token):
    for number in range(3):
        microsoft.mail.add(ALICE[0], "inbox", raw_email(number))
    state = run(microsoft, app_token)[-1][2]
    stored = graph_sync.GraphSyncState.from_json(state.to_json())

    with graph_sync.GraphMailboxSync(settings(microsoft, app_token), stored, since=SINCE, batch_size=10) as sync:
        idle = list(sync.batches())
        assert sync.client.requests == 2, "one delta request per folder"
    assert [(batch.folder, batch.records) for batch in idle] == [("inbox", []), ("sentitems", [])]

    microsoft.mail.add(ALICE[0], "inbox", raw_email(3))
    assert ids(run(microsoft, app_token, idle[-1].state)) == ["<order-3@customer.example>"]


def test_a_sync_killed_before_a_commit_resumes_at_the_first_uncommitted_page_exactly_once(microsoft, app_token):
    for number in range(25):
        microsoft.mail.add(ALICE[0], "inbox", raw_email(number))
    logged, committed = [], None
    with graph_sync.GraphMailboxSync(settings(microsoft, app_token), None, since=SINCE, batch_size=10) as sync:
        for count, batch in enumerate(sync.batches()):
            if count == 1:
                break  # killed after the second page was read, before its commit
            logged += [parse_headers(record.raw_headers).identity for record in batch.records]
            committed = batch.state.to_json()
    for _folder, records, _state in run(microsoft, app_token, graph_sync.GraphSyncState.from_json(committed)):
        logged += [parse_headers(record.raw_headers).identity for record in records]
    assert sorted(logged) == sorted(f"<order-{n}@customer.example>" for n in range(25))
    assert len(logged) == len(set(logged)), "each message handed off once"


def test_an_expired_delta_state_restarts_the_folder_from_the_window_without_anything_new_twice(microsoft, app_token):
    for number in range(12):
        microsoft.mail.add(ALICE[0], "inbox", raw_email(number))
    first = run(microsoft, app_token)
    logged = set(ids(first))
    microsoft.mail.forget_delta_states()  # Graph's delta token cache dropped it: 410 SyncStateNotFound
    microsoft.mail.add(ALICE[0], "inbox", raw_email(12))

    again = run(microsoft, app_token, first[-1][2])
    assert set(ids(again)) == logged | {"<order-12@customer.example>"}, "the window again, same identities"
    new = [message_id for message_id in ids(again) if message_id not in logged]
    assert new == ["<order-12@customer.example>"], "only the new one is logged (identity = Message-ID)"
    assert again[-1][2].folders["inbox"].delta_link
    assert again[-1][2].folders["inbox"].uidvalidity == 1, "immutable ids: nothing to renumber"


def test_removed_entries_are_ignored(microsoft, app_token):
    kept = microsoft.mail.add(ALICE[0], "inbox", raw_email(1))
    gone = microsoft.mail.add(ALICE[0], "inbox", raw_email(2))
    state = run(microsoft, app_token)[-1][2]
    microsoft.mail.delete(ALICE[0], gone)
    batches = run(microsoft, app_token, state)
    assert [records for _folder, records, _state in batches] == [[], []]
    assert kept


def test_throttling_waits_for_retry_after_then_goes_on(microsoft, app_token):
    microsoft.mail.add(ALICE[0], "inbox", raw_email(1))
    microsoft.mail.throttle_delta = 2
    started = time.monotonic()
    batches = run(microsoft, app_token)
    assert time.monotonic() - started >= 2.0, "Retry-After: 1, twice"
    assert ids(batches) == ["<order-1@customer.example>"]


def test_throttling_beyond_the_bounded_wait_is_a_temporary_error(microsoft, app_token):
    microsoft.mail.throttle_delta = 1
    microsoft.mail.retry_after = "120"
    started = time.monotonic()
    with pytest.raises(graph_sync.GraphThrottled) as caught:
        run(microsoft, app_token, max_retry_wait=30)
    assert time.monotonic() - started < 5, "no two-minute wait inside a sync"
    assert caught.value.temporary and not caught.value.counts_as_sign_in_failure
    assert "ApplicationThrottled" in caught.value.detail


def test_bodies_come_twenty_per_json_batch_and_throttled_ones_are_asked_again(microsoft, app_token):
    raws = {microsoft.mail.add(ALICE[0], "inbox", raw_email(n)): raw_email(n) for n in range(45)}
    microsoft.mail.throttle_values = 2
    with graph_sync.GraphMailboxSync(settings(microsoft, app_token), since=SINCE, batch_size=50) as sync:
        batch = next(iter(sync.batches()))
        wanted = [record.uid for record in batch.records] + ["AAkALgAAAAAAHYQDEapmEc2byACqAC-gone"]
        bodies = batch.fetch_bodies(wanted)
    assert microsoft.mail.batch_sizes == [20, 2, 20, 6], "20 per $batch; the 2 throttled asked again at once"
    assert len(bodies) == 45, "a message gone meanwhile is absent"
    for uid, raw in raws.items():
        assert parse_headers(bodies[uid]).identity == parse_headers(raw).identity
        assert b"this is order" in bodies[uid]


def test_a_delegated_token_reads_its_own_mailbox_through_me(microsoft):
    token = microsoft._issue("app-id", ALICE[0], "https://graph.microsoft.com/Mail.Read offline_access")["access_token"]
    microsoft.mail.add(ALICE[0], "inbox", raw_email(1))
    batches = run(microsoft, token, mailbox=None)
    assert ids(batches) == ["<order-1@customer.example>"]
    assert any(path.startswith("/v1.0/me/mailFolders/inbox/messages/delta") for _m, path, _q in microsoft.requests)


@pytest.mark.parametrize(
    ("setup", "expected", "code"),
    [
        ("no_app_permission", graph_sync.GraphConsentMissing, "ErrorAccessDenied"),
        ("unknown_mailbox", graph_sync.GraphMailboxNotFound, "ErrorInvalidUser"),
        ("revoked", graph_sync.GraphTokenRefused, "InvalidAuthenticationToken"),
    ],
)
def test_refusals_are_typed_graph_errors(microsoft, app_token, setup, expected, code):
    mailbox = ALICE[0]
    if setup == "no_app_permission":
        microsoft.graph_app_permissions.discard("Mail.Read")
    elif setup == "unknown_mailbox":
        mailbox = "nobody@contoso.example"
    else:
        microsoft.revoke_all()
    with (
        pytest.raises(expected) as caught,
        graph_sync.GraphMailboxSync(settings(microsoft, app_token, mailbox=mailbox), since=SINCE) as sync,
    ):
        sync.check()
    assert caught.value.protocol == "Graph" and code in caught.value.detail
    assert caught.value.counts_as_sign_in_failure == (expected is graph_sync.GraphTokenRefused)
    assert app_token not in str(caught.value), "never a secret in a message"


def test_a_delegated_sign_in_without_mail_read_consent_says_so(microsoft):
    token = microsoft._issue("app-id", ALICE[0], "https://outlook.office.com/IMAP.AccessAsUser.All")["access_token"]
    with (
        pytest.raises(graph_sync.GraphConsentMissing, match="Mail.Read"),
        graph_sync.GraphMailboxSync(settings(microsoft, token, mailbox=None)) as sync,
    ):
        list(sync.batches())


def test_an_unreachable_graph_is_host_unreachable():
    closed = graph_sync.GraphSettings(access_token="t", base_url="https://127.0.0.1:9/v1.0", timeout=3)
    with pytest.raises(errors.HostUnreachable), graph_sync.GraphMailboxSync(closed) as sync:
        sync.check()


def test_an_imap_state_reads_as_a_fresh_graph_state():
    imap_state = SyncState({"INBOX": FolderState(name="INBOX", role="inbox", uidvalidity=7, last_uid=42)})
    assert graph_sync.GraphSyncState.from_json(imap_state.to_json()).folders == {}
    assert graph_sync.GraphSyncState.from_json("not json").folders == {}


def test_retry_after_reads_seconds_and_http_dates():
    assert graph_sync.retry_after("7") == 7.0
    assert graph_sync.retry_after(None) == 5.0
    later = format_datetime(datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=60), usegmt=True)
    assert 50 <= graph_sync.retry_after(later) <= 61


def test_messages_are_read_again_by_immutable_id_for_retry(microsoft, app_token):
    kept = microsoft.mail.add(ALICE[0], "inbox", raw_email(1))
    gone = microsoft.mail.add(ALICE[0], "inbox", raw_email(2))
    microsoft.mail.delete(ALICE[0], gone)
    bodies = graph_sync.fetch_messages(settings(microsoft, app_token), [kept, gone])
    assert list(bodies) == [kept]
    assert parse_headers(bodies[kept]).identity == "<order-1@customer.example>"


def test_a_delta_that_refuses_internet_message_headers_gets_headers_built_from_the_json(microsoft, app_token):
    microsoft.mail.refuse_headers_select = True
    microsoft.mail.add(ALICE[0], "inbox", raw_email(1, cc="carl@customer.example"))
    records = run(microsoft, app_token)[0][1]
    headers = parse_headers(records[0].raw_headers)
    assert headers.identity == "<order-1@customer.example>"
    assert [key for _name, key in headers.sender + headers.to + headers.cc] == [
        "bea@customer.example",
        ALICE[0],
        "carl@customer.example",
    ]


def synced_state(microsoft, token, numbers=(0, 1)):
    for number in numbers:
        microsoft.mail.add(ALICE[0], "inbox", raw_email(number))
    return graph_sync.GraphSyncState.from_json(run(microsoft, token)[-1][2].to_json())


def test_an_idle_poll_costs_one_delta_request_per_folder_and_consumes_nothing(microsoft, app_token):
    state = synced_state(microsoft, app_token)
    gone = microsoft.mail.add(ALICE[0], "sentitems", raw_email(5, sender=ALICE[0]))
    state = graph_sync.GraphSyncState.from_json(run(microsoft, app_token, state)[-1][2].to_json())
    microsoft.mail.delete(ALICE[0], gone)  # a deletion is nothing new for a read-only sync
    microsoft.mail.page_sizes.clear()
    microsoft.requests.clear()

    assert graph_sync.poll([(settings(microsoft, app_token), state)]) == [False]
    deltas = [path for _method, path, _query in microsoft.requests if path.endswith("/messages/delta")]
    assert len(deltas) == 2, "one delta request per folder"
    assert microsoft.mail.page_sizes == [graph_sync.PROBE_PAGE_SIZE] * 2
    assert microsoft.mail.value_requests == 0 and len(microsoft.requests) == 2, "no body, nothing else"

    # A new message: True; the probe consumed nothing, the full sync still finds it.
    microsoft.mail.add(ALICE[0], "inbox", raw_email(2))
    assert graph_sync.poll([(settings(microsoft, app_token), state)]) == [True]
    assert ids(run(microsoft, app_token, state)) == ["<order-2@customer.example>"]


def test_an_idle_poll_says_changed_for_an_expired_state_a_pending_round_or_an_error(microsoft, app_token):
    state = synced_state(microsoft, app_token)
    other = synced_state(microsoft, app_token, numbers=())  # same mailbox, a second committed state
    pending = graph_sync.GraphSyncState.from_json(state.to_json())
    pending.folders["inbox"].next_link = pending.folders["inbox"].delta_link
    good = settings(microsoft, app_token)
    refused = settings(microsoft, "not-a-token")
    unreachable = graph_sync.GraphSettings(access_token="x", base_url="https://127.0.0.1:9/v1.0", timeout=2)
    jobs = [(good, state), (good, pending), (refused, state), (unreachable, state), (good, None), (good, other)]
    assert graph_sync.poll(jobs) == [False, True, True, True, True, False]

    microsoft.mail.forget_delta_states()  # 410 SyncStateNotFound
    microsoft.requests.clear()
    assert graph_sync.poll([(good, state)]) == [True]
    assert len(microsoft.requests) == 1, "the inbox's answer is enough"
