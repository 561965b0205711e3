"""The engine's typed connection errors, told to the user in their language.

The engine (mailsync.errors) gives each failure a stable ``code`` and
``reason``; this module holds the translatable text for each, so that the
exact same cause reads the same everywhere in the UI.
"""

from odoo.tools.translate import LazyTranslate

_lt = LazyTranslate(__name__)

# "code" or "code:reason" -> what happened and what to do. %(server)s is "host:port".
MESSAGES = {
    "auth_failed": _lt(
        "%(protocol)s server %(server)s rejected the user name or password. Check them. If the "
        "account uses 2-step verification, create an app password and use it instead of your "
        "usual password."
    ),
    "auth_failed:token": _lt(
        "%(protocol)s server %(server)s refused the OAuth 2.0 access token. Sign in with your "
        "provider again: the sign-in may have expired or been revoked."
    ),
    "auth_failed:mechanism": _lt(
        "%(protocol)s server %(server)s does not accept this sign-in method. Choose another "
        "authentication method, or switch SMTP authentication off if the server needs none."
    ),
    "tls": _lt(
        "The secure connection to %(protocol)s server %(server)s failed. Check the encryption: "
        "SSL/TLS usually goes with port 993 (IMAP) or 465 (SMTP), STARTTLS with port 143 (IMAP) "
        "or 587 (SMTP)."
    ),
    "tls:certificate": _lt(
        "The certificate of %(protocol)s server %(server)s is not trusted or does not match its "
        "name. Use the exact server name given by your provider."
    ),
    "tls:starttls_unsupported": _lt(
        "%(protocol)s server %(server)s does not offer STARTTLS on this port. Choose SSL/TLS "
        "(usually port 993 for IMAP, 465 for SMTP) or check the port."
    ),
    "unreachable": _lt(
        "%(protocol)s server %(server)s cannot be reached. Check the server name and your " "network, then try again."
    ),
    "unreachable:dns": _lt("The %(protocol)s server name %(host)s does not exist. Check its spelling."),
    "unreachable:refused": _lt(
        "Nothing accepts connections on port %(port)s of %(protocol)s server %(host)s. Check the "
        "port number and the encryption."
    ),
    "timeout": _lt(
        "%(protocol)s server %(server)s did not answer in time. Check the server name and port; "
        "a firewall may block the connection."
    ),
    "timeout:no_greeting": _lt(
        "%(protocol)s server %(server)s did not greet Odoo: this port probably expects an "
        "encrypted connection from the start. Choose SSL/TLS (usually port 993 for IMAP, 465 "
        "for SMTP)."
    ),
    "connection_lost": _lt(
        "The connection to %(protocol)s server %(server)s was lost several times during the sync. "
        "It resumes where it stopped at the next run; if this keeps happening, check the network "
        "or the proxy between Odoo and the server."
    ),
    "folder_unavailable": _lt(
        "%(protocol)s server %(server)s would not open the folder “%(folder)s”. Check that the "
        "folder still exists and that this account may read it; the other folders are synced."
    ),
    "protocol": _lt(
        "%(protocol)s server %(server)s answered in an unexpected way. Check that this is the " "right server and port."
    ),
}


def describe(env, error):
    """The translated, actionable message for an engine MailConnectionError."""
    text = MESSAGES.get(f"{error.code}:{error.reason}") or MESSAGES.get(error.code)
    if text is None:
        return str(error)
    values = {
        "protocol": error.protocol,
        "server": f"{error.host}:{error.port}",
        "host": error.host,
        "port": error.port,
        "folder": getattr(error, "folder", ""),
    }
    return text._translate(env.lang or "en_US") % values
