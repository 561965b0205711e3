from odoo import api, fields, models
from odoo.exceptions import AccessError
from odoo.tools import email_normalize

from ..mailsync.addresses import domain_of

# Microsoft's mail services: their presets, and the tenant domains every
# Microsoft 365 organisation has (known without asking DNS).
GRAPH_PRESETS = ("microsoft365", "outlook")
MICROSOFT_TENANT_SUFFIX = ".onmicrosoft.com"


class CrmMailSetupWizardGraph(models.TransientModel):
    """Microsoft 365 and Outlook.com addresses (their presets, found by domain
    or by an MX on ``*.mail.protection.outlook.com``, or any
    ``*.onmicrosoft.com`` address) may be read through Microsoft Graph
    (recommended: IMAP is often switched off by tenant policy) or IMAP.
    Through Graph, a salesperson signs in with Microsoft (delegated
    Mail.Read); an administrator may connect a company-wide mailbox with the
    app registration (application permission Mail.Read)."""

    _inherit = "crm.mail.setup.wizard"

    read_through = fields.Selection(
        [("graph", "Microsoft Graph (recommended)"), ("imap", "IMAP")],
        default="imap",
        help="Microsoft Graph reads Microsoft 365 and Outlook.com mailboxes even where IMAP is switched off.",
    )
    offers_graph = fields.Boolean(compute="_compute_offers_graph")

    @api.depends("provider_id", "email")
    def _compute_offers_graph(self):
        for wizard in self:
            domain = domain_of(email_normalize(wizard.email or "") or "") or ""
            wizard.offers_graph = wizard.provider_id.code in GRAPH_PRESETS or domain.endswith(MICROSOFT_TENANT_SUFFIX)

    def action_detect(self):
        """A ``*.onmicrosoft.com`` address is Microsoft 365 without asking DNS;
        Microsoft addresses start on Graph."""
        self.ensure_one()
        email = email_normalize(self.email or "")
        preset = self.env["crm.mail.provider"].search([("code", "=", "microsoft365")], limit=1)
        if email and domain_of(email).endswith(MICROSOFT_TENANT_SUFFIX) and preset:
            self.write(
                {
                    "email": email,
                    "step": "servers",
                    "imap_result": False,
                    "smtp_result": False,
                    "provider_id": preset.id,
                    "custom_servers": False,
                    "imap_login": email,
                    "imap_host": preset.imap_host,
                    "imap_port": preset.imap_port,
                    "imap_security": preset.imap_security,
                    "smtp_host": preset.smtp_host,
                    "smtp_port": preset.smtp_port,
                    "smtp_security": preset.smtp_security,
                    "auth_method": "oauth_microsoft",
                    "two_step": False,
                    "detection_note": self.env._("We found your provider: %(name)s.", name=preset.name),
                }
            )
            action = self._reopen()
        else:
            action = super().action_detect()
        self.read_through = "graph" if self.offers_graph else "imap"
        return action

    def _save_account(self, values):
        kind = "graph" if self.offers_graph and self.read_through == "graph" else "imap"
        return super()._save_account({"kind": kind, **values})

    def action_connect_graph_app(self):
        """Company-wide mailbox through Graph with the app registration's
        own permission (administrators only): save it and test it."""
        self.ensure_one()
        if not (self.company_wide and self.env.user.has_group("base.group_system")):
            raise AccessError(
                self.env._("Only administrators can connect a company-wide mailbox with the app registration.")
            )
        account = self._save_account({"auth_method": "password", "kind": "graph"})
        account.action_test_connection()
        if account.state != "connected":
            self.imap_result = account.last_error
            return self._reopen()
        self.write({"step": "done", "account_id": account.id, "imap_result": False})
        return self._reopen()
