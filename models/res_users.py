from odoo import models
from odoo.exceptions import AccessError


class ResUsers(models.Model):
    _inherit = "res.users"

    def action_open_my_mailboxes(self):
        """From the user's Preferences: their own connected mailboxes."""
        self.ensure_one()
        if self != self.env.user:
            raise AccessError(self.env._("You can only open your own mailboxes."))
        action = self.env["ir.actions.act_window"]._for_xml_id("crm_mail_sync.crm_mail_account_action")
        action["domain"] = [("user_id", "=", self.env.uid)]
        action["context"] = {"default_user_id": self.env.uid}
        return action
