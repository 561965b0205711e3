import urllib.parse

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import email_normalize

from ..mailsync import ews_sync
from ..mailsync.addresses import domain_of
from ..models.crm_mail_account_ews import EWS_API, EWS_AUTH_SELECTION, EWS_PORT, check_ews_url
from ..models.crm_mail_account_web import connection_failure


class CrmMailSetupWizardEws(models.TransientModel):
    """An "Exchange Server (on-premises)" choice: the mailbox is read through
    Exchange Web Services with the EWS URL (found by Autodiscover during the
    detection, typed, or left empty for exchangelib's own Autodiscover), the
    Windows user name and password, NTLM or Basic. Its mail is sent through
    Odoo's usual outgoing server (no outgoing server is made)."""

    _inherit = "crm.mail.setup.wizard"

    server_kind = fields.Selection(
        [("imap", "IMAP and SMTP"), ("ews", "Exchange Server (on-premises)")],
        "Mail Server",
        default="imap",
        help="Exchange Server (on-premises): your company's own Exchange server, read through Exchange Web "
        "Services (EWS).",
    )
    ews_url = fields.Char(
        "EWS URL",
        help="e.g. https://mail.example.com/EWS/Exchange.asmx. Empty: found by Autodiscover from the address.",
    )
    ews_auth_type = fields.Selection(EWS_AUTH_SELECTION, "Authentication", default="ntlm")

    def action_detect(self):
        """An Exchange server found by Autodiscover, with no IMAP server found,
        preselects the EWS choice with its URL."""
        action = super().action_detect()
        for wizard in self:
            if wizard.exchange_ews_url and wizard.custom_servers and not wizard.offers_graph:
                wizard.write({"server_kind": "ews", "ews_url": wizard.exchange_ews_url, "auth_method": "password"})
        return action

    @api.onchange("server_kind")
    def _onchange_server_kind(self):
        if self.server_kind == "ews":
            self.auth_method = "password"
            if not self.ews_url and self.exchange_ews_url:
                self.ews_url = self.exchange_ews_url

    def _is_ews(self):
        return self.server_kind == "ews" and not self.offers_graph

    def _ews_settings(self):
        return ews_sync.EwsSettings(
            email=email_normalize(self.email),
            username=(self.imap_login or self.email).strip(),
            password=self._get_secret("password"),
            auth_type=self.ews_auth_type or "ntlm",
            ews_url=(self.ews_url or "").strip(),
            cafile=self.env["ir.config_parameter"].sudo().get_param("crm_mail_sync.ews_cafile") or None,
            timeout=15,
        )

    def _check_required(self):
        if not self._is_ews():
            return super()._check_required()
        missing = [self._fields[name].string for name in ("imap_login",) if not self[name]]
        if not self.password_set:
            missing.append(self._fields["password"].string)
        if missing:
            raise UserError(self.env._("Fill in: %(fields)s.", fields=", ".join(missing)))
        if self.ews_url:
            check_ews_url(self.env, self.ews_url)
        return None

    def action_test(self):
        """For the Exchange choice: one SyncFolderItems on the inbox."""
        self.ensure_one()
        if not self._is_ews():
            return super().action_test()
        self._check_required()
        failure = connection_failure(self.env, EWS_API, self._ews_settings())
        if failure:
            self.write({"imap_result": failure, "smtp_result": False, "step": "servers"})
            return self._reopen()
        self.write({"imap_result": self.env._("Connected."), "smtp_result": False, "step": "sharing"})
        return self._reopen()

    def action_finish(self):
        """For the Exchange choice: save the EWS mailbox (its password moves
        to the mailbox, encrypted); no outgoing server is made."""
        self.ensure_one()
        if not self._is_ews():
            return super().action_finish()
        self._check_owner()
        self._check_required()
        url = (self.ews_url or "").strip()
        host = urllib.parse.urlsplit(url).hostname if url else domain_of(email_normalize(self.email))
        self.write({"imap_host": host, "imap_port": EWS_PORT, "imap_security": "ssl"})
        account = self._save_account(
            {
                "kind": "ews",
                "auth_method": "password",
                "ews_url": url or False,
                "ews_auth_type": self.ews_auth_type or "ntlm",
                "ews_username": self.imap_login.strip(),
            }
        )
        account._set_secret("ews_password", self._get_secret("password"))
        account.sudo().write({"state": "connected", "last_error": False})
        self.write({"step": "done", "account_id": account.id})
        return self._reopen()
