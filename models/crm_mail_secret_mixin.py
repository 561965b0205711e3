import os

from odoo import api, models
from odoo.exceptions import AccessError, UserError
from odoo.tools import SQL, config

from ..mailsync import secrets

KEY_OPTION = "crm_mail_sync_key"
KEY_ENV = "CRM_MAIL_SYNC_KEY"
KEY_COMMAND = 'python3 -c "import base64, secrets; print(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode())"'


MIXIN = "crm.mail.secret.mixin"
SECRET_SUFFIX = "_secret"  # noqa: S105 - a field name suffix, not a secret


class EncryptionKeyError(UserError):
    """The encryption key configuration is wrong: no key, an invalid key, or a
    secret stored under a key that is no longer configured. An administrator's
    configuration problem, never a user's wrong password: the sync does not
    count it as a failed sign-in (see ``crm.mail.account._sync``)."""


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
            raise EncryptionKeyError(
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
            raise EncryptionKeyError(
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

    # The write-only ``<name>`` field of a secret and its ``<name>_set`` flag:
    # a model's compute and inverse methods call these with the name.
    def _secret_input_empty(self, field_name):
        """Compute of ``<field_name>``: always empty (a secret never reads back)."""
        self[field_name] = False

    def _secret_saved(self, field_name):
        """Compute of ``<field_name>_set``: whether an encrypted secret is stored."""
        for record in self:
            record[f"{field_name}_set"] = bool(record.sudo()[f"{field_name}{SECRET_SUFFIX}"])

    def _secret_input_store(self, field_name):
        """Inverse of ``<field_name>``: what was typed is encrypted into
        ``<field_name>_secret``; left empty, the stored secret stays."""
        for record in self.filtered(field_name):
            record._set_secret(field_name, record[field_name])

    def _get_secret(self, field_name):
        """The clear secret, for the engine only: never returned to a client."""
        self.ensure_one()
        token = self.sudo()[f"{field_name}_secret"]
        if not token:
            return ""
        label = (self._fields.get(field_name) or self._fields[f"{field_name}_secret"]).string
        try:
            return self._secret_box().decrypt(token, self._secret_context(field_name))
        except secrets.UnknownKey:
            raise EncryptionKeyError(
                self.env._(
                    "The stored %(field)s of %(record)s was encrypted with an encryption key that is no "
                    "longer configured. An administrator must put that key back in the option %(option)s "
                    "(after the current key) and restart Odoo, or the secret must be entered again.",
                    field=label,
                    record=self.display_name,
                    option=KEY_OPTION,
                )
            ) from None
        except secrets.DecryptionFailed:
            raise UserError(
                self.env._(
                    "The stored %(field)s of %(record)s cannot be decrypted: the encryption key "
                    "changed. Enter it again.",
                    field=label,
                    record=self.display_name,
                )
            ) from None

    # -- every stored secret: status and re-encryption ---------------------
    @api.model
    def _secret_columns(self):
        """The stored secrets of every model that uses this mixin:
        ``[(model name, field name)]`` where the field ``<field name>_secret``
        is a stored column (transient models excluded)."""
        found, todo, seen = [], [MIXIN], set()
        while todo:
            name = todo.pop()
            if name in seen or name not in self.env.registry:
                continue
            seen.add(name)
            Model = self.env.registry[name]
            todo.extend(Model._inherit_children)
            if Model._abstract or Model._transient or not Model._auto:
                continue
            for field_name, field in Model._fields.items():
                if field_name.endswith(SECRET_SUFFIX) and field.store and field.type == "char":
                    found.append((name, field_name[: -len(SECRET_SUFFIX)]))
        return sorted(found)

    @api.model
    def _stored_secrets(self):
        """Every stored secret: ``[(model, record id or None, field name or
        system parameter, token)]``. Reads the columns directly (as
        ciphertext); system parameters come from
        ``res.config.settings._crm_mail_sync_secret_params()``."""
        self.env.flush_all()
        stored = []
        for model_name, field_name in self._secret_columns():
            Model = self.env[model_name]
            column = f"{field_name}{SECRET_SUFFIX}"
            rows = self.env.execute_query(
                SQL(
                    "SELECT id, %s FROM %s WHERE %s IS NOT NULL AND %s != '' ORDER BY id",
                    SQL.identifier(column),
                    SQL.identifier(Model._table),
                    SQL.identifier(column),
                    SQL.identifier(column),
                )
            )
            stored += [(model_name, record_id, field_name, token) for record_id, token in rows]
        params = self.env["ir.config_parameter"].sudo()
        for param in self.env["res.config.settings"]._crm_mail_sync_secret_params():
            token = params.get_param(param)
            if token:
                stored.append(("ir.config_parameter", None, param, token))
        return stored

    @api.model
    def _encryption_key_error(self):
        """The one configuration error administrators see (settings page and
        mailbox list), or False: no valid key configured, or stored secrets
        that the configured keys cannot decrypt (a key was removed or
        changed). Lists what is affected, never a secret or a key."""
        try:
            box = self._secret_box()
        except EncryptionKeyError as error:
            return error.args[0]
        affected = {}
        for model_name, record_id, name, token in self._stored_secrets():
            if record_id is None:
                try:
                    box.decrypt(token, name)  # few and shared by every mailbox: checked in full
                    continue
                except secrets.DecryptionFailed:
                    label = self.env["res.config.settings"]._crm_mail_sync_secret_param_label(name)
                    affected.setdefault(label, set()).add(name)
            elif not box.knows(token):
                label = self.env["ir.model"]._get(model_name).name
                affected.setdefault(label, set()).add(record_id)
        if not affected:
            return False
        return self.env._(
            "Stored mail secrets cannot be decrypted with the configured encryption keys: %(affected)s. "
            "A key was removed or changed: put it back in the option %(option)s (after the current key) "
            "and restart Odoo, then click “Re-encrypt Secrets”; or enter these secrets again. "
            "Mailboxes that need them are not synced meanwhile (they are not paused).",
            affected=", ".join(f"{label} ({len(ids)})" for label, ids in sorted(affected.items())),
            option=KEY_OPTION,
        )

    @api.model
    def _reencrypt_secrets(self):
        """Re-encrypt every stored secret (mailbox passwords and tokens,
        outgoing server passwords, client secrets) with the first configured
        key, so that the other keys can be removed from the configuration.

        Returns the counts ``{"reencrypted": n, "current": n, "failed": n}``:
        re-encrypted now, already under the first key, and not decryptable
        with any configured key (left as they are: they must be entered
        again, or their key put back before running this again).

        :raises AccessError: not an administrator
        :raises EncryptionKeyError: no valid key is configured
        """
        if not (self.env.su or self.env.user._is_system()):
            raise AccessError(self.env._("Only an administrator can re-encrypt the stored mail secrets."))
        box = self._secret_box()
        counts = {"reencrypted": 0, "current": 0, "failed": 0}
        params = self.env["ir.config_parameter"].sudo()
        for model_name, record_id, name, token in self._stored_secrets():
            if not box.needs_rotation(token):
                counts["current"] += 1
                continue
            context = name if record_id is None else f"{model_name},{record_id},{name}"
            try:
                fresh = box.rotate(token, context)
            except secrets.DecryptionFailed:
                counts["failed"] += 1
                continue
            if record_id is None:
                params.set_param(name, fresh)
            else:
                Model = self.env[model_name]
                column = f"{name}{SECRET_SUFFIX}"
                # Only if unchanged meanwhile (e.g. a token refreshed by the sync).
                self.env.execute_query(
                    SQL(
                        "UPDATE %s SET %s = %s WHERE id = %s AND %s = %s",
                        SQL.identifier(Model._table),
                        SQL.identifier(column),
                        fresh,
                        record_id,
                        SQL.identifier(column),
                        token,
                    )
                )
                Model.invalidate_model([column])
            counts["reencrypted"] += 1
        return counts
