"""Microsoft OAuth 2.0 with msal against a local authorization server, and
XOAUTH2 sign-in to a real Dovecot that checks tokens by introspection."""

import urllib.parse

import pytest
import requests

from mailsync import errors, oauth
from mailsync.imap import ImapSettings, connect
from mailsync.testing import ALICE
from mailsync.testing.dovecot import DovecotServer, free_port
from mailsync.testing.oauth_server import OAuthServer

REDIRECT = "http://127.0.0.1:8069/crm_mail_sync/oauth/microsoft"


@pytest.fixture(scope="module")
def provider():
    with OAuthServer(clients={"app-id": "app-secret-value"}, users=[ALICE[0]]) as server:
        yield server


@pytest.fixture(scope="module")
def mail_server(provider):
    with DovecotServer(users=dict([ALICE]), oauth2_introspection_url=provider.introspection_url) as server:
        yield server


@pytest.fixture
def app(provider):
    return provider.microsoft_app("app-id", "app-secret-value")


def sign_in(app, provider, tamper_state=False):
    flow = oauth.start_sign_in(app, REDIRECT, login_hint=ALICE[0])
    consent = requests.get(flow["auth_uri"], verify=provider.certs.ca_file, allow_redirects=False, timeout=10)
    assert consent.status_code == 302
    params = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(consent.headers["Location"]).query))
    if tamper_state:
        params["state"] = "forged"
    return oauth.finish_sign_in(app, flow, params)


def imap_with_token(mail_server, token):
    return connect(
        ImapSettings(
            mail_server.host,
            mail_server.port,
            "starttls",
            ALICE[0],
            access_token=token,
            cafile=mail_server.certs.ca_file,
        )
    )


def test_user_signs_in_and_the_mailbox_opens_with_xoauth2(app, provider, mail_server):
    tokens = sign_in(app, provider)
    assert tokens.refresh_token and not tokens.expired()
    with imap_with_token(mail_server, tokens.access_token) as session:
        assert "INBOX" in [folder.name for folder in session.folders()]
    token_call = next(form for method, path, form in provider.requests if path.endswith("/token"))
    assert token_call["code_verifier"], "PKCE: the code is redeemed with its verifier"
    assert "https://outlook.office.com/IMAP.AccessAsUser.All" in token_call["scope"]


def test_a_forged_sign_in_answer_is_refused(app, provider):
    with pytest.raises(oauth.OAuthError) as caught:
        sign_in(app, provider, tamper_state=True)
    assert caught.value.reason == "state_mismatch"


def test_refresh_gives_a_working_token_until_consent_is_revoked(app, provider, mail_server):
    tokens = sign_in(app, provider)
    renewed = oauth.refresh(app, tokens.refresh_token)
    assert renewed.access_token != tokens.access_token
    imap_with_token(mail_server, renewed.access_token).close()
    provider.revoke_all()
    with pytest.raises(oauth.OAuthError) as caught:
        oauth.refresh(app, renewed.refresh_token)
    assert caught.value.reason == "invalid_grant"
    assert "Sign in again" in str(caught.value)


def test_an_expired_token_is_refused_by_the_mail_server(app, provider, mail_server):
    tokens = sign_in(app, provider)
    provider.expire_access_tokens()
    with pytest.raises(errors.AuthenticationFailed) as caught:
        imap_with_token(mail_server, tokens.access_token)
    assert caught.value.reason == "token"
    assert tokens.access_token not in str(caught.value)


def test_wrong_client_secret_is_explained_without_echoing_it(provider):
    bad = provider.microsoft_app("app-id", "wrong-secret-value")
    with pytest.raises(oauth.OAuthError) as caught:
        oauth.app_token(bad)
    assert caught.value.reason == "invalid_client"
    assert "wrong-secret-value" not in str(caught.value)
    assert "client secret" in str(caught.value)


def test_app_only_token_for_mail_send(app, provider):
    tokens = oauth.app_token(app)
    assert tokens.access_token and tokens.refresh_token is None
    call = [form for method, path, form in provider.requests if form.get("grant_type") == "client_credentials"][-1]
    assert call["scope"] == "https://graph.microsoft.com/.default"


def test_unreachable_provider(app):
    gone = oauth.MicrosoftApp("t", "app-id", "s", authority_host=f"https://localhost:{free_port()}", timeout=2)
    with pytest.raises(oauth.OAuthError) as caught:
        oauth.app_token(gone)
    assert caught.value.reason == "unreachable"
