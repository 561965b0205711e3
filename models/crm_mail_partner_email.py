from odoo import api, fields, models
from odoo.exceptions import ValidationError

from ..mailsync.addresses import normalize


class CrmMailPartnerEmail(models.Model):
    """A contact's secondary email address (a personal address, an old one, an
    alias): mail to or from it is logged on the contact like mail to its
    primary address."""

    _name = "crm.mail.partner.email"
    _description = "Secondary Email Address"
    _order = "partner_id, id"
    _rec_name = "email"

    partner_id = fields.Many2one("res.partner", "Contact", required=True, index=True, ondelete="cascade")
    email = fields.Char("Email Address", required=True)
    email_key = fields.Char(compute="_compute_email_key", store=True, index=True, help="Normalised for matching.")

    _partner_key_unique = models.Constraint(
        "UNIQUE(partner_id, email_key)", "This contact already has this email address."
    )

    @api.depends("email")
    def _compute_email_key(self):
        for address in self:
            address.email_key = normalize(address.email)

    @api.constrains("email", "partner_id")
    def _check_email(self):
        for address in self:
            if not address.email_key:
                raise ValidationError(
                    self.env._(
                        "“%(email)s” is not a valid email address: correct the secondary address of %(contact)s.",
                        email=address.email,
                        contact=address.partner_id.display_name,
                    )
                )
            if address.email_key == address.partner_id.mail_match_key:
                raise ValidationError(
                    self.env._("%(email)s is already the main email address of this contact.", email=address.email)
                )
