"""Where the addon may connect on a user's behalf, and what it tells them.

Two rules protect the company's network and the users' passwords:

- **Encryption "none"** sends the password in clear: it is accepted only
  towards a server on this machine or the local network (every address the
  name resolves to is loopback, private or link-local: ``ipaddress``'s
  ``is_loopback``/``is_private``/``is_link_local``), unless an administrator
  sets the system parameter ``crm_mail_sync.allow_unencrypted`` to ``1``.
- **No port scanning oracle**: Test Connection (mailbox and setup wizard)
  reports a failed connection in detail only on the usual mail ports
  (:data:`STANDARD_PORTS`), on the ports an administrator lists in the system
  parameter ``crm_mail_sync.allowed_ports`` (comma-separated), or to an
  administrator. Any other failure reads as one neutral message, the same
  whether nothing listens, something else answers, TLS fails or the
  password is refused. Autodetection only ever probes the usual ports
  (``mailsync.autodetect.PROBE_PORTS``: its guesses, and the entries of an
  autoconfig file fetched over plain HTTP on those ports; SRV and HTTPS
  autoconfig answers are not probed).
"""

import ipaddress
import socket

from odoo.exceptions import ValidationError

from . import messages

# SMTP 25, 465 (RFC 8314), 587 (RFC 6409), 2525 (common alternative),
# 1025 (Proton Mail Bridge); IMAP 143, 993 (RFC 8314), 1143 (Proton Mail Bridge).
STANDARD_PORTS = frozenset({25, 465, 587, 1025, 2525, 143, 993, 1143})

ALLOW_UNENCRYPTED_PARAM = "crm_mail_sync.allow_unencrypted"
ALLOWED_PORTS_PARAM = "crm_mail_sync.allowed_ports"


def is_administrator(env):
    return env.su or env.user._is_system()


def allowed_ports(env):
    """The ports whose failures are explained in detail (set of ints)."""
    extra = env["ir.config_parameter"].sudo().get_param(ALLOWED_PORTS_PARAM) or ""
    ports = {int(part) for part in extra.replace(";", ",").replace(" ", ",").split(",") if part.strip().isdigit()}
    return STANDARD_PORTS | ports


def failure_message(env, protocol, host, port, detailed):
    """``detailed`` (the translated explanation of a failed connection to
    ``host``:``port``) when it may be shown, else the neutral message."""
    if is_administrator(env) or port in allowed_ports(env):
        return detailed
    return messages.NEUTRAL_FAILURE._translate(env.lang or "en_US") % {"protocol": protocol, "host": host, "port": port}


def is_local_host(host, port=None):
    """True when every address ``host`` resolves to is loopback, private or
    link-local; False for a public address, or a name that does not resolve."""
    host = (host or "").strip().strip("[]")
    if not host:
        return False
    try:
        addresses = {ipaddress.ip_address(host)}
    except ValueError:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError):
            return False
        addresses = {ipaddress.ip_address(info[4][0].split("%", 1)[0]) for info in infos}
    return bool(addresses) and all(
        address.is_loopback or address.is_private or address.is_link_local for address in addresses
    )


def check_encryption(env, protocol, host, port, security):
    """Raise ValidationError for encryption "none" towards a server that is
    not local, unless an administrator allowed it (see the module docstring)."""
    if security != "none" or not host:
        return
    if env["ir.config_parameter"].sudo().get_param(ALLOW_UNENCRYPTED_PARAM) in ("1", "True", "true"):
        return
    if is_local_host(host, port):
        return
    text = messages.UNENCRYPTED_REFUSED._translate(env.lang or "en_US")
    raise ValidationError(text % {"protocol": protocol, "host": host, "param": ALLOW_UNENCRYPTED_PARAM})
