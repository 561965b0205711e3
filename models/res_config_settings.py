import urllib.parse

from odoo import api, fields, models

from ..mailsync import secrets
from .crm_mail_secret_mixin import KEY_OPTION, EncryptionKeyError

SECRET_PARAM = "crm_mail_sync.microsoft_client_secret"  # noqa: S105 - a parameter key, not a secret
GOOGLE_SECRET_PARAM = "crm_mail_sync.google_client_secret"  # noqa: S105 - a parameter key, not a secret
# Where Odoo's own Outlook (microsoft_outlook) and Gmail (google_gmail) integrations keep their
# OAuth client (system parameters, see their res_config_settings.py): used when ours is empty.
ODOO_OAUTH_PARAMS = {
    "microsoft": ("microsoft_outlook_client_id", "microsoft_outlook_client_secret"),
    "google": ("google_gmail_client_id", "google_gmail_client_secret"),
}
# Odoo's Outlook sign-in endpoint: https://login.microsoftonline.com/<tenant>/oauth2/v2.0/
ODOO_OUTLOOK_ENDPOINT_PARAM = "microsoft_outlook.endpoint"


def _client_secret(label, provider):
    """The write-only field of ``provider``'s OAuth client secret."""
    return fields.Char(
        label,
        compute="_compute_client_secrets",
        inverse=f"_inverse_crm_mail_sync_{provider}_client_secret",
        help="Stored encrypted; never shown again once saved.",
    )


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
    crm_mail_sync_microsoft_client_secret = _client_secret("Microsoft Client Secret", "microsoft")
    crm_mail_sync_microsoft_client_secret_set = fields.Boolean(compute="_compute_client_secrets_set")
    crm_mail_sync_google_client_id = fields.Char("Google Client ID", config_parameter="crm_mail_sync.google_client_id")
    crm_mail_sync_google_client_secret = _client_secret("Google Client Secret", "google")
    crm_mail_sync_google_client_secret_set = fields.Boolean(compute="_compute_client_secrets_set")
    crm_mail_sync_key_error = fields.Text("Encryption Key Error", compute="_compute_crm_mail_sync_key_error")

    @api.depends_context("uid")
    def _compute_crm_mail_sync_key_error(self):
        error = self.env["crm.mail.secret.mixin"]._encryption_key_error() if self.env.user._is_system() else False
        self.crm_mail_sync_key_error = error

    # Which app registration the sign-ins use: ours ("own"), Odoo's Outlook/Gmail one ("odoo"), none.
    crm_mail_sync_microsoft_app_source = fields.Selection(
        [("own", "Mail Sync"), ("odoo", "Odoo"), ("none", "None")], compute="_compute_oauth_app_sources"
    )
    crm_mail_sync_google_app_source = fields.Selection(
        [("own", "Mail Sync"), ("odoo", "Odoo"), ("none", "None")], compute="_compute_oauth_app_sources"
    )

    @api.depends_context("uid")
    def _compute_oauth_app_sources(self):
        self.crm_mail_sync_microsoft_app_source = self._crm_mail_sync_oauth_app("microsoft", decrypt=False)["source"]
        self.crm_mail_sync_google_app_source = self._crm_mail_sync_oauth_app("google", decrypt=False)["source"]

    @api.model
    def _crm_mail_sync_oauth_app(self, provider, decrypt=True):
        """The OAuth client that "Sign in with <provider>" uses, provider "microsoft" or "google".

        Ours (CRM settings, Mail Sync) when its client ID and secret are both set; else the one
        of Odoo's own Outlook or Gmail integration (system parameters of ODOO_OAUTH_PARAMS,
        stored by Odoo in clear, as Odoo does), so an administrator configures a provider once.
        Returns a dict: client_id, client_secret ("" unless decrypt), tenant (Microsoft: ours,
        else the tenant of Odoo's Outlook endpoint, else "common"), source ("own", "odoo" or
        "none"). Raises nothing; decrypting our secret may raise UserError (no key).
        """
        params = self.env["ir.config_parameter"].sudo()
        secret_param = SECRET_PARAM if provider == "microsoft" else GOOGLE_SECRET_PARAM
        tenant = ""
        if provider == "microsoft":
            tenant = params.get_param("crm_mail_sync.microsoft_tenant_id") or ""
        client_id = params.get_param(f"crm_mail_sync.{provider}_client_id")
        if client_id and params.get_param(secret_param) and (tenant or provider == "google"):
            secret = self._client_secret(secret_param) if decrypt else ""
            return {"client_id": client_id, "client_secret": secret, "tenant": tenant, "source": "own"}
        odoo_id_param, odoo_secret_param = ODOO_OAUTH_PARAMS[provider]
        client_id, secret = params.get_param(odoo_id_param), params.get_param(odoo_secret_param)
        if client_id and secret:
            if provider == "microsoft" and not tenant:
                endpoint = params.get_param(ODOO_OUTLOOK_ENDPOINT_PARAM) or ""
                tenant = urllib.parse.urlsplit(endpoint).path.strip("/").split("/")[0] or "common"
            return {"client_id": client_id, "client_secret": secret, "tenant": tenant, "source": "odoo"}
        return {"client_id": "", "client_secret": "", "tenant": tenant, "source": "none"}

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
    def _crm_mail_sync_secret_params(self):
        """The system parameters holding encrypted secrets (see
        ``crm.mail.secret.mixin._stored_secrets``)."""
        return [SECRET_PARAM, GOOGLE_SECRET_PARAM]

    @api.model
    def _crm_mail_sync_secret_param_label(self, param):
        field = {
            SECRET_PARAM: "crm_mail_sync_microsoft_client_secret",
            GOOGLE_SECRET_PARAM: "crm_mail_sync_google_client_secret",
        }.get(param)
        return self._fields[field]._description_string(self.env) if field else param

    @api.model
    def _client_secret(self, param):
        """The clear client secret stored in ``param``, or "".

        :raises EncryptionKeyError: it cannot be decrypted (its key is no
            longer configured, or it was altered): a configuration error
        """
        token = self.env["ir.config_parameter"].sudo().get_param(param)
        if not token:
            return ""
        try:
            return self._secret_box().decrypt(token, param)
        except secrets.DecryptionFailed:
            raise EncryptionKeyError(
                self.env._(
                    "The stored %(field)s cannot be decrypted with the configured encryption keys. An "
                    "administrator must put its key back in the option %(option)s (after the current key) "
                    "and restart Odoo, or enter the secret again in CRM settings, under Mail Sync.",
                    field=self._crm_mail_sync_secret_param_label(param),
                    option=KEY_OPTION,
                )
            ) from None

    def action_crm_mail_sync_reencrypt(self):
        """Re-encrypt every stored mail secret with the first key; say how many."""
        counts = self.env["crm.mail.secret.mixin"]._reencrypt_secrets()
        message = self.env._(
            "%(reencrypted)s stored secrets re-encrypted with the first key, %(current)s already were.",
            reencrypted=counts["reencrypted"],
            current=counts["current"],
        )
        if counts["failed"]:
            message += " " + self.env._(
                "%(failed)s cannot be decrypted with the configured keys: put their key back and run this "
                "again, or enter them again. Keep the other keys until then.",
                failed=counts["failed"],
            )
        else:
            message += " " + self.env._(
                "Every stored secret is now under the first key: the other keys can be removed from the "
                "option %(option)s.",
                option=KEY_OPTION,
            )
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "message": message,
                "type": "warning" if counts["failed"] else "success",
                "sticky": True,
                "next": {"type": "ir.actions.client", "tag": "reload"},
            },
        }

    @api.model
    def _crm_mail_sync_microsoft_client_secret(self):
        return self._client_secret(SECRET_PARAM)

    @api.model
    def _crm_mail_sync_google_client_secret(self):
        return self._client_secret(GOOGLE_SECRET_PARAM)
