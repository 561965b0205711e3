"""Typed, user-readable errors of the mail engine.

A connection problem is never a raw traceback: it is one of the classes below,
with a stable ``code`` (and ``reason`` where a class has several causes) that
the Odoo layer maps to a translated message, plus an English ``str()`` that
says what failed, where, and what to do. Secrets never enter these messages:
they are built only from the protocol, host, port, user name and the server's
own reply.

Refusals are classified by the standards first (IMAP response codes of
RFC 5530, SMTP enhanced status codes of RFC 3463 / RFC 5248), then refined by
the texts of known providers (see :mod:`mailsync.refusals`). Each error says
whether it is ``temporary`` (try again later: never a sign of wrong settings)
and whether it ``counts_as_sign_in_failure`` (what the sync counts before
pausing a mailbox).
"""

import re

# A link in a server's reply ("Visit https://aka.ms/smtp_auth_disabled ...").
_URL = re.compile(r"https?://[^\s<>\"'\])]+")


class MailSyncError(Exception):
    """Base class of every error the engine raises on purpose."""

    code = "error"


class ReasonedError(MailSyncError):
    """An error with one of a few known causes (``reason``, a key of
    :attr:`texts`, else None) and the other side's own words (``detail``),
    composed into an English ``str()``: "<prefix><what happened>. (<speaker>
    said: <detail>) <what to do>"."""

    #: reason -> (what happened, what to do)
    texts = {None: ("the request failed", "Try again.")}
    #: who the detail quotes
    speaker = "Server"

    def __init__(self, reason=None, detail=""):
        self.reason = reason if reason in self.texts else None
        self.detail = str(detail or "").strip()
        summary, hint = self.texts[self.reason]
        text = f"{self._prefix()}{summary}."
        if self.detail:
            text += f" ({self.speaker} said: {self.detail})"
        super().__init__(f"{text} {hint}")

    def _prefix(self):
        return ""


class OAuthError(ReasonedError):
    """An identity provider refused a sign-in or a token, or could not be reached.

    :param reason: the provider's OAuth error code (RFC 6749 5.2, 4.1.2.1)
        when it is one of :attr:`texts`, ``"state_mismatch"`` (the answer
        belongs to no sign-in started here) or ``"unreachable"``; else None
    :param detail: the provider's own description (never a secret)
    :param provider: ``"microsoft"`` or ``"google"``: whose sign-in failed
    """

    code = "oauth"
    #: reason -> (what happened, what to do)
    texts = {
        "invalid_client": (
            "the application (client id or client secret) was refused",
            "Check the client id and client secret of the application (a client secret also expires).",
        ),
        "invalid_grant": ("the sign-in has expired or was revoked", "Sign in again."),
        "access_denied": (
            "the sign-in was cancelled or consent was refused",
            "Sign in again and accept the requested permissions.",
        ),
        "state_mismatch": ("the sign-in answer does not belong to this sign-in", "Start the sign-in again."),
        "unreachable": ("the sign-in service cannot be reached", "Check the network, then try again."),
        None: ("the sign-in failed", "Try again; if it persists, check the application's registration."),
    }
    speaker = "Provider"
    #: provider -> its name in the English message
    providers = {"microsoft": "Microsoft", "google": "Google"}

    def __init__(self, reason=None, detail="", provider="microsoft"):
        self.provider = provider
        super().__init__(reason, detail)

    def _prefix(self):
        return f"{self.providers.get(self.provider, self.provider)} sign-in: "


class MailConnectionError(MailSyncError):
    """A mail server could not be used.

    :param protocol: ``"IMAP"`` or ``"SMTP"`` (or another protocol name)
    :param host: the server name as configured
    :param port: the TCP port
    :param reason: a finer cause within the class (see each subclass)
    :param detail: the server's or the OS's own words (never a secret: only
        what the server replied), for the log and shown beneath the message
    :param address: the email address the server refused, if any
    :param step: the protocol step that was refused (``"greeting"``,
        ``"login"``, ``"list"``, ``"auth"``, ``"mail"``, ``"rcpt"``, ``"data"``...)
    :param temporary: the server refused for now (RFC 3463 class 4, IMAP
        ``[UNAVAILABLE]``...); defaults to the class's own ``temporary``
    """

    code = "connection"
    #: True: the refusal is for now; nothing is wrong with the settings.
    temporary = False
    #: reason -> (what happened, what to do)
    texts = {
        None: ("the connection failed", "Check the server name, port and encryption."),
    }

    def __init__(self, protocol, host, port, reason=None, detail="", *, address=None, step=None, temporary=None):
        self.protocol = protocol
        self.host = host
        self.port = port
        self.reason = reason if reason in self.texts else None
        self.detail = " ".join(str(detail or "").split())
        self.address = address or None
        self.step = step
        if temporary is not None:
            self.temporary = temporary
        super().__init__(self._compose())

    @property
    def url(self):
        """The last link in the server's reply (its "learn more" page), or None.

        Google puts a one-time sign-in link first and its help page last:
        the help page is the one to show."""
        links = _URL.findall(self.detail)
        return links[-1].rstrip(".,;") if links else None

    @property
    def counts_as_sign_in_failure(self):
        """True when the server refused the credentials for good: what the sync
        counts toward pausing a mailbox. A temporary refusal (too many
        connections, server unavailable) or a refused sender never counts."""
        return isinstance(self, AuthenticationFailed) and not self.temporary

    @property
    def summary(self):
        return self.texts[self.reason][0]

    @property
    def hint(self):
        return self.texts[self.reason][1]

    def _compose(self):
        text = f"{self.protocol} server {self.host}:{self.port}: {self.summary}."
        if self.address:
            text += f" Address: {self.address}."
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
        "basic_auth_disabled": (
            "Microsoft no longer accepts a password for this mailbox (basic authentication is disabled)",
            "Use Sign in with Microsoft instead of a password.",
        ),
        "microsoft_password": (
            "Microsoft refused the password sign-in",
            "Use Sign in with Microsoft: Microsoft mailboxes mostly refuse passwords for IMAP and SMTP.",
        ),
        "smtp_auth_disabled": (
            "Microsoft 365 has SMTP sign-in (SMTP AUTH) switched off for this organisation or mailbox",
            "Ask your Microsoft 365 administrator to enable Authenticated SMTP for this mailbox, "
            "or send through Microsoft (Graph).",
        ),
        "web_login": (
            "the provider wants the sign-in confirmed in a web browser first",
            "Sign in to your mailbox in a web browser, confirm it is you, then try again "
            "(or use Sign in with Google).",
        ),
        "authorization": (
            "the server accepted the credentials but not for this mailbox",
            "Check that the user name is this mailbox's and that it may open it.",
        ),
        "expired": (
            "the password has expired",
            "Change the password with your provider, then enter the new one.",
        ),
        "contact_admin": (
            "the provider blocked this sign-in",
            "Contact your mail administrator or provider.",
        ),
    }


class ServerUnavailable(MailConnectionError):
    """The server refused for now (RFC 3463 class 4, IMAP [UNAVAILABLE],
    [LIMIT], too many connections): nothing is wrong with the settings."""

    code = "unavailable"
    temporary = True
    texts = {
        None: (
            "the server is temporarily unavailable",
            "Try again later: nothing is wrong with the settings.",
        ),
        "too_many_connections": (
            "too many connections are open to this mailbox",
            "Close other mail apps using this mailbox, or wait a few minutes, then try again: " "the password is fine.",
        ),
    }


class MailboxRefused(MailConnectionError):
    """Signed in, but the server will not open the mailbox or list its folders."""

    code = "mailbox"
    texts = {
        None: (
            "the server signed in but refused to open the mailbox",
            "Check that this account has a mailbox on this server and that IMAP is enabled for it.",
        ),
        "not_connected": (
            "Microsoft signed the account in but will not open this mailbox",
            "Sign in with the account of this very mailbox; check that it has an Exchange Online "
            "mailbox and that IMAP is enabled for it.",
        ),
    }


class MessageRefused(MailConnectionError):
    """The SMTP server refused a sender (MAIL FROM), a recipient (RCPT TO) or
    the message (end of DATA). ``address`` is the refused address, ``step``
    the SMTP command."""

    code = "refused"
    texts = {
        None: (
            "the server refused the message",
            "Read the server's reply below; check the From address and the settings.",
        ),
        "sender": (
            "the server refused the sender address",
            "Send from the mailbox's own address, or check this address.",
        ),
        "send_as": (
            "this login may not send as this From address",
            "Send from the mailbox's own address, or ask the administrator to allow this "
            "address (alias, Send As) for this login.",
        ),
        "relay": (
            "the server refused to relay the message (it does not see this login as allowed to send)",
            "Switch SMTP authentication on with this mailbox's login, or check the outgoing server.",
        ),
        "auth_required": (
            "the server only sends for signed-in users",
            "Switch SMTP authentication on and enter the mailbox's login and password.",
        ),
        "recipient": (
            "the server refused the recipient address",
            "Check the recipient address.",
        ),
        "policy": (
            "the server refused the message by its policy",
            "Read the server's explanation below (link) and contact your provider if needed.",
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
        "encryption_required": (
            "the server requires an encrypted connection",
            "Choose STARTTLS (usually port 587 for SMTP, 143 for IMAP) or SSL/TLS (465 for SMTP, 993 for IMAP).",
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
