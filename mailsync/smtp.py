"""SMTP connections over the standard library's smtplib: connect (SSL, STARTTLS
or plain), authenticate when asked to, send. Every failure is a typed error.

Odoo sends the CRM's outgoing mail through its own outgoing servers; this
module serves the connection test of the setup wizard and the engine tests.
"""

import base64
import contextlib
import dataclasses
import email.utils
import smtplib

from .errors import AuthenticationFailed, MailConnectionError, ProtocolError, TlsError
from .refusals import is_microsoft, smtp_refusal
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
    closes it (it is a context manager).

    Raises a :class:`mailsync.errors.MailConnectionError` subclass: e.g.
    :class:`~mailsync.errors.TlsError` (``encryption_required``) when a plain
    connection is offered STARTTLS but no AUTH, or told "Must issue a STARTTLS
    command first"."""
    context = tls_context(settings.cafile)
    host, port = settings.host, settings.port
    no_greeting = None if settings.security is Security.SSL else "no_greeting"
    with _translate(settings, no_greeting, step="greeting"):
        if settings.security is Security.SSL:
            client = smtplib.SMTP_SSL(host, port, timeout=settings.timeout, context=context)
        else:
            client = smtplib.SMTP(host, port, timeout=settings.timeout)
    try:
        with _translate(settings, step="ehlo", client=client):
            client.ehlo()
            if settings.security is Security.STARTTLS:
                if not client.has_extn("starttls"):
                    raise TlsError(PROTOCOL, host, port, "starttls_unsupported")
                client.starttls(context=context)
                client.ehlo()
        if settings.authenticate:
            with _translate(settings, step="auth", client=client):
                if not client.has_extn("auth"):
                    if settings.security is Security.NONE and client.has_extn("starttls"):
                        # Submission servers offer AUTH only once encrypted (Gmail, RFC 3207).
                        raise TlsError(PROTOCOL, host, port, "encryption_required", "no AUTH before STARTTLS")
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
    """Send an ``email.message.EmailMessage``; return the refused recipients
    (``{address: (code, reply)}``) when some but not all were refused.

    Raises :class:`mailsync.errors.MessageRefused` (with the refused
    ``address`` and the ``step``) when the server refuses the sender, every
    recipient or the message; :class:`mailsync.errors.ServerUnavailable` when
    it refuses for now (4xx)."""
    senders = email.utils.getaddresses([str(message["Sender"] or message["From"] or "")])
    sender = senders[0][1] if senders else None
    with connect(settings) as client, _translate(settings, step="data", client=client, sender=sender):
        return client.send_message(message)


def check(settings, senders=(), recipient=None):
    """The connection test of the setup wizard and of the outgoing servers:
    connect, secure, authenticate, then for each address of ``senders``
    ``MAIL FROM`` and (with ``recipient``, the user's own address) ``RCPT TO``,
    then ``RSET``: nothing is sent. Without senders, a ``NOOP``.

    :param senders: the From addresses the mailbox sends with (its own
        address and its aliases)
    :param recipient: an address of the user testing, or None
    :raises mailsync.errors.MessageRefused: a sender (``address``) is refused
    :raises mailsync.errors.MailConnectionError: any other failure
    """
    with connect(settings) as client:
        probe_senders(client, settings.host, settings.port, senders, recipient, token=bool(settings.access_token))
        if not senders:
            with _translate(settings, step="noop", client=client):
                client.noop()


def probe_senders(client, host, port, senders, recipient=None, token=False):
    """On an open, authenticated ``smtplib.SMTP`` (the engine's or Odoo's own):
    ``MAIL FROM:<sender>``, ``RCPT TO:<recipient>``, ``RSET`` for each sender;
    nothing is sent. Raises the first refusal as a typed error naming the
    refused address (RFC 5321 3.3, 4.1.1.5 for RSET)."""
    settings = _Where(host, port, token)
    for sender in senders:
        with _translate(settings, step="mail", client=client, sender=sender, recipient=recipient):
            code, reply = client.mail(sender)
            if code != 250:
                raise _refusal(settings, client, "mail", code, reply, sender=sender, recipient=recipient)
            if recipient:
                code, reply = client.rcpt(recipient)
                if code not in (250, 251):
                    raise _refusal(settings, client, "rcpt", code, reply, sender=sender, recipient=recipient)
            client.rset()


def refusal_from_exception(exc, host, port, step="auth", token=False, sender=None, recipient=None):
    """A typed error for an ``smtplib`` exception raised outside the engine
    (e.g. by Odoo's own connection), or None if ``exc`` is not an SMTP reply."""
    if not isinstance(exc, smtplib.SMTPResponseException):
        return None
    return _from_smtplib(_Where(host, port, token), None, exc, step, sender, recipient)


@dataclasses.dataclass(frozen=True)
class _Where:
    host: str
    port: int
    token: bool = False

    @property
    def access_token(self):
        return self.token


def _text(reply):
    return reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply or "")


def _greeting(client):
    return _text(getattr(client, "ehlo_resp", None) or b"") if client is not None else ""


def _refusal(settings, client, step, code, reply, sender=None, recipient=None):
    return smtp_refusal(
        settings.host,
        settings.port,
        step,
        code,
        _text(reply),
        token=bool(settings.access_token),
        microsoft=is_microsoft(settings.host, _greeting(client)),
        sender=sender,
        recipient=recipient,
    )


def _from_smtplib(settings, client, exc, step, sender=None, recipient=None):
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        address, (code, reply) = next(iter(exc.recipients.items()))
        return _refusal(settings, client, "rcpt", code, reply, sender=sender, recipient=address)
    if isinstance(exc, smtplib.SMTPSenderRefused):
        sender = _text(exc.sender) or sender
        return _refusal(settings, client, "mail", exc.smtp_code, exc.smtp_error, sender=sender, recipient=recipient)
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        step = "auth"
    elif isinstance(exc, smtplib.SMTPConnectError):
        step = "greeting"
    elif isinstance(exc, smtplib.SMTPHeloError):
        step = "ehlo"
    elif isinstance(exc, smtplib.SMTPDataError):
        step = "data"
    return _refusal(settings, client, step, exc.smtp_code, exc.smtp_error, sender=sender, recipient=recipient)


class _translate:
    """Socket/TLS errors as in :mod:`mailsync.security`, plus smtplib's own,
    classified by the SMTP ``step`` they happened at."""

    def __init__(self, settings, timeout_reason=None, step=None, client=None, sender=None, recipient=None):
        self.settings = settings
        self.step = step
        self.client = client
        self.sender = sender
        self.recipient = recipient
        self.sockets = translate_socket_errors(PROTOCOL, settings.host, settings.port, timeout_reason)

    def __enter__(self):
        self.sockets.__enter__()

    def __exit__(self, exc_type, exc, tb):
        s = self.settings
        if exc is None or isinstance(exc, MailConnectionError):
            return self.sockets.__exit__(None, None, None) if exc is None else False
        if isinstance(exc, smtplib.SMTPNotSupportedError):
            raise AuthenticationFailed(PROTOCOL, s.host, s.port, "mechanism", str(exc)) from None
        if isinstance(exc, smtplib.SMTPServerDisconnected) and isinstance(exc.__context__, TimeoutError):
            # smtplib reports a silent server as a disconnection: it is a timeout.
            return self.sockets.__exit__(TimeoutError, exc.__context__, tb)
        if isinstance(exc, smtplib.SMTPServerDisconnected):
            raise ProtocolError(PROTOCOL, s.host, s.port, None, str(exc), step=self.step) from None
        if isinstance(exc, smtplib.SMTPResponseException | smtplib.SMTPRecipientsRefused):
            raise _from_smtplib(s, self.client, exc, self.step, self.sender, self.recipient) from None
        if isinstance(exc, smtplib.SMTPException):
            if "no suitable authentication method" in str(exc).lower():
                raise AuthenticationFailed(PROTOCOL, s.host, s.port, "mechanism", str(exc)) from None
            raise ProtocolError(PROTOCOL, s.host, s.port, None, str(exc), step=self.step) from None
        return self.sockets.__exit__(exc_type, exc, tb)
