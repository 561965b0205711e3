from odoo import api, fields, models


class ResPartner(models.Model):
    _name = "res.partner"
    _inherit = ["res.partner", "crm.mail.matched.mixin"]
    _crm_mail_interaction_link = "partner_ids"

    secondary_email_ids = fields.One2many("crm.mail.partner.email", "partner_id", "Secondary Email Addresses")

    @api.model
    def _search_display_name(self, operator, value):
        """Finding a contact by name or email also finds it by a secondary address."""
        domain = super()._search_display_name(operator, value)
        if operator in ("ilike", "=ilike", "=") and value and isinstance(value, str) and "@" in value:
            domain = ["|", *domain, ("secondary_email_ids.email", operator, value)]
        return domain
