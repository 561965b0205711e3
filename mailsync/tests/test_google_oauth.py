"""Google OAuth 2.0 (authorization code + PKCE) against a local server speaking
Google's endpoints, then XOAUTH2 sign-in to a real Dovecot."""

import urllib.parse

import pytest
import requests

from mailsync import errors, google_oauth, oauth
from mailsync.imap import ImapSettings, connect
from mailsync.testing import ALICE
from mailsync.testing.dovecot import DovecotServer
from mailsync.testing.oauth_server import OAuthServer

REDIRECT = "http://127.0.0.1:8069/crm_mail_sync/oauth/google"


@pytest.fixture(scope="module")
def provider():
    with OAuthServer(clients={"google-client.apps.example": "google-secret"}, users=[ALICE[0]]) as server:
        yield server


@pytest.fixture(scope="module")
def mail_server(provider):
    with DovecotServer(users=dict([ALICE]), oauth2_introspection_url=provider.introspection_url) as server:
        yield server


@pytest.fixture
def app(provider):
    return provider.google_app("google-client.apps.example", "google-secret")


def consent(provider, flow, **tamper):
    answer = requests.get(flow["auth_uri"], verify=provider.certs.ca_file, allow_redirects=False, timeout=10)
    assert answer.status_code == 302
    params = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(answer.headers["Location"]).query))
    return {**params, **tamper}


def test_sign_in_gives_tokens_that_open_the_mailbox(app, provider, mail_server):
    flow = google_oauth.start_sign_in(app, REDIRECT, login_hint=ALICE[0])
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(flow["auth_uri"]).query))
    assert query["scope"] == "https://mail.google.com/"
    assert (query["access_type"], query["code_challenge_method"]) == ("offline", "S256")
    assert "code_verifier" not in flow["auth_uri"]
    tokens = google_oauth.finish_sign_in(app, flow, consent(provider, flow))
    assert tokens.refresh_token and not tokens.expired()
    settings = ImapSettings(mail_server.host, mail_server.port, "none", ALICE[0], access_token=tokens.access_token)
    with connect(settings) as session:
        assert any(folder.name == "INBOX" for folder in session.folders())


def test_refresh_keeps_the_refresh_token(app, provider):
    flow = google_oauth.start_sign_in(app, REDIRECT)
    first = google_oauth.finish_sign_in(app, flow, consent(provider, flow))
    again = google_oauth.refresh(app, first.refresh_token)
    assert again.access_token != first.access_token and again.refresh_token


def test_a_forged_state_or_a_wrong_verifier_is_refused(app, provider):
    flow = google_oauth.start_sign_in(app, REDIRECT)
    with pytest.raises(oauth.OAuthError) as caught:
        google_oauth.finish_sign_in(app, flow, consent(provider, flow, state="forged"))
    assert caught.value.reason == "state_mismatch"
    assert str(caught.value).startswith("Google sign-in")
    # The provider-neutral error of the engine, saying whose sign-in failed.
    assert type(caught.value) is errors.OAuthError and caught.value.provider == "google"
    flow = google_oauth.start_sign_in(app, REDIRECT)
    params = consent(provider, flow)
    with pytest.raises(oauth.OAuthError) as caught:
        google_oauth.finish_sign_in(app, {**flow, "code_verifier": "not-the-verifier"}, params)
    assert caught.value.reason == "invalid_grant"


def test_refused_consent_and_wrong_secret(provider, app):
    flow = google_oauth.start_sign_in(app, REDIRECT)
    with pytest.raises(oauth.OAuthError) as caught:
        google_oauth.finish_sign_in(app, flow, {"error": "access_denied", "state": flow["state"]})
    assert caught.value.reason == "access_denied"
    wrong = provider.google_app("google-client.apps.example", "not-the-secret")
    flow = google_oauth.start_sign_in(wrong, REDIRECT)
    with pytest.raises(oauth.OAuthError) as caught:
        google_oauth.finish_sign_in(wrong, flow, consent(provider, flow))
    assert caught.value.reason == "invalid_client"
    assert "not-the-secret" not in str(caught.value)


def test_smtp_signs_in_with_the_token(app, provider):
    from email.message import EmailMessage

    from mailsync import errors, smtp
    from mailsync.testing.smtpd import SmtpServer

    flow = google_oauth.start_sign_in(app, REDIRECT)
    tokens = google_oauth.finish_sign_in(app, flow, consent(provider, flow))
    with SmtpServer("none", check_token=provider.token_user) as server:
        settings = smtp.SmtpSettings(
            server.host, server.port, "none", username=ALICE[0], access_token=tokens.access_token
        )
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = ALICE[0], "bea@customer.example", "Quote"
        message.set_content("Here it is.")
        smtp.send_message(settings, message)
        assert server.wait_for(1)[0]["login"] == ALICE[0]
        provider.revoke_all()
        with pytest.raises(errors.AuthenticationFailed) as caught:
            smtp.check(settings)
        assert caught.value.reason == "token"
        assert tokens.access_token not in str(caught.value)
