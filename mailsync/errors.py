"""Typed, user-readable errors of the mail engine.

A connection problem is never a raw traceback: it is one of the classes below,
with a stable ``code`` (and ``reason`` where a class has several causes) that
the Odoo layer maps to a translated message, plus an English ``str()`` that
says what failed, where, and what to do. Secrets never enter these messages:
they are built only from the protocol, host, port, user name and the server's
own reply.
"""


class MailSyncError(Exception):
    """Base class of every error the engine raises on purpose."""

    code = "error"


class MailConnectionError(MailSyncError):
    """A mail server could not be used.

    :param protocol: ``"IMAP"`` or ``"SMTP"`` (or another protocol name)
    :param host: the server name as configured
    :param port: the TCP port
    :param reason: a finer cause within the class (see each subclass)
    :param detail: the server's or the OS's own words, for the log
    """

    code = "connection"
    #: reason -> (what happened, what to do)
    texts = {
        None: ("the connection failed", "Check the server name, port and encryption."),
    }

    def __init__(self, protocol, host, port, reason=None, detail=""):
        self.protocol = protocol
        self.host = host
        self.port = port
        self.reason = reason if reason in self.texts else None
        self.detail = str(detail or "").strip()
        super().__init__(self._compose())

    @property
    def summary(self):
        return self.texts[self.reason][0]

    @property
    def hint(self):
        return self.texts[self.reason][1]

    def _compose(self):
        text = f"{self.protocol} server {self.host}:{self.port}: {self.summary}."
        if self.detail:
            text += f" (Server said: {self.detail})"
        return f"{text} {self.hint}"


class AuthenticationFailed(MailConnectionError):
    """The server refused the credentials."""

    code = "auth_failed"
    texts = {
        None: (
            "the server rejected the user name or password",
            "Check the user name and password. If the account uses 2-step "
            "verification, create an app password and use it instead of your "
            "usual password.",
        ),
        "token": (
            "the server refused the OAuth 2.0 access token",
            "Sign in with your provider again: the sign-in may have expired or been revoked.",
        ),
        "mechanism": (
            "the server does not accept this sign-in method",
            "Choose another authentication method for this server.",
        ),
    }


class TlsError(MailConnectionError):
    """The encrypted connection could not be set up."""

    code = "tls"
    texts = {
        None: (
            "the secure (SSL/TLS) connection failed",
            "Check the encryption setting: SSL/TLS usually goes with port 993 "
            "(IMAP) or 465 (SMTP), STARTTLS with port 143 (IMAP) or 587 (SMTP).",
        ),
        "certificate": (
            "the server's certificate is not trusted or does not match its name",
            "Use the exact server name given by your provider; if the server "
            "uses a self-signed certificate, ask its administrator for a valid one.",
        ),
        "starttls_unsupported": (
            "the server does not offer STARTTLS on this port",
            "Choose SSL/TLS encryption (usually port 993 for IMAP, 465 for SMTP) " "or check the port.",
        ),
    }


class HostUnreachable(MailConnectionError):
    """Nothing answered at that address."""

    code = "unreachable"
    texts = {
        None: (
            "the server cannot be reached",
            "Check the server name and your network, then try again.",
        ),
        "dns": (
            "this server name does not exist",
            "Check the spelling of the server name.",
        ),
        "refused": (
            "nothing accepts connections on this port",
            "Check the port number and the encryption setting.",
        ),
    }


class ConnectionTimeout(MailConnectionError):
    """The server did not answer in time."""

    code = "timeout"
    texts = {
        None: (
            "the server did not answer in time",
            "Check the server name and port; a firewall may be blocking the "
            "connection. Try again later if the server is busy.",
        ),
        "no_greeting": (
            "the server did not greet the client",
            "This port probably expects an encrypted connection from the start: "
            "choose SSL/TLS (usually port 993 for IMAP, 465 for SMTP).",
        ),
    }


class ProtocolError(MailConnectionError):
    """The server answered something the client cannot use."""

    code = "protocol"
    texts = {
        None: (
            "the server answered in an unexpected way",
            "Check that this is the right server and port for this protocol.",
        ),
    }


class ConnectionLost(MailConnectionError):
    """The connection dropped in the middle of a sync (reset, EOF, broken pipe,
    TLS cut short). Nothing is lost: a new connection resumes from the last
    committed state (see :class:`mailsync.imap_sync.MailboxSync`)."""

    code = "connection_lost"
    texts = {
        None: (
            "the connection was lost during the sync",
            "It resumes automatically; if it keeps happening, check the network or proxy.",
        ),
    }


class FolderUnavailable(MailConnectionError):
    """A folder still listed by the server cannot be opened (EXAMINE refused:
    no permission, a damaged folder, a server-side limit). ``folder`` is its
    name as the server lists it; ``detail`` the server's words."""

    code = "folder_unavailable"
    texts = {
        None: (
            "a folder to sync cannot be opened",
            "Check that the folder can be opened in a mail client; if not, ask the mail server's administrator.",
        ),
    }

    def __init__(self, protocol, host, port, folder, detail=""):
        self.folder = folder
        super().__init__(protocol, host, port, None, detail)

    def _compose(self):
        text = f"{self.protocol} server {self.host}:{self.port}: the folder {self.folder!r} cannot be opened."
        if self.detail:
            text += f" (Server said: {self.detail})"
        return f"{text} {self.hint}"
