from odoo import api, fields, models

SECRET_PARAM = "crm_mail_sync.microsoft_client_secret"  # noqa: S105 - a parameter key, not a secret
GOOGLE_SECRET_PARAM = "crm_mail_sync.google_client_secret"  # noqa: S105 - a parameter key, not a secret


class ResConfigSettings(models.TransientModel):
    """The Microsoft Entra app registration used for "Sign in with Microsoft",
    and the Google OAuth client used for "Sign in with Google" (administrators
    only). Client secrets are stored encrypted."""

    _name = "res.config.settings"
    _inherit = ["res.config.settings", "crm.mail.secret.mixin"]

    crm_mail_sync_microsoft_tenant_id = fields.Char(
        "Microsoft Tenant ID", config_parameter="crm_mail_sync.microsoft_tenant_id"
    )
    crm_mail_sync_microsoft_client_id = fields.Char(
        "Microsoft Client ID", config_parameter="crm_mail_sync.microsoft_client_id"
    )
    crm_mail_sync_microsoft_client_secret = fields.Char(
        "Microsoft Client Secret",
        compute="_compute_crm_mail_sync_microsoft_client_secret",
        inverse="_inverse_crm_mail_sync_microsoft_client_secret",
        help="Stored encrypted; never shown again once saved.",
    )
    crm_mail_sync_microsoft_client_secret_set = fields.Boolean(compute="_compute_crm_mail_sync_microsoft_client_secret")

    @api.depends_context("uid")
    def _compute_crm_mail_sync_microsoft_client_secret(self):
        is_set = bool(self.env["ir.config_parameter"].sudo().get_param(SECRET_PARAM))
        for settings in self:
            settings.crm_mail_sync_microsoft_client_secret = False
            settings.crm_mail_sync_microsoft_client_secret_set = is_set

    def _inverse_crm_mail_sync_microsoft_client_secret(self):
        for settings in self:
            if settings.crm_mail_sync_microsoft_client_secret:
                token = self._secret_box().encrypt(settings.crm_mail_sync_microsoft_client_secret, SECRET_PARAM)
                self.env["ir.config_parameter"].sudo().set_param(SECRET_PARAM, token)

    @api.model
    def _crm_mail_sync_microsoft_client_secret(self):
        token = self.env["ir.config_parameter"].sudo().get_param(SECRET_PARAM)
        return self._secret_box().decrypt(token, SECRET_PARAM) if token else ""

    crm_mail_sync_google_client_id = fields.Char("Google Client ID", config_parameter="crm_mail_sync.google_client_id")
    crm_mail_sync_google_client_secret = fields.Char(
        "Google Client Secret",
        compute="_compute_crm_mail_sync_google_client_secret",
        inverse="_inverse_crm_mail_sync_google_client_secret",
        help="Stored encrypted; never shown again once saved.",
    )
    crm_mail_sync_google_client_secret_set = fields.Boolean(compute="_compute_crm_mail_sync_google_client_secret_set")

    def _compute_crm_mail_sync_google_client_secret(self):
        self.crm_mail_sync_google_client_secret = False

    @api.depends_context("uid")
    def _compute_crm_mail_sync_google_client_secret_set(self):
        self.crm_mail_sync_google_client_secret_set = bool(
            self.env["ir.config_parameter"].sudo().get_param(GOOGLE_SECRET_PARAM)
        )

    def _inverse_crm_mail_sync_google_client_secret(self):
        for settings in self:
            if settings.crm_mail_sync_google_client_secret:
                token = self._secret_box().encrypt(settings.crm_mail_sync_google_client_secret, GOOGLE_SECRET_PARAM)
                self.env["ir.config_parameter"].sudo().set_param(GOOGLE_SECRET_PARAM, token)

    @api.model
    def _crm_mail_sync_google_client_secret(self):
        token = self.env["ir.config_parameter"].sudo().get_param(GOOGLE_SECRET_PARAM)
        return self._secret_box().decrypt(token, GOOGLE_SECRET_PARAM) if token else ""
