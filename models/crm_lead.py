from odoo import fields, models


class CrmLead(models.Model):
    _name = "crm.lead"
    _inherit = ["crm.lead", "crm.mail.matched.mixin"]
    _crm_mail_interaction_link = "lead_ids"

    crm_mail_interaction_ids = fields.Many2many(
        "crm.mail.interaction",
        "crm_mail_interaction_crm_lead_rel",
        "lead_id",
        "interaction_id",
        "Logged Emails",
        copy=False,
    )
