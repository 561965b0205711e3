import urllib.parse

from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError

from ..mailsync import ews_sync
from ..tools import mail_network_policy
from ..tools.messages import describe
from .crm_mail_account_web import WebApi

EWS_AUTH_SELECTION = [("ntlm", "NTLM (Windows)"), ("basic", "Basic")]
# Changing any of these sends the stored password somewhere else (or otherwise): it is cleared.
EWS_CONNECTION_FIELDS = ("ews_url", "ews_auth_type")
EWS_PORT = 443  # EWS is HTTPS: failures there are explained in detail, as on the usual mail ports


class CrmMailAccountEws(models.Model):
    """Mailboxes of an Exchange Server on premises, read through Exchange Web
    Services (exchangelib): ``kind`` "ews".

    The EWS URL is the server's endpoint (``https://mail.example.com/EWS/
    Exchange.asmx``); empty, exchangelib's Autodiscover finds it from the
    address. The account signs in with NTLM (``DOMAIN\\user``) or Basic; its
    password is encrypted like the others (``ews_password_secret``, readable
    by administrators only, and only as ciphertext). A company CA that signs
    the server's certificate is trusted through the system parameter
    ``crm_mail_sync.ews_cafile`` (a PEM bundle on the Odoo server, added to
    the system's CAs)."""

    _inherit = "crm.mail.account"

    kind = fields.Selection(
        selection_add=[("ews", "Exchange Server (EWS)")],
        ondelete={"ews": "set default"},
    )
    ews_url = fields.Char(
        "EWS URL",
        help="The Exchange Web Services address of your server, e.g. https://mail.example.com/EWS/Exchange.asmx. "
        "Empty: found by Autodiscover from the email address.",
    )
    ews_auth_type = fields.Selection(
        EWS_AUTH_SELECTION,
        "EWS Authentication",
        default="ntlm",
        help="NTLM: Windows sign-in (user name as DOMAIN\\user). Basic: only where the Exchange administrator "
        "enabled it, always over HTTPS.",
    )
    ews_username = fields.Char("EWS User Name", help="The Windows account of the mailbox: DOMAIN\\user or user@domain.")
    ews_password = fields.Char(
        "EWS Password",
        compute="_compute_ews_password",
        inverse="_inverse_ews_password",
        copy=False,
        help="Stored encrypted; never shown again once saved.",
    )
    ews_password_secret = fields.Char(copy=False, groups="base.group_system")
    ews_password_set = fields.Boolean("EWS Password Saved", compute="_compute_ews_password_set")

    def _compute_ews_password(self):
        self._secret_input_empty("ews_password")

    @api.depends("ews_password_secret")
    def _compute_ews_password_set(self):
        self._secret_saved("ews_password")

    def _inverse_ews_password(self):
        self._secret_input_store("ews_password")

    @api.constrains("kind", "ews_url")
    def _check_ews_url(self):
        for account in self.filtered(lambda a: a.kind == "ews" and a.ews_url):
            check_ews_url(self.env, account.ews_url)

    def write(self, vals):
        moved = self.browse()
        if not vals.get("ews_password") and any(name in vals for name in EWS_CONNECTION_FIELDS):
            moved = self.filtered(
                lambda account: account.ews_password_set
                and any(
                    account._fields[name].convert_to_cache(vals[name], account) != account[name]
                    for name in EWS_CONNECTION_FIELDS
                    if name in vals
                )
            )
        result = super().write(vals)
        if moved:
            # The password was given for the old server (or sign-in method): never send it elsewhere.
            moved.sudo().write({"ews_password_secret": False, "state": "draft", "last_error": False})
        return result

    # -- EWS access --------------------------------------------------------
    def _ews_settings(self):
        """:class:`mailsync.ews_sync.EwsSettings` of this mailbox.

        :raises UserError: no password saved, or an EWS URL Odoo refuses
        """
        self.ensure_one()
        password = self._get_secret("ews_password")
        if not password:
            raise UserError(
                self.env._("Enter the password of %(email)s (EWS Password), then try again.", email=self.email)
            )
        if self.ews_url:
            check_ews_url(self.env, self.ews_url)
        params = self.env["ir.config_parameter"].sudo()
        return ews_sync.EwsSettings(
            email=self.email.strip(),
            username=(self.ews_username or self.imap_login or self.email).strip(),
            password=password,
            auth_type=self.ews_auth_type or "ntlm",
            ews_url=(self.ews_url or "").strip(),
            cafile=params.get_param("crm_mail_sync.ews_cafile") or None,
        )

    @api.model
    def _web_apis(self):
        """EWS: items read by id, one SyncFolderItems per folder."""
        return {**super()._web_apis(), "ews": EWS_API}


def check_ews_url(env, url):
    """Refuse an EWS URL that is not HTTPS (the password would travel in
    clear), unless it points at this machine or the local network."""
    parts = urllib.parse.urlsplit((url or "").strip())
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme == "http" and parts.hostname and mail_network_policy.is_local_host(parts.hostname, parts.port):
        return
    raise ValidationError(
        env._(
            "“%(url)s” is not an EWS address Odoo can use: it starts with https:// and names the server, "
            "e.g. https://mail.example.com/EWS/Exchange.asmx (your Exchange administrator gives it). "
            "Leave it empty to find it by Autodiscover.",
            url=url,
        )
    )


def ews_failure_message(env, error):
    """The translated message of an EWS failure, neutral on an unusual port
    for a non-administrator (no port-scanning oracle), as for IMAP and SMTP."""
    message = describe(env, error)
    if error.port == EWS_PORT:
        return message
    return mail_network_policy.failure_message(env, "EWS", error.host, error.port, message)


def _connected_message(account, settings):
    return account.env._(
        "Connected to the Exchange server %(server)s: the mailbox %(email)s can be read.",
        server=settings.host,
        email=account.email,
    )


EWS_API = WebApi(
    ews_sync, ews_sync.EwsSyncState, ews_sync.EwsMailboxSync, "_ews_settings", ews_failure_message, _connected_message
)
