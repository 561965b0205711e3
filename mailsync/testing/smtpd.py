"""A real SMTP server (aiosmtpd) on 127.0.0.1 that keeps what it receives.

Modes: ``"none"`` (plain), ``"starttls"`` (STARTTLS offered and required) and
``"ssl"`` (TLS from the first byte); optional AUTH PLAIN/LOGIN against a
``{login: password}`` table, and AUTH XOAUTH2 checked by ``check_token``.
"""

import base64
import email
import email.policy
import logging
import os
import ssl
import tempfile
import threading
import warnings

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from .certs import make_certificates
from .dovecot import free_port
from .local_server import ServerContext

# Test servers offer AUTH without TLS on purpose (plain mode), and aiosmtpd's
# own AUTH code sets a deprecated attribute: it logs both on every connection,
# which would drown real warnings in test logs.
_AUTH_WITHOUT_TLS = "Requiring AUTH while not requiring TLS"
warnings.filterwarnings("ignore", message=_AUTH_WITHOUT_TLS, category=UserWarning)


class _QuietTestServerNoise(logging.Filter):
    NOISE = ("auth_require_tls == False", "Session.login_data is deprecated")

    def filter(self, record):
        message = record.getMessage()
        return not any(noise in message for noise in self.NOISE)


logging.getLogger("mail.log").addFilter(_QuietTestServerNoise())


class _Collector:
    def __init__(self, check_token=None):
        self.check_token = check_token  # (user, access token) -> bool, for AUTH XOAUTH2
        self.messages = []
        self.lock = threading.Lock()
        self.arrived = threading.Condition(self.lock)

    async def auth_XOAUTH2(self, server, args):
        """AUTH XOAUTH2 (Google's and Microsoft's SMTP sign-in with a token):
        ``user=<login>^Aauth=Bearer <token>^A^A``, base64, as the initial response."""
        if self.check_token is None or len(args) < 2:
            return AuthResult(success=False, handled=False)
        try:
            decoded = base64.b64decode(args[1]).decode()
        except ValueError:
            return AuthResult(success=False, handled=False)
        fields = dict(part.split("=", 1) for part in decoded.split("\x01") if "=" in part)
        user, token = fields.get("user", ""), fields.get("auth", "").removeprefix("Bearer ").strip()
        if user and token and self.check_token(user, token):
            return AuthResult(success=True, auth_data=LoginPassword(user.encode(), b""))
        return AuthResult(success=False, handled=False)

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        with self.lock:
            self.messages.append(
                {
                    "mail_from": envelope.mail_from,
                    "rcpt_tos": list(envelope.rcpt_tos),
                    "login": session.auth_data.login.decode() if session.auth_data else None,
                    "message": message,
                    "raw": envelope.original_content,
                }
            )
            self.arrived.notify_all()
        return "250 Message accepted for delivery"


class SmtpServer(ServerContext):
    """A running aiosmtpd. Use as a context manager or call start()/stop()."""

    def __init__(self, security="none", users=None, port=0, check_token=None):
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self.security = security
        self.users = dict(users or {})
        self._collector = _Collector(check_token)
        self._controller = None
        self._dir = None
        self.certs = None

    @property
    def messages(self):
        with self._collector.lock:
            return list(self._collector.messages)

    def clear(self):
        """Forget what was received so far (between tests sharing a server)."""
        with self._collector.lock:
            self._collector.messages.clear()

    def wait_for(self, count, timeout=10):
        """Wait until at least ``count`` messages arrived; return them all."""
        with self._collector.arrived:
            self._collector.arrived.wait_for(lambda: len(self._collector.messages) >= count, timeout)
            return list(self._collector.messages)

    def _authenticate(self, server, session, envelope, mechanism, auth_data):
        if isinstance(auth_data, LoginPassword):
            login = auth_data.login.decode()
            if self.users.get(login) == auth_data.password.decode():
                return AuthResult(success=True, auth_data=auth_data)
        return AuthResult(success=False, handled=False)

    def start(self):
        self._dir = tempfile.mkdtemp(prefix="crm_mail_sync_smtpd_")
        self.certs = make_certificates(self._dir)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.certs.cert_file, self.certs.key_file)
        kwargs = {
            "hostname": self.host,
            "port": self.port,
            "server_hostname": "localhost",
            "authenticator": self._authenticate if self.users else None,
            "auth_required": bool(self.users) or self._collector.check_token is not None,
            # aiosmtpd counts only STARTTLS as TLS: with implicit TLS the socket is
            # already encrypted, so AUTH must not wait for a STARTTLS.
            "auth_require_tls": self.security == "starttls",
        }
        if self.security == "ssl":
            kwargs["ssl_context"] = context
        elif self.security == "starttls":
            kwargs["tls_context"] = context
            kwargs["require_starttls"] = True
        self._controller = Controller(self._collector, **kwargs)
        self._controller.start()
        return self

    def stop(self):
        if self._controller:
            self._controller.stop()
            self._controller = None
        if self._dir:
            for name in os.listdir(self._dir):
                os.unlink(os.path.join(self._dir, name))
            os.rmdir(self._dir)
            self._dir = None
