"""mailsync: the protocol and mail engine of crm_mail_sync.

Everything that talks to a mail server or reads a message lives here: IMAP,
SMTP, OAuth, MIME parsing, matching keys, secret encryption. It never imports
Odoo nor names the addon's models, data files or options (mailsync/tests/
test_boundary.py checks it), so it is tested with plain pytest against real
servers, and the Odoo models stay thin: they store state, pass plain data in
and word the engine's error codes.

Errors raised to callers are always subclasses of
:class:`mailsync.errors.MailSyncError`: typed, with a ``code`` the Odoo layer
turns into a translated message, and an English ``str()`` for logs and tests.
"""

from .errors import (
    AuthenticationFailed,
    ConnectionTimeout,
    HostUnreachable,
    MailConnectionError,
    MailSyncError,
    ProtocolError,
    TlsError,
)
from .security import Security

__all__ = [
    "AuthenticationFailed",
    "ConnectionTimeout",
    "HostUnreachable",
    "MailConnectionError",
    "MailSyncError",
    "ProtocolError",
    "Security",
    "TlsError",
]
