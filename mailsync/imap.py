"""IMAP connections over imapclient: connect (SSL, STARTTLS or plain), log in,
list folders with their special-use flags. Every failure is a typed error."""

import contextlib
import dataclasses
import imaplib
import logging
import re

import imapclient
from imapclient import imap4, tls

from .errors import MailConnectionError, ProtocolError, TlsError
from .refusals import imap_refusal, is_microsoft
from .security import Security, tls_context, translate_socket_errors

PROTOCOL = "IMAP"

# RFC 6154 special-use attributes, plus the Gmail XLIST names they replace.
SPECIAL_USE = ("\\All", "\\Archive", "\\Drafts", "\\Flagged", "\\Junk", "\\Sent", "\\Trash")
_XLIST_ALIASES = {"\\AllMail": "\\All", "\\Spam": "\\Junk", "\\Starred": "\\Flagged"}


@dataclasses.dataclass(frozen=True)
class ImapSettings:
    """Where and how to reach one mailbox. ``port=0`` means the usual port."""

    host: str
    port: int = 0
    security: Security = Security.SSL
    username: str = ""
    password: str = dataclasses.field(default="", repr=False)
    timeout: float = 20.0
    cafile: str | None = None  # an extra trusted CA file (private servers, tests)
    access_token: str = dataclasses.field(default="", repr=False)  # OAuth 2.0: sign in with XOAUTH2

    def __post_init__(self):
        object.__setattr__(self, "security", Security(self.security))
        if not self.port:
            object.__setattr__(self, "port", self.security.default_port(PROTOCOL))


@dataclasses.dataclass(frozen=True)
class Folder:
    """One mailbox folder as the server lists it."""

    name: str
    delimiter: str
    flags: frozenset

    @property
    def special_use(self):
        """``"\\Sent"``, ``"\\Trash"``, ... or ``"\\Inbox"`` for the inbox; else None."""
        if self.name.upper() == "INBOX":
            return "\\Inbox"
        for flag in self.flags:
            flag = _XLIST_ALIASES.get(flag, flag)
            if flag in SPECIAL_USE:
                return flag
        return None

    @property
    def selectable(self):
        return not ({"\\Noselect", "\\NonExistent"} & self.flags)


class ImapSession(contextlib.AbstractContextManager):
    """A logged-in IMAP connection. Use :func:`connect` to open one."""

    def __init__(self, client, settings):
        self.client = client
        self.settings = settings

    def __exit__(self, *exc_info):
        self.close()

    def close(self):
        try:
            self.client.logout()
        except Exception:  # noqa: BLE001 - the connection may already be gone
            with contextlib.suppress(Exception):
                self.client.shutdown()

    def hang_up(self):
        """Send LOGOUT and close the connection without waiting for the
        server's BYE and OK (RFC 3501 6.1.3: the server closes its side
        anyway): one round trip less than :meth:`close`, for a caller that
        has everything it wanted from the session (the idle poll)."""
        imap = self.client._imap
        with contextlib.suppress(Exception):  # the connection may already be gone
            imap.send(imap._new_tag() + b" LOGOUT\r\n")
        with contextlib.suppress(Exception):
            imap.shutdown()  # imaplib's: imapclient's would log each poll at INFO

    @property
    def capabilities(self):
        return frozenset(cap.decode() if isinstance(cap, bytes) else cap for cap in self.client.capabilities())

    def folders(self):
        """All folders, in the server's order, with decoded names and flags.

        Raises :class:`mailsync.errors.MailboxRefused` when the server refuses
        to list them (e.g. Microsoft's "User is authenticated but not
        connected."), or another :class:`mailsync.errors.MailConnectionError`."""
        with self._errors(), _refusals(self.settings, "list", self._welcome()):
            listing = self.client.list_folders()
        return [
            Folder(
                name=name,
                delimiter=(delimiter or b"").decode(),
                flags=frozenset(flag.decode() if isinstance(flag, bytes) else flag for flag in flags),
            )
            for flags, delimiter, name in listing
        ]

    def _errors(self):
        return _translate(self.settings)

    def _welcome(self):
        welcome = getattr(self.client, "welcome", b"") or b""
        return welcome.decode(errors="replace") if isinstance(welcome, bytes) else str(welcome)


def _translate(settings, timeout_reason=None):
    return translate_socket_errors(PROTOCOL, settings.host, settings.port, timeout_reason)


class _GreetingCapabilities:
    """imaplib asks the server for its CAPABILITY as soon as it has greeted
    us; a server that lists them in its greeting (the ``[CAPABILITY ...]``
    response code, RFC 3501 section 7.1: Dovecot, Cyrus, Gmail, Exchange do)
    has already answered: that round trip is spared. After STARTTLS the list
    is asked again (RFC 2595 section 3.1), as imaplib does."""

    def _get_capabilities(self):
        listed = self.untagged_responses.pop("CAPABILITY", None)
        if listed and listed[-1]:
            self.capabilities = tuple(str(listed[-1], self._encoding).upper().split())
            return
        super()._get_capabilities()


class _PlainIMAP4(_GreetingCapabilities, imap4.IMAP4WithTimeout):
    pass


class _TlsIMAP4(_GreetingCapabilities, tls.IMAP4_TLS):
    pass


class _Client(imapclient.IMAPClient):
    """imapclient's client on imaplib connections that keep the greeting's
    capabilities (:class:`_GreetingCapabilities`)."""

    def _create_IMAP4(self):
        if self.stream:
            return super()._create_IMAP4()
        connect_timeout = getattr(self._timeout, "connect", None)
        if self.ssl:
            return _TlsIMAP4(self.host, self.port, self.ssl_context, connect_timeout)
        return _PlainIMAP4(self.host, self.port, connect_timeout)


def connect(settings):
    """Connect, secure and log in; return an :class:`ImapSession`.

    Raises a subclass of :class:`mailsync.errors.MailConnectionError`, never a
    raw ``imaplib`` error: a ``* NO``/``* BYE`` greeting is a
    :class:`~mailsync.errors.ServerUnavailable`, a refused sign-in an
    :class:`~mailsync.errors.AuthenticationFailed` (or another class, by the
    response code: see :func:`mailsync.refusals.imap_refusal`).
    """
    context = tls_context(settings.cafile)
    host, port = settings.host, settings.port
    # A plain client that waits for a greeting from a TLS-only port times out:
    # that timeout means "wrong encryption", not "server down".
    no_greeting = None if settings.security is Security.SSL else "no_greeting"
    with _translate(settings, no_greeting), _refusals(settings, "greeting"):
        client = _Client(
            host,
            port=port,
            ssl=settings.security is Security.SSL,
            ssl_context=context,
            timeout=settings.timeout,
        )
    _quiet_imaplib(client)
    try:
        with _translate(settings), _refusals(settings, "starttls"):
            if settings.security is Security.STARTTLS:
                if not client.has_capability("STARTTLS"):
                    raise TlsError(PROTOCOL, host, port, "starttls_unsupported")
                client.starttls(context)
            _login(client, settings)
    except BaseException:
        # A failed TLS handshake has already closed the socket: closing it
        # again must not replace the real error with "Bad file descriptor".
        with contextlib.suppress(Exception):
            client.shutdown()
        raise
    return ImapSession(client, settings)


def _quiet_imaplib(client):
    """imapclient turns imaplib's debug output on (``debug = 5``) and sends it
    to the ``imapclient.imaplib`` logger, whose level is only checked after
    imaplib has formatted each response with ``%r``: every downloaded message
    was copied into a string of its size or more, for nothing, unless that
    logger is on. Off when it is off (issue 10: memory bounded per message)."""
    if not logging.getLogger("imapclient.imaplib").isEnabledFor(logging.DEBUG):
        client._imap.debug = 0


def _login(client, settings):
    welcome = getattr(client, "welcome", b"") or b""
    welcome = welcome.decode(errors="replace") if isinstance(welcome, bytes) else str(welcome)
    with _refusals(settings, "login", welcome):
        if settings.access_token:
            client.oauth2_login(settings.username, settings.access_token)
        else:
            client.login(settings.username, settings.password)


class _refusals:
    """imaplib/imapclient refusals raised inside the block -> typed errors
    (:func:`mailsync.refusals.imap_refusal`); the engine's own pass through."""

    def __init__(self, settings, step, greeting=""):
        self.settings = settings
        self.step = step
        self.greeting = greeting

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc is None or isinstance(exc, MailConnectionError):
            return False
        s = self.settings
        if isinstance(exc, imaplib.IMAP4.abort) and str(exc).startswith("unexpected response"):
            # Something that is not an IMAP server answered (e.g. an SMTP greeting).
            raise ProtocolError(PROTOCOL, s.host, s.port, None, _server_text(exc)[0]) from None
        if isinstance(exc, imaplib.IMAP4.error):  # imapclient's errors are its subclasses
            text, status = _server_text(exc)
            if isinstance(exc, imaplib.IMAP4.abort) and not status:
                status = "BYE"
            error = imap_refusal(
                s.host,
                s.port,
                self.step,
                text,
                token=bool(s.access_token),
                microsoft=is_microsoft(s.host, self.greeting),
                status=status,
            )
            raise error from None
        return False


_PREFIXES = re.compile(r"^(?:\w+ command error: |\w+ failed: |command: \w+ => )", re.IGNORECASE)
_STATUS = re.compile(r"^(?:\* )?(NO|BAD|BYE)\b\s*", re.IGNORECASE)


def _server_text(exc):
    """The server's words in an imaplib/imapclient error, and the reply's
    status (``"NO"``, ``"BAD"``, ``"BYE"`` or ``""``).

    imaplib words them as ``b'...'``, ``LIST command error: BAD [b'...']`` or
    ``b'* NO [UNAVAILABLE] ...'`` (greeting)."""
    text = str(exc).strip()
    text = _PREFIXES.sub("", text)
    status = ""
    match = _STATUS.match(text)
    if match:
        status = match.group(1).upper()
        text = text[match.end() :]
    if text.startswith("[b'") or text.startswith('[b"'):
        text = text[1:-1]
    if text.startswith("b'") or text.startswith('b"'):
        text = text[2:-1]
    match = _STATUS.match(text)
    if match:
        status = status or match.group(1).upper()
        text = text[match.end() :]
    return text.strip(), status
