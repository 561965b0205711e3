from odoo import api, models
from odoo.exceptions import UserError

# Saving any of these sends the test email again.
SMTP_SETTINGS = frozenset(
    {
        "smtp_host",
        "smtp_port",
        "smtp_authentication",
        "smtp_user",
        "smtp_pass",
        "smtp_encryption",
        "smtp_ssl_certificate",
        "smtp_ssl_private_key",
        "from_filter",
        "active",
    }
)


class IrMailServer(models.Model):
    """Every save of outgoing (SMTP) settings sends a real test email to the
    user who saves, at the address of their user (which they cannot redirect),
    and shows the result. Settings that cannot send are refused with the
    server's reason, and nothing is saved."""

    _inherit = "ir.mail_server"

    @api.model_create_multi
    def create(self, vals_list):
        servers = super().create(vals_list)
        servers._send_settings_test_email()
        return servers

    def write(self, vals):
        result = super().write(vals)
        if SMTP_SETTINGS & vals.keys():
            self._send_settings_test_email()
        return result

    def _send_settings_test_email(self):
        if self.env.context.get("install_mode") or self.pool._init:
            return  # data files of other modules, not a person saving settings
        servers = self.filtered("active")
        if not servers:
            return
        user = self.env.user
        if not user.email:
            raise UserError(
                self.env._(
                    "Every save of an outgoing mail server sends a test email to you: set your email "
                    "address in your preferences first."
                )
            )
        for server in servers:
            message = self._build_email__(
                email_from=server._get_test_email_from(),
                email_to=[user.email_formatted],
                subject=self.env._("Odoo test email: outgoing server “%(server)s”", server=server.name),
                body=self.env._(
                    "This test email was sent because the outgoing mail server “%(server)s” was "
                    "saved. It reached you: the settings work.",
                    server=server.name,
                ),
            )
            try:
                self.send_email(message, mail_server_id=server.id)
            except Exception as error:  # noqa: BLE001 - any failure refuses the settings
                reason = getattr(error, "args", [str(error)])[0] or str(error)
                raise UserError(
                    self.env._(
                        "The outgoing mail server “%(server)s” could not send the test email to "
                        "%(email)s, so the settings were not saved. Reason: %(reason)s",
                        server=server.name,
                        email=user.email,
                        reason=reason,
                    )
                ) from None
        user._bus_send(
            "simple_notification",
            {
                "type": "success",
                "message": self.env._("Settings saved. A test email was sent to %(email)s.", email=user.email),
            },
        )
