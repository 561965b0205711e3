"""SMTP connections over the standard library's smtplib: connect (SSL, STARTTLS
or plain), authenticate when asked to, send. Every failure is a typed error.

Odoo sends the CRM's outgoing mail through its own ``ir.mail_server``; this
module serves the connection test of the setup wizard and the engine tests.
"""

import base64
import contextlib
import dataclasses
import smtplib

from .errors import AuthenticationFailed, ProtocolError, TlsError
from .security import Security, tls_context, translate_socket_errors

PROTOCOL = "SMTP"


@dataclasses.dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int = 0
    security: Security = Security.STARTTLS
    authenticate: bool = True  # "SMTP authentication" on/off
    username: str = ""
    password: str = dataclasses.field(default="", repr=False)
    timeout: float = 20.0
    cafile: str | None = None
    access_token: str = dataclasses.field(default="", repr=False)  # OAuth 2.0: sign in with XOAUTH2

    def __post_init__(self):
        object.__setattr__(self, "security", Security(self.security))
        if not self.port:
            object.__setattr__(self, "port", self.security.default_port(PROTOCOL))


def connect(settings):
    """An open, secured and (if asked) authenticated ``smtplib.SMTP``; the caller
    closes it (it is a context manager)."""
    context = tls_context(settings.cafile)
    host, port = settings.host, settings.port
    no_greeting = None if settings.security is Security.SSL else "no_greeting"
    with _translate(settings, no_greeting):
        if settings.security is Security.SSL:
            client = smtplib.SMTP_SSL(host, port, timeout=settings.timeout, context=context)
        else:
            client = smtplib.SMTP(host, port, timeout=settings.timeout)
    try:
        with _translate(settings):
            client.ehlo()
            if settings.security is Security.STARTTLS:
                if not client.has_extn("starttls"):
                    raise TlsError(PROTOCOL, host, port, "starttls_unsupported")
                client.starttls(context=context)
                client.ehlo()
            if settings.authenticate:
                if not client.has_extn("auth"):
                    raise AuthenticationFailed(PROTOCOL, host, port, "mechanism", "no AUTH offered")
                if settings.access_token:
                    xoauth2_login(client, settings.username, settings.access_token)
                else:
                    client.login(settings.username, settings.password)
    except BaseException:
        with contextlib.suppress(Exception):  # never hide the real error behind the close
            client.close()
        raise
    return client


def xoauth2_login(client, username, access_token):
    """AUTH XOAUTH2 on an open ``smtplib.SMTP`` (Google, Microsoft): the token
    in the initial response. A refusal raises ``SMTPAuthenticationError``."""
    client.ehlo_or_helo_if_needed()
    initial = base64.b64encode(f"user={username}\x01auth=Bearer {access_token}\x01\x01".encode()).decode()
    code, reply = client.docmd("AUTH", f"XOAUTH2 {initial}")
    if code == 334:  # the server's error details, as a challenge: answer empty to get the final code
        code, reply = client.docmd("")
    if code != 235:
        raise smtplib.SMTPAuthenticationError(code, reply)


def send_message(settings, message):
    """Send an ``email.message.EmailMessage``; return the refused recipients."""
    with connect(settings) as client, _translate(settings):
        return client.send_message(message)


def check(settings):
    """Connect, secure, authenticate and quit: the wizard's connection test."""
    with connect(settings) as client, _translate(settings):
        client.noop()


class _translate:
    """Socket/TLS errors as in :mod:`mailsync.security`, plus smtplib's own."""

    def __init__(self, settings, timeout_reason=None):
        self.settings = settings
        self.sockets = translate_socket_errors(PROTOCOL, settings.host, settings.port, timeout_reason)

    def __enter__(self):
        self.sockets.__enter__()

    def __exit__(self, exc_type, exc, tb):
        s = self.settings
        if isinstance(exc, smtplib.SMTPAuthenticationError):
            reason = "token" if s.access_token else None
            raise AuthenticationFailed(PROTOCOL, s.host, s.port, reason, _reply(exc)) from None
        if isinstance(exc, smtplib.SMTPNotSupportedError):
            raise AuthenticationFailed(PROTOCOL, s.host, s.port, "mechanism", str(exc)) from None
        if isinstance(exc, smtplib.SMTPServerDisconnected) and isinstance(exc.__context__, TimeoutError):
            # smtplib reports a silent server as a disconnection: it is a timeout.
            return self.sockets.__exit__(TimeoutError, exc.__context__, tb)
        if isinstance(exc, smtplib.SMTPServerDisconnected):
            raise ProtocolError(PROTOCOL, s.host, s.port, None, str(exc)) from None
        if isinstance(exc, smtplib.SMTPResponseException):
            raise ProtocolError(PROTOCOL, s.host, s.port, None, _reply(exc)) from None
        if isinstance(exc, smtplib.SMTPException):
            raise ProtocolError(PROTOCOL, s.host, s.port, None, str(exc)) from None
        return self.sockets.__exit__(exc_type, exc, tb)


def _reply(exc):
    error = exc.smtp_error
    text = error.decode(errors="replace") if isinstance(error, bytes) else str(error)
    return f"{exc.smtp_code} {text}"
