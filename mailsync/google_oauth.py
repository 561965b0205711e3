"""Google OAuth 2.0 for Gmail and Google Workspace mailboxes: the authorization
code flow with PKCE and state (sign-in in the user's browser), the code
exchange and the token refresh, over Google's documented endpoints. The
access token signs in to IMAP and SMTP with XOAUTH2 (scope
``https://mail.google.com/``).

No Google library is needed for these three HTTP calls (Odoo's own
google_gmail module makes them by hand too); ``auth_url`` and ``token_url``
are Google's, and tests point them at :mod:`mailsync.testing.oauth_server`.
"""

import base64
import dataclasses
import hashlib
import secrets
import time
import urllib.parse

import requests

from .errors import OAuthError
from .oauth import Tokens

GOOGLE_AUTH_URL = "https://accounts.google.com/o/oauth2/v2/auth"
GOOGLE_TOKEN_URL = "https://oauth2.googleapis.com/token"  # noqa: S105 - an endpoint, not a secret
GMAIL_SCOPE = "https://mail.google.com/"
PROVIDER = "google"


@dataclasses.dataclass(frozen=True)
class GoogleApp:
    """An OAuth client of a Google Cloud project (type "Web application")."""

    client_id: str
    client_secret: str = dataclasses.field(repr=False)
    auth_url: str = GOOGLE_AUTH_URL
    token_url: str = GOOGLE_TOKEN_URL
    cafile: str | None = None  # an extra trusted CA (tests)
    timeout: float = 20.0


def start_sign_in(app, redirect_uri, login_hint=None, scope=GMAIL_SCOPE):
    """Begin a sign-in: returns a flow dict (JSON-serialisable) whose
    ``auth_uri`` the user's browser opens; keep it for :func:`finish_sign_in`."""
    verifier = secrets.token_urlsafe(64)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    state = secrets.token_urlsafe(24)
    params = {
        "client_id": app.client_id,
        "redirect_uri": redirect_uri,
        "response_type": "code",
        "scope": scope,
        "state": state,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "access_type": "offline",  # a refresh token
        "prompt": "consent",  # and again on a new sign-in
    }
    if login_hint:
        params["login_hint"] = login_hint
    return {
        "auth_uri": f"{app.auth_url}?{urllib.parse.urlencode(params)}",
        "state": state,
        "code_verifier": verifier,
        "redirect_uri": redirect_uri,
    }


def finish_sign_in(app, flow, response_params):
    """Redeem Google's redirect (its query parameters) for tokens."""
    if response_params.get("error"):
        raise OAuthError(response_params["error"], response_params.get("error_description", ""), PROVIDER)
    if not flow or not secrets.compare_digest(str(response_params.get("state", "")), str(flow.get("state", ""))):
        raise OAuthError("state_mismatch", "", PROVIDER)
    return _token_request(
        app,
        {
            "grant_type": "authorization_code",
            "code": response_params.get("code", ""),
            "redirect_uri": flow["redirect_uri"],
            "code_verifier": flow["code_verifier"],
        },
    )


def refresh(app, refresh_token):
    """A new access token (Google keeps the refresh token unless it rotates it)."""
    tokens = _token_request(app, {"grant_type": "refresh_token", "refresh_token": refresh_token})
    if not tokens.refresh_token:
        tokens = dataclasses.replace(tokens, refresh_token=refresh_token)
    return tokens


def _token_request(app, form):
    form = {**form, "client_id": app.client_id, "client_secret": app.client_secret}
    try:
        response = requests.post(app.token_url, data=form, timeout=app.timeout, verify=app.cafile or True)
    except requests.RequestException as exc:
        raise OAuthError("unreachable", type(exc).__name__, PROVIDER) from None
    try:
        body = response.json()
    except ValueError:
        body = {}
    if response.status_code != 200 or "access_token" not in body:
        raise OAuthError(body.get("error"), body.get("error_description", f"HTTP {response.status_code}"), PROVIDER)
    return Tokens(
        access_token=body["access_token"],
        expires_at=time.time() + int(body.get("expires_in", 3600)),
        refresh_token=body.get("refresh_token"),
        scope=body.get("scope", ""),
    )
