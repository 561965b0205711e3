from odoo import api, models
from odoo.exceptions import AccessError


class ResUsers(models.Model):
    _inherit = "res.users"

    @api.depends("email")
    def _compute_outgoing_mail_server_id(self):
        """Odoo only recognises a personal server whose From filter is exactly
        the user's address, and garbage-collects any other. A server set up
        with a connected mailbox (another address, aliases) is the user's too."""
        super()._compute_outgoing_mail_server_id()
        missing = self.filtered(lambda user: not user.outgoing_mail_server_id and user._origin.id)
        if not missing:
            return
        user_ids = missing._origin.ids
        accounts = (
            self.env["crm.mail.account"]
            .sudo()
            .search([("user_id", "in", user_ids), ("smtp_server_id.owner_user_id", "in", user_ids)])
        )
        servers = {account.user_id: account.smtp_server_id for account in accounts}
        for user in missing:
            server = servers.get(user._origin)
            if server:
                user.outgoing_mail_server_id = server.id

    def action_connect_my_mailbox(self):
        """From the user's Preferences: the setup wizard, for their own mailbox."""
        self.ensure_one()
        if self != self.env.user:
            raise AccessError(self.env._("You can only connect your own mailbox."))
        return self.env["ir.actions.act_window"]._for_xml_id("crm_mail_sync.crm_mail_setup_wizard_action")

    def action_open_my_mailboxes(self):
        """From the user's Preferences: their own connected mailboxes."""
        self.ensure_one()
        if self != self.env.user:
            raise AccessError(self.env._("You can only open your own mailboxes."))
        action = self.env["ir.actions.act_window"]._for_xml_id("crm_mail_sync.crm_mail_account_action")
        action["domain"] = [("user_id", "=", self.env.uid)]
        action["context"] = {"default_user_id": self.env.uid}
        return action
