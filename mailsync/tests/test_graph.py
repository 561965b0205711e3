"""Sending through Microsoft Graph with an app-only token (Mail.Send), against a
local server that answers as Graph's documentation shows (Graph itself cannot
be reached from here)."""

import email
from email.message import EmailMessage

import pytest

from mailsync import graph, oauth
from mailsync.testing import ALICE
from mailsync.testing.oauth_server import OAuthServer


@pytest.fixture
def microsoft():
    with OAuthServer(clients={"app-id": "app-secret-value"}, users=[ALICE[0]]) as server:
        yield server


@pytest.fixture
def token(microsoft):
    return oauth.app_token(microsoft.microsoft_app("app-id", "app-secret-value")).access_token


def message(subject="Quote for 40 chairs"):
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = ALICE[0], "maria.garcia@acme-corp.example", subject
    msg.set_content("Hello Maria,\n\nOur quote is attached.\n")
    return msg.as_bytes()


def send(microsoft, token, sender=ALICE[0], mime=None):
    graph.send_mime(token, sender, mime or message(), base_url=microsoft.graph_url, cafile=microsoft.certs.ca_file)


def test_message_is_sent_as_the_mailbox(microsoft, token):
    send(microsoft, token)
    sender, raw = microsoft.graph_sent[-1]
    assert sender == ALICE[0]
    sent = email.message_from_bytes(raw)
    assert sent["Subject"] == "Quote for 40 chairs"
    assert "Our quote is attached." in sent.get_payload()
    assert microsoft.requests[-1][2]["content_type"] == "text/plain"


def test_app_without_mail_send_permission_is_told_what_to_grant(microsoft, token):
    microsoft.graph_app_permissions.clear()
    with pytest.raises(graph.GraphError) as caught:
        send(microsoft, token)
    assert caught.value.reason == "forbidden"
    assert "Mail.Send" in str(caught.value)
    assert "ErrorAccessDenied" in caught.value.detail


def test_unknown_sender_mailbox(microsoft, token):
    with pytest.raises(graph.GraphError) as caught:
        send(microsoft, token, sender="nobody@contoso.example")
    assert caught.value.reason == "mailbox_not_found"


def test_expired_token(microsoft, token):
    microsoft.expire_access_tokens()
    with pytest.raises(graph.GraphError) as caught:
        send(microsoft, token)
    assert caught.value.reason == "unauthorized"
    assert token not in str(caught.value)


def test_throttling_says_when_to_retry(microsoft, token):
    microsoft.throttle_next = 1
    with pytest.raises(graph.GraphError) as caught:
        send(microsoft, token)
    assert (caught.value.reason, caught.value.retry_after) == ("throttled", 5)
    send(microsoft, token)  # the next attempt goes through
    assert len(microsoft.graph_sent) == 1


def test_too_large_is_refused_before_sending(microsoft, token):
    with pytest.raises(graph.GraphError) as caught:
        send(microsoft, token, mime=b"x" * (graph.MAX_MIME_BYTES + 1))
    assert caught.value.reason == "too_large"
    assert microsoft.graph_sent == []
