from functools import partial

from odoo import api, models


class IrRule(models.Model):
    _inherit = "ir.rule"

    @api.model
    def _eval_context(self):
        """Adds ``crm_mail_sharing_domain([company_ids])``: who may see a logged
        email (``crm.mail.interaction._sharing_domain``), and
        ``crm_mail_sharer_domain()``: which of its sharers let them
        (``crm.mail.interaction.share._visible_domain``), so that the rules of
        security/crm_mail_interaction_security.xml share one definition. It
        depends only on the user and the companies, like the rest of the
        context, so Odoo's cache of rule domains stays right."""
        context = super()._eval_context()
        context["crm_mail_sharing_domain"] = partial(
            self.env["crm.mail.interaction"].sudo()._sharing_domain, context["user"]
        )
        context["crm_mail_sharer_domain"] = partial(
            self.env["crm.mail.interaction.share"].sudo()._visible_domain, context["user"]
        )
        context["crm_mail_message_domain"] = partial(
            self.env["crm.mail.interaction"].sudo()._message_visible_domain, context["user"]
        )
        return context
