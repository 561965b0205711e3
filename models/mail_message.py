from odoo import api, fields, models


class MailMessage(models.Model):
    _inherit = "mail.message"

    # Set on the chatter entries of a logged email. A record rule
    # (security/crm_mail_interaction_security.xml) hides them from whoever may
    # not see the email itself, whatever their access to the contact or lead.
    crm_mail_interaction_id = fields.Many2one(
        "crm.mail.interaction", "Logged Email", index="btree_not_null", ondelete="cascade", readonly=True
    )
    # Copies of the email's sole sharer (when one user's mailboxes share it),
    # widest sharing and company, kept by the ORM (stored related fields): the
    # record rule decides on these columns of mail_message, looking at the
    # email's sharers only when several colleagues share it
    # (crm.mail.interaction._message_visible_domain).
    crm_mail_owner_id = fields.Many2one(related="crm_mail_interaction_id.sole_owner_id", store=True, string="Shared By")
    crm_mail_sharing = fields.Selection(related="crm_mail_interaction_id.sharing", store=True, string="Sharing")
    crm_mail_company_id = fields.Many2one(
        related="crm_mail_interaction_id.company_id", store=True, string="Logged Email Company"
    )

    @api.model
    def _get_with_access(self, message_id, mode="read", **kwargs):
        """Odoo's message routes (``/mail/message/reaction``,
        ``/mail/message/update_content``, ``/mail/thread/recipients``) also
        accept a message when the user may read or write its record, whatever
        the message's own rules: not the chatter entry of a logged email the
        user may not see (security/crm_mail_interaction_security.xml)."""
        message = super()._get_with_access(message_id, mode=mode, **kwargs)
        email = message.sudo().crm_mail_interaction_id
        if email and not email.with_env(self.env)._filtered_access("read"):
            return self.browse()
        return message

    def _extras_to_store(self, store, format_reply):
        """The chatter entries of a logged email carry ``crm_mail_sync``: its
        From/To/Cc block, date, sharers and the actions the store's user may
        take, rendered for that user (``crm.mail.interaction._chatter_display``);
        the web client's Message patch (static/src/message_patch.*) shows them."""
        super()._extras_to_store(store, format_reply=format_reply)
        # sudo: the messages were read by the caller; which emails they carry
        # is then no secret, and _chatter_display checks the user's access.
        logged = self.sudo().filtered("crm_mail_interaction_id")
        if not logged:
            return
        user = store.target.get_user(self.env) or self.env.user
        if user._is_public():
            return
        display = logged.crm_mail_interaction_id._chatter_display(user)
        for message in logged.with_env(self.env):
            data = display.get(message.sudo().crm_mail_interaction_id.id)
            if data:
                store.add(message, {"crm_mail_sync": data})
