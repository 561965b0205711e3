from odoo import api, fields, models

SECRET_PARAM = "crm_mail_sync.microsoft_client_secret"  # noqa: S105 - a parameter key, not a secret
GOOGLE_SECRET_PARAM = "crm_mail_sync.google_client_secret"  # noqa: S105 - a parameter key, not a secret


class ResConfigSettings(models.TransientModel):
    """The Microsoft Entra app registration used for "Sign in with Microsoft",
    and the Google OAuth client used for "Sign in with Google" (administrators
    only). Client secrets are stored encrypted in system parameters, bound to
    the parameter's key."""

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
        compute="_compute_client_secrets",
        inverse="_inverse_crm_mail_sync_microsoft_client_secret",
        help="Stored encrypted; never shown again once saved.",
    )
    crm_mail_sync_microsoft_client_secret_set = fields.Boolean(compute="_compute_client_secrets_set")
    crm_mail_sync_google_client_id = fields.Char("Google Client ID", config_parameter="crm_mail_sync.google_client_id")
    crm_mail_sync_google_client_secret = fields.Char(
        "Google Client Secret",
        compute="_compute_client_secrets",
        inverse="_inverse_crm_mail_sync_google_client_secret",
        help="Stored encrypted; never shown again once saved.",
    )
    crm_mail_sync_google_client_secret_set = fields.Boolean(compute="_compute_client_secrets_set")

    def _compute_client_secrets(self):
        # A secret never reads back.
        self.crm_mail_sync_microsoft_client_secret = False
        self.crm_mail_sync_google_client_secret = False

    @api.depends_context("uid")
    def _compute_client_secrets_set(self):
        params = self.env["ir.config_parameter"].sudo()
        self.crm_mail_sync_microsoft_client_secret_set = bool(params.get_param(SECRET_PARAM))
        self.crm_mail_sync_google_client_secret_set = bool(params.get_param(GOOGLE_SECRET_PARAM))

    def _inverse_crm_mail_sync_microsoft_client_secret(self):
        for settings in self:
            settings._store_client_secret(SECRET_PARAM, settings.crm_mail_sync_microsoft_client_secret)

    def _inverse_crm_mail_sync_google_client_secret(self):
        for settings in self:
            settings._store_client_secret(GOOGLE_SECRET_PARAM, settings.crm_mail_sync_google_client_secret)

    def _store_client_secret(self, param, value):
        if value:
            self.env["ir.config_parameter"].sudo().set_param(param, self._secret_box().encrypt(value, param))

    @api.model
    def _client_secret(self, param):
        token = self.env["ir.config_parameter"].sudo().get_param(param)
        return self._secret_box().decrypt(token, param) if token else ""

    @api.model
    def _crm_mail_sync_microsoft_client_secret(self):
        return self._client_secret(SECRET_PARAM)

    @api.model
    def _crm_mail_sync_google_client_secret(self):
        return self._client_secret(GOOGLE_SECRET_PARAM)
