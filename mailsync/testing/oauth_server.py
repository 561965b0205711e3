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
- Microsoft Graph's mail reading (see :class:`GraphMail`, ``graph_add_message``):
  ``GET /v1.0/{users/<mailbox>|me}/mailFolders/<inbox|sentitems>/messages/delta``
  (delta rounds paged with ``@odata.nextLink``, ending with ``@odata.deltaLink``,
  ``@removed`` entries, 410 SyncStateNotFound once the state is forgotten),
  ``GET .../mailFolders/<folder>``, ``GET .../messages/<id>/$value`` and
  ``POST /v1.0/$batch`` (JSON batching), 403 ErrorAccessDenied without the
  Mail.Read permission, 429 with Retry-After when told to throttle

It issues opaque random tokens and remembers them; ``revoke_all()`` and
``expire_access_tokens()`` let tests play a revoked consent or an expiry.
"""

import base64
import datetime
import email
import email.utils
import hashlib
import http.server
import json
import re
import secrets
import ssl
import threading
import time
import urllib.parse

from .certs import make_certificates
from .local_server import ServerContext

GOOGLE_AUTH_PATH = "/google/o/oauth2/v2/auth"
GOOGLE_TOKEN_PATH = "/google/token"


class OAuthServer(ServerContext):
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
        self.graph_app_permissions.add("Mail.Read")
        self.mail = GraphMail(self)

    # -- lifecycle -------------------------------------------------------
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
            if url.path.startswith("/v1.0/"):
                answer = server.mail.get(url.path, query, self.headers)
                return self._send_graph(*answer)
            return self._send(404, {"error": "not_found"})

        def _send_graph(self, status, body, headers=None):
            """A Graph answer: JSON, or bytes (``$value``) with their headers."""
            headers = dict(headers or {})
            if isinstance(body, bytes):
                payload = body
                headers.setdefault("Content-Type", "text/plain")
            else:
                payload = json.dumps(body).encode()
                headers.setdefault("Content-Type", "application/json")
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            url = urllib.parse.urlsplit(self.path)
            parts = url.path.split("/")
            if len(parts) == 5 and parts[1:3] == ["v1.0", "users"] and parts[4] == "sendMail":
                sender = urllib.parse.unquote(parts[3])
                server.requests.append(("POST", url.path, {"content_type": self.headers.get("Content-Type")}))
                return self._send(*server.graph_send_mail(sender, self.headers.get("Authorization", ""), raw))
            if url.path == "/v1.0/$batch":
                server.requests.append(("POST", url.path, {}))
                return self._send_graph(*server.mail.batch(raw, self.headers))
            form = dict(urllib.parse.parse_qsl(raw.decode()))
            server.requests.append(("POST", url.path, form))
            if url.path in (f"/{server.tenant}/oauth2/v2.0/token", GOOGLE_TOKEN_PATH):
                return self._send(*server.token(form))
            if url.path == "/introspect":
                return self._send(*server.introspect(form))
            return self._send(404, {"error": "not_found"})

    return Handler


# -- Microsoft Graph: reading mail -------------------------------------------------

GRAPH_FOLDERS = {"inbox": "Inbox", "sentitems": "Sent Items"}
DEFAULT_MAX_PAGE_SIZE = 10  # Graph's default page of a message delta


def _iso(when):
    return when.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _recipients(value):
    return [
        {"emailAddress": {"name": name or address, "address": address}}
        for name, address in email.utils.getaddresses([value or ""])
        if address
    ]


class GraphMail:
    """The mailboxes behind the local Graph and its answers, shaped as in
    Microsoft's documentation (each answer cites its page).

    Messages are stored per mailbox and folder (``inbox``, ``sentitems``)
    with an immutable id, the raw MIME, a received time and a creation
    sequence number; a delta state is a token remembering the sequence
    number its round saw last, so the next round returns what came after.
    Test controls: ``throttle_delta`` / ``throttle_values`` (the next N delta
    requests / $batch sub-requests answer 429 with ``Retry-After:
    retry_after``), ``forget_delta_states()`` (410 SyncStateNotFound next),
    ``consent`` (False: delegated tokens lack Mail.Read).
    """

    def __init__(self, server):
        self.server = server
        self.folders = {}  # mailbox -> {folder: [message dict]}
        self.removed = []  # (sequence, mailbox, folder, id)
        self.states = {}  # token -> delta state
        self.sequence = 0
        self.throttle_delta = 0
        self.throttle_values = 0
        self.retry_after = "1"
        self.consent = True
        self.refuse_headers_select = False  # play a delta that refuses $select=internetMessageHeaders
        self.page_sizes = []  # odata.maxpagesize asked per delta request
        self.value_requests = 0  # $value sub-requests answered
        self.batch_sizes = []  # sub-requests per $batch

    # -- test controls -------------------------------------------------
    def add(self, mailbox, folder, raw, received=None):
        """Store a message (bytes); returns its immutable id."""
        parsed = email.message_from_bytes(raw)
        self.sequence += 1
        received = received or datetime.datetime.now(datetime.UTC)
        message_id = "AAkALgAAAAAAHYQDEapmEc2byACqAC-EWg0A" + secrets.token_hex(12)
        headers = [{"name": name, "value": str(value)} for name, value in parsed.items()]
        sender = _recipients(parsed.get("From"))
        self.folders.setdefault(mailbox, {}).setdefault(folder, []).append(
            {
                "sequence": self.sequence,
                "raw": raw,
                "received": received,
                "resource": {
                    "@odata.type": "#microsoft.graph.message",
                    "@odata.etag": f'W/"CQAAABYAAAD{secrets.token_hex(6)}"',
                    "id": message_id,
                    "receivedDateTime": _iso(received),
                    "sentDateTime": _iso(received),
                    "subject": str(parsed.get("Subject") or ""),
                    "internetMessageId": str(parsed.get("Message-ID") or ""),
                    "conversationId": "AAQkAGI2TQ" + secrets.token_hex(8),
                    "parentFolderId": "AQMkAD" + folder,
                    "from": sender[0] if sender else None,
                    "sender": sender[0] if sender else None,
                    "toRecipients": _recipients(parsed.get("To")),
                    "ccRecipients": _recipients(parsed.get("Cc")),
                    "bccRecipients": _recipients(parsed.get("Bcc")),
                    "internetMessageHeaders": headers,
                },
            }
        )
        return message_id

    def delete(self, mailbox, message_id):
        for folder, messages in self.folders.get(mailbox, {}).items():
            for message in list(messages):
                if message["resource"]["id"] == message_id:
                    messages.remove(message)
                    self.sequence += 1
                    self.removed.append((self.sequence, mailbox, folder, message_id))

    def forget_delta_states(self):
        self.states.clear()

    # -- protocol -------------------------------------------------------
    def _authorize(self, headers, mailbox):
        """(status, error body) for the token and the mailbox, or None."""
        authorization = headers.get("Authorization", "")
        token = self.server.access_tokens.get(authorization.removeprefix("Bearer ").strip())
        if not token or token["expires"] < time.time():
            # https://learn.microsoft.com/en-us/graph/errors (401 InvalidAuthenticationToken)
            return 401, {
                "error": {
                    "code": "InvalidAuthenticationToken",
                    "message": "Access token has expired or is not yet valid.",
                }
            }
        if mailbox is None:
            mailbox = token["user"]
        if token["user"] is None:
            allowed = "Mail.Read" in self.server.graph_app_permissions
        else:
            allowed = self.consent and "Mail.Read" in token["scope"] and token["user"] == mailbox
        if not allowed:
            # https://learn.microsoft.com/en-us/graph/resolve-auth-errors (403 ErrorAccessDenied)
            return 403, {
                "error": {"code": "ErrorAccessDenied", "message": "Access is denied. Check credentials and try again."}
            }
        if mailbox not in self.server.graph_mailboxes:
            # https://learn.microsoft.com/en-us/graph/api/user-sendmail (404 ErrorInvalidUser shape)
            return 404, {
                "error": {"code": "ErrorInvalidUser", "message": f"The requested user '{mailbox}' is invalid."}
            }
        return None

    @staticmethod
    def _split(path):
        """``/v1.0/users/<m>/rest`` or ``/v1.0/me/rest`` -> (mailbox or None, [rest])."""
        parts = [urllib.parse.unquote(part) for part in path.split("/")[2:]]
        if parts[:1] == ["me"]:
            return None, parts[1:]
        if parts[:1] == ["users"] and len(parts) > 1:
            return parts[1], parts[2:]
        return False, parts

    def get(self, path, query, headers):
        mailbox, rest = self._split(path)
        if mailbox is False:
            return 404, {"error": {"code": "BadRequest", "message": "Resource not found for the segment."}}
        refused = self._authorize(headers, mailbox)
        if refused:
            return refused
        root = f"users/{mailbox}" if mailbox else "me"  # Graph's links keep the caller's form
        mailbox = mailbox or self.server.access_tokens[headers["Authorization"][7:].strip()]["user"]
        keyed = re.fullmatch(r"mailFolders\('AQMkAD(\w+)'\)", rest[0] if rest else "")
        if keyed:  # the links Graph returns name the folder by its id
            rest = ["mailFolders", keyed.group(1), *rest[1:]]
        if len(rest) == 2 and rest[0] == "mailFolders" and rest[1] in GRAPH_FOLDERS:
            # https://learn.microsoft.com/en-us/graph/api/mailfolder-get (Response example)
            return 200, {
                "@odata.context": f"{self.server.graph_url}/$metadata#users('{mailbox}')/mailFolders/$entity",
                "id": "AQMkAD" + rest[1],
                "displayName": GRAPH_FOLDERS[rest[1]],
                "parentFolderId": "AQMkADroot",
                "childFolderCount": 0,
                "unreadItemCount": 0,
                "totalItemCount": len(self.folders.get(mailbox, {}).get(rest[1], [])),
            }
        if len(rest) == 4 and rest[0] == "mailFolders" and rest[2:] == ["messages", "delta"]:
            return self.delta(mailbox, rest[1], query, headers, root)
        if len(rest) == 3 and rest[0] == "messages" and rest[2] == "$value":
            return self.value(mailbox, rest[1])
        return 400, {"error": {"code": "BadRequest", "message": "Resource not found for the segment."}}

    def _find(self, mailbox, message_id):
        for messages in self.folders.get(mailbox, {}).values():
            for message in messages:
                if message["resource"]["id"] == message_id:
                    return message
        return None

    def value(self, mailbox, message_id):
        """https://learn.microsoft.com/en-us/graph/outlook-get-mime-message:
        ``GET /messages/{id}/$value`` answers the MIME content."""
        message = self._find(mailbox, message_id)
        if message is None:
            # https://learn.microsoft.com/en-us/graph/errors (404 ErrorItemNotFound)
            return 404, {
                "error": {"code": "ErrorItemNotFound", "message": "The specified object was not found in the store."}
            }
        self.value_requests += 1
        return 200, message["raw"], {"Content-Type": "text/plain"}

    def delta(self, mailbox, folder, query, headers, root):
        """https://learn.microsoft.com/en-us/graph/api/message-delta and
        https://learn.microsoft.com/en-us/graph/delta-query-messages: pages
        of ``value`` with ``@odata.nextLink`` (``$skiptoken``), the last
        with ``@odata.deltaLink`` (``$deltatoken``); 410 for a forgotten
        state (https://learn.microsoft.com/en-us/graph/delta-query-overview,
        "Synchronization reset"); 429 with Retry-After
        (https://learn.microsoft.com/en-us/graph/throttling)."""
        if self.throttle_delta:
            self.throttle_delta -= 1
            return (
                429,
                {
                    "error": {
                        "code": "ApplicationThrottled",
                        "message": "Application is over its MailboxConcurrency limit.",
                    }
                },
                {"Retry-After": self.retry_after},
            )
        prefer = headers.get("Prefer", "")
        match = re.search(r"odata\.maxpagesize=(\d+)", prefer)
        page_size = int(match.group(1)) if match else DEFAULT_MAX_PAGE_SIZE
        self.page_sizes.append(page_size)
        token = query.get("$skiptoken") or query.get("$deltatoken")
        if token:
            state = self.states.get(token)
            if state is None or state["mailbox"] != mailbox or state["folder"] != folder:
                return 410, {
                    "error": {
                        "code": "SyncStateNotFound",
                        "message": "The sync state generation is not found. Please start a new sync.",
                    }
                }
            if "$deltatoken" in query:
                state = self._new_round(state, mailbox, folder)
        else:
            since = None
            found = re.fullmatch(r"receivedDateTime ge (\S+)", query.get("$filter", "").strip())
            if query.get("$filter") and not found:
                return 400, {"error": {"code": "ErrorInvalidRestriction", "message": "The restriction is invalid."}}
            if found:
                since = datetime.datetime.fromisoformat(found.group(1).replace("Z", "+00:00"))
            select = [name for name in query.get("$select", "").split(",") if name]
            if self.refuse_headers_select and "internetMessageHeaders" in select:
                # https://learn.microsoft.com/en-us/graph/errors (400 with the OData error shape)
                return 400, {
                    "error": {
                        "code": "ErrorInvalidProperty",
                        "message": "The property 'internetMessageHeaders' does not support delta query.",
                    }
                }
            state = {"mailbox": mailbox, "folder": folder, "since": since, "select": select, "seen": 0}
            state = self._new_round(state, mailbox, folder)
        page, rest = state["pending"][:page_size], state["pending"][page_size:]
        base = f"{self.server.graph_url}/{root}/mailFolders('AQMkAD{folder}')/messages/delta"
        body = {
            "@odata.context": f"{self.server.graph_url}/$metadata#Collection(message)",
            "value": [self._shaped(item, state["select"]) for item in page],
        }
        new = dict(state, pending=rest)
        key = secrets.token_urlsafe(18)
        self.states[key] = new
        if rest:
            body["@odata.nextLink"] = f"{base}?$skiptoken={key}"
        else:
            body["@odata.deltaLink"] = f"{base}?$deltatoken={key}"
        return 200, body, {"Preference-Applied": f"odata.maxpagesize={page_size}"}

    def _new_round(self, state, mailbox, folder):
        """What a round returns: messages created after ``seen`` (in the
        window) and, on later rounds, ``@removed`` entries."""
        items = []
        if state["seen"]:
            for sequence, box, where, message_id in self.removed:
                if sequence > state["seen"] and box == mailbox and where == folder:
                    # https://learn.microsoft.com/en-us/graph/api/message-delta (Response: "@removed")
                    items.append(
                        {"@odata.type": "#microsoft.graph.message", "id": message_id, "@removed": {"reason": "deleted"}}
                    )
        for message in self.folders.get(mailbox, {}).get(folder, []):
            if message["sequence"] <= state["seen"]:
                continue
            if state["since"] and message["received"] < state["since"]:
                continue
            items.append(message["resource"])
        return dict(state, pending=items, seen=self.sequence)

    @staticmethod
    def _shaped(resource, select):
        if "@removed" in resource or not select:
            return dict(resource)
        keep = {"@odata.type", "@odata.etag", "id", *select}
        return {key: value for key, value in resource.items() if key in keep}

    def batch(self, raw, headers):
        """https://learn.microsoft.com/en-us/graph/json-batching: up to 20
        requests, each answered in ``responses`` with its ``id``, ``status``,
        ``headers`` and ``body`` (base64 for a body that is not JSON)."""
        try:
            requests_ = json.loads(raw)["requests"]
        except (ValueError, KeyError, TypeError):
            return 400, {"error": {"code": "BadRequest", "message": "Invalid batch payload format."}}
        if len(requests_) > 20:
            return 400, {"error": {"code": "BadRequest", "message": "Invalid batch payload: too many requests."}}
        self.batch_sizes.append(len(requests_))
        responses = []
        for sub in requests_:
            url = urllib.parse.urlsplit(sub.get("url", ""))
            answer_headers = {}
            if self.throttle_values:
                self.throttle_values -= 1
                status = 429
                body = {"error": {"code": "ApplicationThrottled", "message": "Application is over its limit."}}
                answer_headers = {"Retry-After": self.retry_after}
            else:
                answer = self.get("/v1.0" + url.path, dict(urllib.parse.parse_qsl(url.query)), headers)
                status, body = answer[0], answer[1]
                answer_headers = dict(answer[2]) if len(answer) > 2 else {}
            if isinstance(body, bytes):
                body = base64.b64encode(body).decode()
            else:
                answer_headers.setdefault("Content-Type", "application/json")
            responses.append({"id": sub.get("id"), "status": status, "headers": answer_headers, "body": body})
        return 200, {"responses": responses}
