"""The engine's errors, told to the user in their language: the one home of
the user-facing text of connection, sign-in (OAuth), Microsoft Graph and
logging-mailbox failures.

The engine (mailsync) gives each failure a stable ``code`` and ``reason``
(and, for a sign-in, the ``provider``); this module holds the translatable
text for each, so that the exact same cause reads the same everywhere in the
UI. The engine's own English ``str()`` is for logs and tests only.
"""

from odoo.tools.translate import LazyTranslate

from ..mailsync import queue

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
    # Refusals (issue 20): what happened, in plain words, and the next step.
    "auth_failed:basic_auth_disabled": _lt(
        "Microsoft no longer accepts a password for this mailbox on %(protocol)s server %(server)s "
        "(basic authentication is disabled). Use “Sign in with Microsoft” instead of a password."
    ),
    "auth_failed:microsoft_password": _lt(
        "Microsoft refused the password sign-in to %(protocol)s server %(server)s. Microsoft mailboxes "
        "mostly no longer accept passwords: use “Sign in with Microsoft”."
    ),
    "auth_failed:smtp_auth_disabled": _lt(
        "Microsoft 365 has SMTP sign-in (SMTP AUTH) switched off for this organisation or mailbox, so "
        "%(protocol)s server %(server)s refuses to send. Ask your Microsoft 365 administrator to enable "
        "“Authenticated SMTP” for this mailbox, or to set up sending through Microsoft (Graph)."
    ),
    "auth_failed:web_login": _lt(
        "%(protocol)s server %(server)s wants this sign-in confirmed in a web browser first. Sign in to "
        "your mailbox in a web browser, confirm that it is you, then try again (or use “Sign in with "
        "Google”)."
    ),
    "auth_failed:authorization": _lt(
        "%(protocol)s server %(server)s accepted the credentials but not for this mailbox. Check that "
        "the user name is this mailbox's own and that this account may open it."
    ),
    "auth_failed:expired": _lt(
        "The password of this mailbox has expired (%(protocol)s server %(server)s). Change it with your "
        "provider, then enter the new one here."
    ),
    "auth_failed:contact_admin": _lt(
        "%(protocol)s server %(server)s blocked this sign-in. Contact your mail administrator or provider."
    ),
    "tls:encryption_required": _lt(
        "%(protocol)s server %(server)s requires an encrypted connection. Choose STARTTLS (usually port "
        "587 for SMTP, 143 for IMAP) or SSL/TLS (465 for SMTP, 993 for IMAP)."
    ),
    "unavailable": _lt(
        "%(protocol)s server %(server)s is temporarily unavailable. Try again later: nothing is wrong "
        "with your settings."
    ),
    "unavailable:too_many_connections": _lt(
        "Too many connections are open to this mailbox on %(protocol)s server %(server)s (other mail "
        "apps or devices). Close some of them or wait a few minutes, then try again: the password is fine."
    ),
    "mailbox": _lt(
        "%(protocol)s server %(server)s signed you in but refused to open the mailbox. Check that this "
        "account has a mailbox on this server and that IMAP is enabled for it."
    ),
    "mailbox:not_connected": _lt(
        "Microsoft signed you in but will not open this mailbox (%(protocol)s server %(server)s). Sign in "
        "with the Microsoft account of this very mailbox, and check with your administrator that it has "
        "an Exchange Online mailbox with IMAP enabled."
    ),
    "refused": _lt(
        "%(protocol)s server %(server)s refused the message. Read the server's reply below, then check "
        "the From address and the settings."
    ),
    "refused:sender": _lt(
        "%(protocol)s server %(server)s refused the sender address %(address)s. Send from the "
        "mailbox's own address, or check this address."
    ),
    "refused:send_as": _lt(
        "%(protocol)s server %(server)s does not let this login send as %(address)s. Send from the "
        "mailbox's own address, or ask your administrator to allow this address for the login (alias "
        "or “Send As” permission), then declare it in “Other From Addresses”."
    ),
    "refused:relay": _lt(
        "%(protocol)s server %(server)s refused to relay mail to %(address)s: it does not see this "
        "login as allowed to send. Switch SMTP authentication on with the mailbox's own login, or "
        "check the outgoing server."
    ),
    "refused:auth_required": _lt(
        "%(protocol)s server %(server)s only sends mail for signed-in users. Switch SMTP authentication "
        "on and enter the mailbox's login and password."
    ),
    "refused:recipient": _lt("%(protocol)s server %(server)s refused the recipient %(address)s. Check this address."),
    "refused:policy": _lt(
        "%(protocol)s server %(server)s refused the message by its policy. Read the server's "
        "explanation below; contact your provider if it does not help."
    ),
    # Microsoft Graph mailboxes (issue 15): %(server)s is Graph's host.
    "graph_consent": _lt(
        "Microsoft Graph (%(server)s) refused to read this mailbox: the app registration lacks the "
        "Mail.Read permission. For your own mailbox, an administrator adds the delegated permission "
        "Mail.Read to the app registration (and grants consent), then you sign in with Microsoft again; "
        "for a company-wide mailbox, the application permission Mail.Read with admin consent, and an "
        "application access policy that includes this mailbox."
    ),
    "graph_mailbox": _lt(
        "Microsoft Graph (%(server)s) does not know this mailbox. Check the email address: it must be a "
        "mailbox of your Microsoft 365 organisation (or an Outlook.com account) with Exchange Online."
    ),
    "graph_throttled": _lt(
        "Microsoft Graph (%(server)s) asked Odoo to slow down. Nothing is wrong with the settings: the "
        "sync resumes where it stopped at its next run."
    ),
    "graph_token": _lt(
        "Microsoft Graph (%(server)s) refused the access token. Sign in with Microsoft again; for a "
        "company-wide mailbox, an administrator checks the tenant ID, client ID and client secret in CRM "
        "settings."
    ),
}

# Sign in with Microsoft or Google (mailsync.errors.OAuthError): "oauth:<provider>:<reason>",
# "oauth:<provider>" for any other reason. %(email)s is the mailbox signed in.
OAUTH_MESSAGES = {
    "oauth:microsoft:invalid_client": _lt(
        "Microsoft refused the app registration: an administrator must check the tenant "
        "ID, client ID and client secret (a client secret also expires) in CRM settings."
    ),
    "oauth:microsoft:invalid_grant": _lt(
        "The Microsoft sign-in of %(email)s has expired or was revoked: sign in again."
    ),
    "oauth:microsoft:access_denied": _lt(
        "The Microsoft sign-in was cancelled or the permissions were refused: sign in again and accept them."
    ),
    "oauth:microsoft:state_mismatch": _lt(
        "This Microsoft sign-in answer does not belong to a sign-in started here: start again from the mailbox."
    ),
    "oauth:microsoft:unreachable": _lt(
        "Microsoft's sign-in service cannot be reached: check the network and try again."
    ),
    "oauth:microsoft": _lt("The Microsoft sign-in failed: try again."),
    "oauth:google:invalid_client": _lt(
        "Google refused the OAuth client: an administrator must check the Google client ID "
        "and client secret in CRM settings."
    ),
    "oauth:google:invalid_grant": _lt("The Google sign-in of %(email)s has expired or was revoked: sign in again."),
    "oauth:google:access_denied": _lt(
        "The Google sign-in was cancelled or the access to Gmail was refused: sign in again and allow it."
    ),
    "oauth:google:state_mismatch": _lt(
        "This Google sign-in answer does not belong to a sign-in started here: start again from the mailbox."
    ),
    "oauth:google:unreachable": _lt("Google's sign-in service cannot be reached: check the network and try again."),
    "oauth:google": _lt("The Google sign-in failed: try again."),
}
# The sign-in cannot start or finish, by provider.
OAUTH_NOT_SET_UP = {
    "microsoft": _lt(
        "Sign in with Microsoft is not set up yet: an administrator must enter the "
        "tenant ID, client ID and client secret in CRM settings, under Mail Sync."
    ),
    "google": _lt(
        "Sign in with Google is not set up yet: an administrator must enter the Google "
        "client ID and client secret in CRM settings, under Mail Sync."
    ),
}
OAUTH_NOT_SIGNED_IN = {
    "microsoft": _lt("Sign in with Microsoft first (button “Sign in with Microsoft”)."),
    "google": _lt("Sign in with Google first (button “Sign in with Google”)."),
}
OAUTH_NOT_STARTED = {
    "microsoft": _lt("No Microsoft sign-in was started from this browser: start it again."),
    "google": _lt("No Google sign-in was started from this browser: start it again."),
}

# Where the addon may connect (tools/mail_network_policy.py).
NEUTRAL_FAILURE = _lt(
    "The connection to %(protocol)s server %(host)s on port %(port)s failed. Check the server name, port, "
    "encryption and password given by your provider. Port %(port)s is not a usual mail port, so no more "
    "detail is given: an administrator can add it to the allowed ports (system parameter "
    "crm_mail_sync.allowed_ports)."
)
UNENCRYPTED_REFUSED = _lt(
    "%(protocol)s server %(host)s: encryption “None” would send the password in clear over the "
    "network; it is only allowed for a server on this machine or the local network. Choose SSL/TLS "
    "or STARTTLS (an administrator can allow unencrypted connections with the system parameter "
    "%(param)s)."
)

# The company logging mailbox cannot be processed as set up (mailsync.queue.QueueSetupError):
# one sentence per problem code; %(folder)s is the folder's name.
QUEUE_PROBLEMS = {
    queue.SAME_FOLDER: _lt(
        "The queue, storage and “Not logged” folders must be three different folders: change one of them."
    ),
    queue.QUEUE_MISSING: _lt(
        "The queue folder “%(folder)s” does not exist in this mailbox: enter an existing folder "
        "(the inbox is INBOX) or create it with your mail program."
    ),
    queue.STORAGE_MISSING: _lt("The storage folder “%(folder)s” does not exist yet: click “Create Missing Folders”."),
    queue.NOT_LOGGED_MISSING: _lt(
        "The “Not logged” folder “%(folder)s” does not exist yet: click “Create Missing Folders”."
    ),
    queue.CANNOT_MOVE: _lt(
        "This server cannot move messages safely: it offers neither IMAP MOVE (RFC 6851) nor UIDPLUS "
        "(RFC 4315). Ask your mail provider to enable one of them, or use another mail server."
    ),
}

SERVER_REPLY = _lt("Server's reply: %(text)s")
MORE_INFORMATION = _lt("More information: %(url)s")
SOME_ADDRESS = _lt("this address")
# The server's own words help the user except where they are the OS's (TLS,
# network) or a plain wrong password (the message says it all).
_NO_SERVER_TEXT = {"tls", "unreachable", "timeout", "auth_failed:None", "connection_lost"}
_MAX_SERVER_TEXT = 400


def describe(env, error, advice=""):
    """The translated, actionable message for an engine MailConnectionError.

    :param advice: a translated sentence the caller adds to the message (e.g.
        the provider's app-password steps), placed before the server's words
    :returns: what happened and what to do, then, on their own lines, the
        server's reply and its link when they help (``error.detail`` is only
        what the server said: never a secret)
    """
    lang = env.lang or "en_US"
    key = f"{error.code}:{error.reason}"
    text = MESSAGES.get(key) or MESSAGES.get(error.code)
    if text is None:
        return str(error)
    values = {
        "protocol": error.protocol,
        "server": f"{error.host}:{error.port}",
        "host": error.host,
        "port": error.port,
        "folder": getattr(error, "folder", ""),
        "address": getattr(error, "address", None) or SOME_ADDRESS._translate(lang),
    }
    message = text._translate(lang) % values
    if advice:
        message += " " + advice.strip()
    detail = getattr(error, "detail", "")
    shown = key == "tls:encryption_required" or (error.code not in _NO_SERVER_TEXT and key not in _NO_SERVER_TEXT)
    if shown and detail and not detail.startswith("no AUTH"):
        if len(detail) > _MAX_SERVER_TEXT:
            detail = detail[: _MAX_SERVER_TEXT - 1] + "…"
        message += "\n" + SERVER_REPLY._translate(lang) % {"text": detail}
        url = getattr(error, "url", None)
        if url:
            message += "\n" + MORE_INFORMATION._translate(lang) % {"url": url}
    return message


def describe_oauth(env, error, email=""):
    """The translated message for an engine :class:`mailsync.errors.OAuthError`.

    :param email: the mailbox whose sign-in failed (named when it expired)
    :returns: what happened and what to do, for the provider of the error
    """
    text = OAUTH_MESSAGES.get(f"{error.code}:{error.provider}:{error.reason}") or OAUTH_MESSAGES.get(
        f"{error.code}:{error.provider}"
    )
    if text is None:
        return str(error)
    return text._translate(env.lang or "en_US") % {"email": email or ""}


def oauth_text(env, texts, provider):
    """One of the texts by provider above (e.g. :data:`OAUTH_NOT_SIGNED_IN`), translated."""
    return texts[provider]._translate(env.lang or "en_US")


def describe_queue_problems(env, problems):
    """One translated sentence per ``(code, folder name or None)`` of a
    :class:`mailsync.queue.QueueSetupError`."""
    lang = env.lang or "en_US"
    return [QUEUE_PROBLEMS[code]._translate(lang) % {"folder": name or ""} for code, name in problems]
