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

    @api.model_create_multi
    def create(self, vals_list):
        self._check_partner_writable(self.env["res.partner"].browse(vals["partner_id"] for vals in vals_list))
        return super().create(vals_list)

    def write(self, vals):
        partners = self.partner_id
        if vals.get("partner_id"):
            partners |= self.env["res.partner"].browse(vals["partner_id"])
        self._check_partner_writable(partners)
        return super().write(vals)

    def unlink(self):
        self._check_partner_writable(self.partner_id)
        return super().unlink()

    @api.model
    def _check_partner_writable(self, partners):
        """A secondary address routes the contact's mail: only who may edit the
        contact (its access rights and record rules, companies included) adds,
        changes or removes one. Raises AccessError otherwise."""
        if not self.env.su:
            partners.check_access("write")

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
