from odoo import api, fields, models

from ..mailsync.addresses import normalize


class ResPartner(models.Model):
    _inherit = "res.partner"

    mail_match_key = fields.Char(
        compute="_compute_mail_match_key", store=True, index=True, help="Main email address, normalised for matching."
    )
    secondary_email_ids = fields.One2many("crm.mail.partner.email", "partner_id", "Secondary Email Addresses")
    crm_mail_interaction_count = fields.Integer("Emails", compute="_compute_crm_mail_interaction_count")

    @api.depends("email")
    def _compute_mail_match_key(self):
        for partner in self:
            partner.mail_match_key = normalize(partner.email)

    @api.depends_context("uid")
    def _compute_crm_mail_interaction_count(self):
        counts = dict(
            self.env["crm.mail.interaction"]._read_group(
                [("partner_ids", "in", self.ids)], ["partner_ids"], ["__count"]
            )
        )
        for partner in self:
            partner.crm_mail_interaction_count = counts.get(partner._origin, 0)

    @api.model
    def _search_display_name(self, operator, value):
        """Finding a contact by name or email also finds it by a secondary address."""
        domain = super()._search_display_name(operator, value)
        if operator in ("ilike", "=ilike", "=") and value and isinstance(value, str) and "@" in value:
            domain = ["|", *domain, ("secondary_email_ids.email", operator, value)]
        return domain

    def action_open_crm_mail_interactions(self):
        self.ensure_one()
        return self.env["crm.mail.interaction"]._action_open([("partner_ids", "in", self.ids)], self)
