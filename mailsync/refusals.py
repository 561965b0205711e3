"""What a server's refusal means: IMAP and SMTP replies -> typed engine errors.

Classification goes by the standards first, then by the texts of known
providers, which refine it (a provider's text is more precise than the code it
goes with: Microsoft sends "Basic authentication is disabled" as a plain NO,
Dovecot sends "too many connections" as [UNAVAILABLE]):

- IMAP response codes, RFC 5530 (AUTHENTICATIONFAILED, AUTHORIZATIONFAILED,
  EXPIRED, PRIVACYREQUIRED, CONTACTADMIN, UNAVAILABLE, LIMIT, INUSE,
  SERVERBUG...), and the state of the reply (``* BYE`` greeting: RFC 9051 7.1.5);
- SMTP reply codes (RFC 5321 4.2: 4xx is temporary) and enhanced status
  codes (RFC 3463, registry of RFC 5248: 5.7.8 bad credentials, 5.7.0 other
  security, 5.7.1 not authorized, 5.7.9 mechanism too weak, 5.7.11 encryption
  required, 5.1.1 bad recipient, 5.1.7/5.1.8 bad sender...);
- provider texts: Microsoft's 5.7.139 family ("SmtpClientAuthentication is
  disabled", "basic authentication is disabled"), Exchange Online's bare
  "LOGIN failed.", "User is authenticated but not connected", Google's "Please
  log in via your web browser" (5.7.14, [WEBALERT]) and "Too many simultaneous
  connections", sender ownership ("Sender address rejected: not owned by user",
  "Client does not have permissions to send as this sender", SendAsDenied
  5.7.60, Orange's "Emetteur invalide"), relay ("Relay access denied",
  5.7.54), "Must issue a STARTTLS command first".

Every function returns an error instance (the caller raises it); none raises.
"""

import re

from .errors import (
    AuthenticationFailed,
    MailboxRefused,
    MessageRefused,
    ProtocolError,
    ServerUnavailable,
    TlsError,
)

_IMAP_CODE = re.compile(r"\[([A-Za-z-]+)[\] ]")
_ENHANCED = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.])")
_ADDRESS = re.compile(r"<([^<>@\s]+@[^<>\s]+)>")

# Provider texts, lower case, matched anywhere in the reply.
_TOO_MANY = (
    "too many simultaneous connections",
    "maximum number of connections",
    "too many connections",
    "too many concurrent",
    "connection limit",
)
_BASIC_AUTH_DISABLED = (
    "basic authentication is disabled",
    "basicauthblocked",
    "security defaults policy",
    "did not meet the criteria to be authenticated",
)
_SMTP_AUTH_DISABLED = ("smtpclientauthentication is disabled",)
_WEB_LOGIN = ("log in via your web browser", "web login required", "[webalert")
_NOT_CONNECTED = ("authenticated but not connected",)
_SEND_AS = (
    "not owned by user",
    "does not have permissions to send as",
    "sendasdenied",
    "emetteur invalide",
    "émetteur invalide",
    "not allowed to send as",
    "sender is not authorized",
)
_RELAY = ("relay access denied", "relaying denied", "relay not permitted", "unable to relay", "relaying not allowed")
_STARTTLS_FIRST = ("must issue a starttls", "starttls first", "must use starttls", "encryption required")
_AUTH_REQUIRED = ("authentication required", "authentication is required", "not logged in")
_CREDENTIALS = ("credentials were incorrect", "invalid credentials", "username and password not accepted")
_MICROSOFT_HOSTS = ("office365.com", "outlook.com", "hotmail.com", "live.com", "office.com")


def _has(text, needles):
    text = text.lower()
    return any(needle in text for needle in needles)


def is_microsoft(host, greeting=""):
    """Whether ``host`` (or its greeting) is Exchange Online / Outlook.com."""
    host = (host or "").lower().rstrip(".")
    greeting = (greeting or "").lower()
    return any(host == suffix or host.endswith("." + suffix) for suffix in _MICROSOFT_HOSTS) or any(
        word in greeting for word in ("microsoft", ".outlook.com", ".office365.com")
    )


def imap_codes(text):
    """The RFC 5530 response codes in an IMAP reply, upper case (``{"UNAVAILABLE"}``)."""
    return {code.upper() for code in _IMAP_CODE.findall(text or "")}


def imap_refusal(host, port, step, text, *, token=False, microsoft=False, status=""):
    """The error for an IMAP refusal.

    :param step: ``"greeting"``, ``"login"`` (LOGIN or AUTHENTICATE) or a
        later command (``"list"``, ``"select"``...)
    :param text: the server's words (response code included)
    :param token: the sign-in was XOAUTH2 (an access token)
    :param microsoft: the server is Exchange Online / Outlook.com
    :param status: ``"NO"``, ``"BAD"`` or ``"BYE"`` when known
    """
    args = ("IMAP", host, port)
    kw = {"step": step}
    codes = imap_codes(text)
    # Provider texts first where they are more precise than any code.
    if _has(text, _TOO_MANY):
        return ServerUnavailable(*args, "too_many_connections", text, **kw)
    if _has(text, _NOT_CONNECTED):
        return MailboxRefused(*args, "not_connected", text, **kw)
    if _has(text, _BASIC_AUTH_DISABLED):
        return AuthenticationFailed(*args, "basic_auth_disabled", text, **kw)
    if _has(text, _WEB_LOGIN):
        return AuthenticationFailed(*args, "web_login", text, **kw)
    # RFC 5530 response codes.
    if codes & {"UNAVAILABLE", "INUSE", "SERVERBUG"}:
        return ServerUnavailable(*args, None, text, **kw)
    if "LIMIT" in codes:
        reason = "too_many_connections" if step in ("greeting", "login") else None
        return ServerUnavailable(*args, reason, text, **kw)
    if "PRIVACYREQUIRED" in codes:
        return TlsError(*args, "encryption_required", text, **kw)
    if "AUTHORIZATIONFAILED" in codes:
        return AuthenticationFailed(*args, "authorization", text, **kw)
    if "EXPIRED" in codes:
        return AuthenticationFailed(*args, "expired", text, **kw)
    if "CONTACTADMIN" in codes:
        return AuthenticationFailed(*args, "contact_admin", text, **kw)
    if "AUTHENTICATIONFAILED" in codes:
        return AuthenticationFailed(*args, "token" if token else None, text, **kw)
    if step == "greeting":
        # A server that greets with NO or BYE refuses the session itself (RFC 9051 7.1.5).
        return ServerUnavailable(*args, None, text, **kw)
    if step == "login":
        if status == "BAD":
            return ProtocolError(*args, None, text, **kw)
        if token:
            return AuthenticationFailed(*args, "token", text, **kw)
        if microsoft and not _has(text, _CREDENTIALS):
            # Exchange Online answers a bare "LOGIN failed." to every refused
            # password, including when passwords are off for the mailbox.
            return AuthenticationFailed(*args, "microsoft_password", text, **kw)
        return AuthenticationFailed(*args, None, text, **kw)
    if status == "BYE":
        return ServerUnavailable(*args, None, text, **kw)
    if step in ("list", "select"):
        return MailboxRefused(*args, None, text, **kw)
    return ProtocolError(*args, None, text, **kw)


def enhanced_code(text):
    """The RFC 3463 enhanced status code in an SMTP reply text, ``(class, subject,
    detail)`` as ints, or None."""
    match = _ENHANCED.search(text or "")
    return tuple(int(part) for part in match.groups()) if match else None


def smtp_refusal(host, port, step, code, text, *, token=False, microsoft=False, sender=None, recipient=None):
    """The error for an SMTP refusal.

    :param step: ``"greeting"``, ``"ehlo"``, ``"auth"``, ``"mail"`` (MAIL FROM),
        ``"rcpt"`` (RCPT TO), ``"data"`` (the DATA command or its end)
    :param code: the 3-digit reply code (int); ``text`` the reply's text
    :param sender: the MAIL FROM address in use; ``recipient`` the RCPT TO one
    """
    args = ("SMTP", host, port)
    detail = f"{code} {text}".strip()
    kw = {"step": step}
    enhanced = enhanced_code(text)
    temporary = 400 <= code < 500 or (enhanced is not None and enhanced[0] == 4)
    if _has(text, _STARTTLS_FIRST) or enhanced == (5, 7, 11) or (code == 530 and "tls" in text.lower()):
        return TlsError(*args, "encryption_required", detail, **kw)
    if _has(text, _TOO_MANY):
        return ServerUnavailable(*args, "too_many_connections", detail, **kw)
    if temporary or code == 421:
        return ServerUnavailable(*args, None, detail, **kw)
    if step in ("greeting", "ehlo"):
        return ProtocolError(*args, None, detail, **kw)
    if step == "auth":
        if _has(text, _SMTP_AUTH_DISABLED):
            return AuthenticationFailed(*args, "smtp_auth_disabled", detail, **kw)
        if _has(text, _BASIC_AUTH_DISABLED):
            return AuthenticationFailed(*args, "basic_auth_disabled", detail, **kw)
        if _has(text, _WEB_LOGIN) or enhanced == (5, 7, 14):
            return AuthenticationFailed(*args, "web_login", detail, **kw)
        if (enhanced == (5, 7, 9) or code == 504) and "password" not in text.lower():
            return AuthenticationFailed(*args, "mechanism", detail, **kw)
        if token:
            return AuthenticationFailed(*args, "token", detail, **kw)
        if microsoft and enhanced == (5, 7, 139) and not _has(text, _CREDENTIALS):
            return AuthenticationFailed(*args, "microsoft_password", detail, **kw)
        return AuthenticationFailed(*args, None, detail, **kw)
    # MAIL FROM, RCPT TO, DATA: who or what was refused.
    if _has(text, _SEND_AS) or enhanced == (5, 7, 60):
        return MessageRefused(*args, "send_as", detail, address=_quoted_address(text) or sender, **kw)
    if _has(text, _RELAY) or enhanced == (5, 7, 54):
        return MessageRefused(*args, "relay", detail, address=recipient, **kw)
    if code == 530 or (enhanced == (5, 7, 0) and _has(text, _AUTH_REQUIRED)) or _has(text, _AUTH_REQUIRED):
        return MessageRefused(*args, "auth_required", detail, **kw)
    if step == "mail" or (enhanced is not None and enhanced[1] == 1 and enhanced[2] in (7, 8)):
        return MessageRefused(*args, "sender", detail, address=sender, **kw)
    if step == "rcpt":
        if "sender" in text.lower():
            return MessageRefused(*args, "sender", detail, address=_quoted_address(text) or sender, **kw)
        if enhanced is not None and enhanced[1] == 1:
            return MessageRefused(*args, "recipient", detail, address=recipient, **kw)
        return MessageRefused(*args, None, detail, address=recipient, **kw)
    if step == "data" and (code == 554 or (enhanced is not None and enhanced[1] == 7) or "policy" in text.lower()):
        return MessageRefused(*args, "policy", detail, address=sender, **kw)
    return MessageRefused(*args, None, detail, **kw)


def _quoted_address(text):
    match = _ADDRESS.search(text or "")
    return match.group(1) if match else None
