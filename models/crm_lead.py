from odoo import api, fields, models

from ..mailsync.addresses import normalize


class CrmLead(models.Model):
    _inherit = "crm.lead"

    mail_match_key = fields.Char(
        compute="_compute_mail_match_key", store=True, index=True, help="Email, normalised for matching."
    )
    crm_mail_interaction_ids = fields.Many2many(
        "crm.mail.interaction",
        "crm_mail_interaction_crm_lead_rel",
        "lead_id",
        "interaction_id",
        "Logged Emails",
        copy=False,
    )
    crm_mail_interaction_count = fields.Integer("Emails", compute="_compute_crm_mail_interaction_count")

    @api.depends("email_from")
    def _compute_mail_match_key(self):
        for lead in self:
            lead.mail_match_key = normalize(lead.email_from)

    @api.depends_context("uid")
    def _compute_crm_mail_interaction_count(self):
        counts = dict(
            self.env["crm.mail.interaction"]._read_group([("lead_ids", "in", self.ids)], ["lead_ids"], ["__count"])
        )
        for lead in self:
            lead.crm_mail_interaction_count = counts.get(lead._origin, 0)

    def action_open_crm_mail_interactions(self):
        self.ensure_one()
        return self.env["crm.mail.interaction"]._action_open([("lead_ids", "in", self.ids)], self)
