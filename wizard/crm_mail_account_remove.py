from odoo import api, fields, models


class CrmMailAccountRemove(models.TransientModel):
    """Remove a connected mailbox, and, if its owner wishes, what it logged."""

    _name = "crm.mail.account.remove"
    _description = "Remove a Connected Mailbox"

    account_id = fields.Many2one("crm.mail.account", required=True, ondelete="cascade")
    logged_count = fields.Integer("Logged Emails", compute="_compute_logged_count")
    delete_logged = fields.Boolean(
        "Also delete the emails it logged",
        help="They disappear from the contacts' and opportunities' chatter and Emails lists.",
    )

    @api.depends("account_id")
    def _compute_logged_count(self):
        for wizard in self:
            # As the user: only what they may see (never a count of a mailbox
            # they may not read, nor of entries hidden from them).
            wizard.logged_count = self.env["crm.mail.interaction"].search_count(
                [("account_id", "=", wizard.account_id.id)]
            )

    def action_remove(self):
        self.ensure_one()
        account = self.account_id
        account.check_access("unlink")  # its owner or an administrator
        if self.delete_logged:
            # This mailbox's sharers only: an email another mailbox shares
            # too stays for it; one left without a sharer goes.
            self.env["crm.mail.interaction.share"].sudo().search([("account_id", "=", account.id)]).unlink()
        account.unlink()
        return {"type": "ir.actions.act_window_close", "infos": {"done": True}}
