"""A local OAuth 2.0 authorization server for tests, speaking what Microsoft's
identity platform speaks to msal (tenant discovery, authorize, token) and what
Dovecot's oauth2 passdb asks (RFC 7662 token introspection).

- ``https://127.0.0.1:<port>/<tenant>/v2.0/.well-known/openid-configuration``
- ``GET  /<tenant>/oauth2/v2.0/authorize``: consent is given at once (the test
  plays the user): redirects to ``redirect_uri`` with ``code`` and ``state``
- ``POST /<tenant>/oauth2/v2.0/token``: grant types ``authorization_code``,
  ``refresh_token`` and ``client_credentials``; checks the client secret
- Google's endpoints, the same way: ``GET /google/o/oauth2/v2/auth`` and
  ``POST /google/token`` (``google_app()``), with PKCE (S256) checked
- ``POST /introspect`` (also on the plain-HTTP port, for Dovecot):
  ``{"active": true, "email": ...}`` for a live access token
- ``POST /v1.0/users/<sender>/sendMail``: Microsoft Graph's send, MIME in
  base64 (``graph_url``); answers 202, or Graph's documented error bodies
  (401 InvalidAuthenticationToken, 403 ErrorAccessDenied without the Mail.Send
  permission, 404 ErrorInvalidUser, 429 with Retry-After when ``throttle_next``)

It issues opaque random tokens and remembers them; ``revoke_all()`` and
``expire_access_tokens()`` let tests play a revoked consent or an expiry.
"""

import base64
import hashlib
import http.server
import json
import secrets
import ssl
import threading
import time
import urllib.parse

from .certs import make_certificates

GOOGLE_AUTH_PATH = "/google/o/oauth2/v2/auth"
GOOGLE_TOKEN_PATH = "/google/token"


class OAuthServer:
    def __init__(self, clients, users, tenant="contoso-tenant"):
        """:param clients: ``{client_id: client_secret}``; :param users: logins
        that may consent (the first one consents to authorize requests)."""
        self.clients = dict(clients)
        self.users = list(users)
        self.tenant = tenant
        self.host = "127.0.0.1"
        self.codes = {}  # code -> (client_id, user, scope, redirect_uri)
        self.challenges = {}  # code -> PKCE code_challenge
        self.access_tokens = {}  # token -> {"user", "client_id", "scope", "expires"}
        self.refresh_tokens = {}  # token -> (client_id, user, scope)
        self.requests = []  # (method, path, form) for assertions
        self._servers = []
        self._dir = None
        self.certs = None
        self.consenting_user = self.users[0] if self.users else None
        self.graph_mailboxes = set(self.users)  # senders Graph knows
        self.graph_app_permissions = {"Mail.Send"}  # granted to the app registration
        self.graph_sent = []  # (sender, raw MIME bytes)
        self.throttle_next = 0

    # -- lifecycle -------------------------------------------------------
    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()

    def start(self):
        import tempfile

        self._dir = tempfile.mkdtemp(prefix="crm_mail_sync_oauth_")
        self.certs = make_certificates(self._dir)
        handler = _handler_for(self)
        https = http.server.ThreadingHTTPServer((self.host, 0), handler)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.certs.cert_file, self.certs.key_file)
        https.socket = context.wrap_socket(https.socket, server_side=True)
        plain = http.server.ThreadingHTTPServer((self.host, 0), handler)
        self._servers = [https, plain]
        self.port = https.server_address[1]
        self.plain_port = plain.server_address[1]
        for server in self._servers:
            threading.Thread(target=server.serve_forever, daemon=True).start()
        return self

    def stop(self):
        for server in self._servers:
            server.shutdown()
            server.server_close()
        self._servers = []
        if self._dir:
            import shutil

            shutil.rmtree(self._dir, ignore_errors=True)

    # -- URLs ------------------------------------------------------------
    @property
    def authority(self):
        """What msal takes as ``authority`` (an Entra-style tenant URL)."""
        return f"https://localhost:{self.port}/{self.tenant}"

    def microsoft_app(self, client_id, client_secret, **kwargs):
        """The engine's view of an app registration on this server."""
        from ..oauth import MicrosoftApp

        return MicrosoftApp(
            self.tenant,
            client_id,
            client_secret,
            authority_host=f"https://localhost:{self.port}",
            cafile=self.certs.ca_file,
            **kwargs,
        )

    def google_app(self, client_id, client_secret):
        """A :class:`mailsync.google_oauth.GoogleApp` pointing at this server."""
        from ..google_oauth import GoogleApp

        base = f"https://localhost:{self.port}"
        return GoogleApp(
            client_id,
            client_secret,
            auth_url=base + GOOGLE_AUTH_PATH,
            token_url=base + GOOGLE_TOKEN_PATH,
            cafile=self.certs.ca_file,
        )

    @property
    def graph_url(self):
        return f"https://localhost:{self.port}/v1.0"

    @property
    def introspection_url(self):
        return f"http://{self.host}:{self.plain_port}/introspect"

    # -- test controls ---------------------------------------------------
    def revoke_all(self):
        self.access_tokens.clear()
        self.refresh_tokens.clear()

    def expire_access_tokens(self):
        for token in self.access_tokens.values():
            token["expires"] = 0

    # -- protocol --------------------------------------------------------
    def _issue(self, client_id, user, scope, refresh=True):
        access = "at-" + secrets.token_urlsafe(24)
        self.access_tokens[access] = {
            "user": user,
            "client_id": client_id,
            "scope": scope,
            "expires": time.time() + 3600,
        }
        body = {"token_type": "Bearer", "access_token": access, "expires_in": 3600, "scope": scope}
        if refresh:
            token = "rt-" + secrets.token_urlsafe(24)
            self.refresh_tokens[token] = (client_id, user, scope)
            body["refresh_token"] = token
        return body

    def token(self, form):
        client_id, secret = form.get("client_id"), form.get("client_secret")
        if client_id not in self.clients or self.clients[client_id] != secret:
            return 401, {
                "error": "invalid_client",
                "error_description": "AADSTS7000215: Invalid client secret provided.",
            }
        grant = form.get("grant_type")
        scope = form.get("scope", "")
        if grant == "client_credentials":
            return 200, self._issue(client_id, None, scope, refresh=False)
        if grant == "authorization_code":
            entry = self.codes.pop(form.get("code"), None)
            challenge = self.challenges.pop(form.get("code"), None)
            if challenge and form.get("code_verifier"):  # PKCE (RFC 7636, S256)
                digest = hashlib.sha256(form["code_verifier"].encode()).digest()
                if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != challenge:
                    entry = None
            if not entry or entry[0] != client_id or entry[3] != form.get("redirect_uri"):
                return 400, {
                    "error": "invalid_grant",
                    "error_description": "AADSTS70008: The provided authorization code is invalid or has expired.",
                }
            return 200, self._issue(client_id, entry[1], entry[2])
        if grant == "refresh_token":
            entry = self.refresh_tokens.get(form.get("refresh_token"))
            if not entry or entry[0] != client_id:
                return 400, {
                    "error": "invalid_grant",
                    "error_description": "AADSTS700082: The refresh token has expired or was revoked.",
                }
            return 200, self._issue(client_id, entry[1], scope or entry[2])
        return 400, {"error": "unsupported_grant_type"}

    def authorize(self, query):
        client_id = query.get("client_id")
        if client_id not in self.clients:
            return 400, {"error": "unauthorized_client"}
        code = "code-" + secrets.token_urlsafe(16)
        self.codes[code] = (client_id, self.consenting_user, query.get("scope", ""), query.get("redirect_uri"))
        self.challenges[code] = query.get("code_challenge")
        params = {"code": code, "state": query.get("state", "")}
        return 302, query["redirect_uri"] + "?" + urllib.parse.urlencode(params)

    def token_user(self, user, token):
        """Whether ``token`` is a live access token of ``user`` (for a test SMTP server)."""
        entry = self.access_tokens.get(token)
        return bool(entry and entry["expires"] >= time.time() and entry["user"] == user)

    def introspect(self, form):
        entry = self.access_tokens.get(form.get("token", ""))
        if not entry or entry["expires"] < time.time() or not entry["user"]:
            return 200, {"active": False}
        return 200, {"active": True, "email": entry["user"], "client_id": entry["client_id"]}

    def graph_send_mail(self, sender, authorization, body):
        token = self.access_tokens.get(authorization.removeprefix("Bearer ").strip())
        if not token or token["expires"] < time.time():
            return 401, {
                "error": {
                    "code": "InvalidAuthenticationToken",
                    "message": "Access token has expired or is not yet valid.",
                }
            }
        if token["user"] is None and "Mail.Send" not in self.graph_app_permissions:
            return 403, {
                "error": {"code": "ErrorAccessDenied", "message": "Access is denied. Check credentials and try again."}
            }
        if sender not in self.graph_mailboxes:
            return 404, {"error": {"code": "ErrorInvalidUser", "message": f"The requested user '{sender}' is invalid."}}
        if self.throttle_next:
            self.throttle_next -= 1
            return 429, {
                "error": {
                    "code": "ApplicationThrottled",
                    "message": "Application is over its MailboxConcurrency limit.",
                }
            }
        self.graph_sent.append((sender, base64.b64decode(body)))
        return 202, None

    def openid_configuration(self):
        base = f"https://localhost:{self.port}/{self.tenant}"
        return 200, {
            "issuer": f"{base}/v2.0",
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "token_endpoint": f"{base}/oauth2/v2.0/token",
            "response_types_supported": ["code"],
        }


def _handler_for(server):
    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):  # keep test output quiet
            pass

        def _send(self, status, body, headers=()):
            if status == 202:
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if status == 302:
                self.send_response(302)
                self.send_header("Location", body)
                self.end_headers()
                return
            payload = json.dumps(body).encode()
            self.send_response(status)
            if status == 429:
                self.send_header("Retry-After", "5")
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def do_GET(self):
            url = urllib.parse.urlsplit(self.path)
            query = dict(urllib.parse.parse_qsl(url.query))
            server.requests.append(("GET", url.path, query))
            if url.path == f"/{server.tenant}/v2.0/.well-known/openid-configuration":
                return self._send(*server.openid_configuration())
            if url.path in (f"/{server.tenant}/oauth2/v2.0/authorize", GOOGLE_AUTH_PATH):
                return self._send(*server.authorize(query))
            return self._send(404, {"error": "not_found"})

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            url = urllib.parse.urlsplit(self.path)
            parts = url.path.split("/")
            if len(parts) == 5 and parts[1:3] == ["v1.0", "users"] and parts[4] == "sendMail":
                sender = urllib.parse.unquote(parts[3])
                server.requests.append(("POST", url.path, {"content_type": self.headers.get("Content-Type")}))
                return self._send(*server.graph_send_mail(sender, self.headers.get("Authorization", ""), raw))
            form = dict(urllib.parse.parse_qsl(raw.decode()))
            server.requests.append(("POST", url.path, form))
            if url.path in (f"/{server.tenant}/oauth2/v2.0/token", GOOGLE_TOKEN_PATH):
                return self._send(*server.token(form))
            if url.path == "/introspect":
                return self._send(*server.introspect(form))
            return self._send(404, {"error": "not_found"})

    return Handler
