"""Microsoft OAuth 2.0 through msal: user sign-in (authorization code flow with
PKCE and state, checked by msal), token refresh, and the client credentials
grant (app-only, e.g. Mail.Send through Microsoft Graph).

The application registration gives a tenant id, a client id and a client
secret. ``authority_host`` is Microsoft's login host; tests point it at
:mod:`mailsync.testing.oauth_server`.
"""

import dataclasses
import time
import warnings

import msal
import requests

from .errors import OAuthError  # provider-neutral; also reached as oauth.OAuthError

MICROSOFT_LOGIN = "https://login.microsoftonline.com"
# Delegated scopes for reading a mailbox over IMAP and sending over SMTP as the
# signed-in user (msal adds openid, profile and offline_access itself).
MICROSOFT_MAIL_SCOPES = (
    "https://outlook.office.com/IMAP.AccessAsUser.All",
    "https://outlook.office.com/SMTP.Send",
)
# Delegated scope for reading a mailbox through Microsoft Graph (Graph mailboxes,
# mailsync.graph_sync); Graph tokens are asked with it by refresh.
MICROSOFT_GRAPH_MAIL_SCOPES = ("https://graph.microsoft.com/Mail.Read",)
# App-only: the permissions granted to the application (e.g. Mail.Send, Mail.Read).
MICROSOFT_GRAPH_APP_SCOPES = ("https://graph.microsoft.com/.default",)
PROVIDER = "microsoft"
#: Seconds before its expiry from which a token is renewed rather than used.
EXPIRY_MARGIN = 300


@dataclasses.dataclass(frozen=True)
class MicrosoftApp:
    """An app registration in Microsoft Entra ID."""

    tenant_id: str
    client_id: str
    client_secret: str = dataclasses.field(repr=False)
    authority_host: str = MICROSOFT_LOGIN
    cafile: str | None = None  # an extra trusted CA (tests)
    timeout: float = 20.0


@dataclasses.dataclass(frozen=True)
class Tokens:
    access_token: str = dataclasses.field(repr=False)
    expires_at: float
    refresh_token: str | None = dataclasses.field(default=None, repr=False)
    scope: str = ""

    def expired(self, margin=EXPIRY_MARGIN):
        """Whether the access token is expired or expires within ``margin`` seconds."""
        return time.time() > self.expires_at - margin


class _Session(requests.Session):
    """requests lets REQUESTS_CA_BUNDLE override a session's ``verify``; a
    ``verify`` passed with each request is kept, so an extra CA really counts."""

    def __init__(self, verify):
        super().__init__()
        self.verify = verify

    def request(self, method, url, **kwargs):
        kwargs.setdefault("verify", self.verify)
        return super().request(method, url, **kwargs)


def _client(app):
    try:
        return msal.ConfidentialClientApplication(
            app.client_id,
            client_credential=app.client_secret,
            authority=f"{app.authority_host.rstrip('/')}/{app.tenant_id}",
            instance_discovery=False,  # no call to Microsoft's discovery for a known or test host
            http_client=_Session(app.cafile or True),
            timeout=app.timeout,
        )
    except ValueError as exc:  # msal: the tenant's configuration could not be read
        raise OAuthError("invalid_client", f"unknown tenant {app.tenant_id}", PROVIDER) from exc
    except requests.RequestException as exc:
        raise OAuthError("unreachable", type(exc).__name__, PROVIDER) from None


def _tokens(result):
    if "access_token" not in result:
        description = (result.get("error_description") or "").strip()
        raise OAuthError(result.get("error"), description.splitlines()[0] if description else "", PROVIDER)
    scope = result.get("scope", "")
    return Tokens(
        access_token=result["access_token"],
        expires_at=time.time() + int(result.get("expires_in", 3600)),
        refresh_token=result.get("refresh_token"),
        scope=scope if isinstance(scope, str) else " ".join(scope),
    )


def _call(function, *args, **kwargs):
    try:
        return function(*args, **kwargs)
    except requests.RequestException as exc:
        raise OAuthError("unreachable", type(exc).__name__, PROVIDER) from None


def start_sign_in(app, redirect_uri, scopes=MICROSOFT_MAIL_SCOPES, login_hint=None):
    """Begin a user sign-in. Returns msal's flow (a JSON-serialisable dict):
    send the user to ``flow["auth_uri"]`` and keep the flow (it holds the
    state and the PKCE verifier) for :func:`finish_sign_in`.

    The answer comes back in the redirect's query (response_mode "query"), not as a form
    POST: the callback is an Odoo page of the signed-in user, whose session cookie
    (SameSite=Lax) a cross-site POST from Microsoft would not carry. The code is bound to
    the PKCE verifier and the state kept in that session (RFC 7636, RFC 9700 4.5), so
    msal's (>= 1.35) recommendation of form_post, a warning, is silenced here only."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="response_mode='form_post' is recommended", category=UserWarning)
        return _call(
            _client(app).initiate_auth_code_flow,
            list(scopes),
            redirect_uri=redirect_uri,
            login_hint=login_hint,
        )


def finish_sign_in(app, flow, response_params):
    """Redeem the provider's redirect (its query parameters) for tokens."""
    if response_params.get("error"):
        raise OAuthError(response_params["error"], response_params.get("error_description", ""), PROVIDER)
    try:
        result = _call(_client(app).acquire_token_by_auth_code_flow, flow, response_params)
    except ValueError as exc:  # msal: state mismatch or a replayed answer
        raise OAuthError("state_mismatch", str(exc), PROVIDER) from None
    return _tokens(result)


def refresh(app, refresh_token, scopes=MICROSOFT_MAIL_SCOPES):
    """New tokens from a refresh token (which may itself be rotated)."""
    return _tokens(_call(_client(app).acquire_token_by_refresh_token, refresh_token, list(scopes)))


def app_token(app, scopes=MICROSOFT_GRAPH_APP_SCOPES):
    """An app-only token (client credentials grant)."""
    return _tokens(_call(_client(app).acquire_token_for_client, list(scopes)))
