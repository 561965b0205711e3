import os

from odoo import api, models
from odoo.exceptions import UserError
from odoo.tools import config

from ..mailsync import secrets

KEY_OPTION = "crm_mail_sync_key"
KEY_ENV = "CRM_MAIL_SYNC_KEY"
KEY_COMMAND = 'python3 -c "import base64, secrets; print(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode())"'


class CrmMailSecretMixin(models.AbstractModel):
    """Secrets (passwords, client secrets, tokens) encrypted at rest.

    A model declares each secret as a pair: a stored ``<name>_secret`` column
    holding the encrypted token (readable by administrators only, and only as
    ciphertext) and a non-stored ``<name>`` field that users write through and
    that always reads back empty, so a secret never returns to a browser.

    The key lives outside the database: the ``crm_mail_sync_key`` option of the
    Odoo configuration file, or the ``CRM_MAIL_SYNC_KEY`` environment variable
    (several comma-separated keys: the first encrypts, all decrypt). Each token
    is bound to its model, record and field, so a copied ciphertext is useless
    elsewhere.
    """

    _name = "crm.mail.secret.mixin"
    _description = "Encrypted Secrets"

    @api.model
    def _secret_box(self):
        key_text = config.get(KEY_OPTION) or os.environ.get(KEY_ENV)
        try:
            return secrets.SecretBox(secrets.load_keys(key_text))
        except secrets.MissingKey:
            raise UserError(
                self.env._(
                    "No encryption key is configured for mail passwords. An administrator must set "
                    "the option %(option)s in the Odoo configuration file (or the environment "
                    "variable %(env)s) to a key made with: %(command)s, then restart Odoo.",
                    option=KEY_OPTION,
                    env=KEY_ENV,
                    command=KEY_COMMAND,
                )
            ) from None
        except secrets.InvalidKey:
            raise UserError(
                self.env._(
                    "The mail encryption key (option %(option)s or variable %(env)s) is not a valid "
                    "key. An administrator must correct it in the Odoo configuration.",
                    option=KEY_OPTION,
                    env=KEY_ENV,
                )
            ) from None

    def _secret_context(self, field_name):
        return f"{self._name},{self.id},{field_name}"

    def _set_secret(self, field_name, value):
        """Encrypt ``value`` into ``<field_name>_secret`` (empty clears it)."""
        box = self._secret_box() if value else None
        for record in self:
            token = box.encrypt(value, record._secret_context(field_name)) if value else False
            record.sudo()[f"{field_name}_secret"] = token

    def _get_secret(self, field_name):
        """The clear secret, for the engine only: never returned to a client."""
        self.ensure_one()
        token = self.sudo()[f"{field_name}_secret"]
        if not token:
            return ""
        try:
            return self._secret_box().decrypt(token, self._secret_context(field_name))
        except secrets.DecryptionFailed:
            raise UserError(
                self.env._(
                    "The stored %(field)s of %(record)s cannot be decrypted: the encryption key "
                    "changed. Enter it again.",
                    field=(self._fields.get(field_name) or self._fields[f"{field_name}_secret"]).string,
                    record=self.display_name,
                )
            ) from None
