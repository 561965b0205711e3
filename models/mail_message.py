from odoo import fields, models


class MailMessage(models.Model):
    _inherit = "mail.message"

    # Set on the chatter entries of a logged email. A record rule
    # (security/crm_mail_interaction_security.xml) hides them from whoever may
    # not see the email itself, whatever their access to the contact or lead.
    crm_mail_interaction_id = fields.Many2one(
        "crm.mail.interaction", "Logged Email", index="btree_not_null", ondelete="cascade", readonly=True
    )
