from odoo import api, fields, models

from ..mailsync.addresses import normalize


class CrmMailMatchedMixin(models.AbstractModel):
    """What contacts and opportunities share as the records logged email is
    matched to: their address's matching key (``mail_match_key``, from
    :func:`mailsync.addresses.normalize`, searched by
    ``crm.mail.interaction._match``) and their logged emails (the *Emails*
    smart button: count and list).

    A model using it names its email field in ``_primary_email`` (as for
    ``mail.thread.blacklist``) and the field of ``crm.mail.interaction`` that
    links an email to it in ``_crm_mail_interaction_link``."""

    _name = "crm.mail.matched.mixin"
    _description = "Matched by Logged Email"
    _primary_email = "email"
    _crm_mail_interaction_link = None

    mail_match_key = fields.Char(
        compute="_compute_mail_match_key",
        store=True,
        index=True,
        help="Main email address, normalised for matching.",
    )
    crm_mail_interaction_count = fields.Integer("Emails", compute="_compute_crm_mail_interaction_count")

    @api.depends(lambda self: [self._primary_email])
    def _compute_mail_match_key(self):
        for record in self:
            record.mail_match_key = normalize(record[self._primary_email])

    def _crm_mail_interaction_domain(self):
        """The logged emails of these records (that the reader may see: the record rules apply)."""
        return [(self._crm_mail_interaction_link, "in", self.ids)]

    @api.depends_context("uid")
    def _compute_crm_mail_interaction_count(self):
        link = self._crm_mail_interaction_link
        counts = dict(
            self.env["crm.mail.interaction"]._read_group(self._crm_mail_interaction_domain(), [link], ["__count"])
        )
        for record in self:
            record.crm_mail_interaction_count = counts.get(record._origin, 0)

    def action_open_crm_mail_interactions(self):
        self.ensure_one()
        return self.env["crm.mail.interaction"]._action_open(self._crm_mail_interaction_domain(), self)
