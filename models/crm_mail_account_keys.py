from odoo import api, models


class CrmMailAccountKeys(models.Model):
    """The encryption key configuration error, above the mailbox list."""

    _inherit = "crm.mail.account"

    @api.model
    def crm_mail_sync_key_banner(self):
        """For the mailbox list's banner: ``{"message": text, "button":
        label}`` when the encryption keys cannot decrypt what is stored (see
        ``crm.mail.secret.mixin._encryption_key_error``), else False. Only
        administrators are told: anyone else gets False."""
        if not self.env.user._is_system():
            return False
        message = self.env["crm.mail.secret.mixin"]._encryption_key_error()
        if not message:
            return False
        return {"message": message, "button": self.env._("Open Mail Sync Settings")}
