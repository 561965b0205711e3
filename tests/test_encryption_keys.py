"""Issue 11, item 3: encryption keys are configuration. A lost or rotated-away
key is one error for the administrators, never the owners' failed sign-ins;
the cron goes on with what it can decrypt; re-encryption retires old keys.
Real Dovecot; the cron's commits are savepoints (see test_mailbox_sync)."""

import contextlib
import io
import os
import re
from unittest.mock import patch

from odoo import fields
from odoo.exceptions import AccessError
from odoo.tests import tagged
from odoo.tools import mute_logger

from odoo.addons.crm_mail_sync.mailsync import secrets
from odoo.addons.crm_mail_sync.mailsync.imap_sync import SyncState
from odoo.addons.crm_mail_sync.mailsync.testing import ALICE, BOB
from odoo.addons.crm_mail_sync.models import crm_mail_account_sync as sync_module
from odoo.addons.crm_mail_sync.models.crm_mail_secret_mixin import KEY_ENV, EncryptionKeyError
from odoo.addons.crm_mail_sync.models.res_config_settings import GOOGLE_SECRET_PARAM, SECRET_PARAM

from .common import MailSyncCase, Transactions
from .mail_samples import raw_email

CUSTOMER = "bea@customer.example"


@tagged("post_install", "-at_install")
class TestEncryptionKeys(MailSyncCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.admin = cls.env.ref("base.user_admin")
        cls.env["res.partner"].create({"name": "Bea Buyer", "email": CUSTOMER})
        # Everything below is encrypted with the key of the class (cls.encryption_key).
        cls.alice_box = cls.Account.create(cls.imap_values(user_id=cls.salesman.id))
        cls.bob_box = cls.Account.create(cls.imap_values(BOB[0], BOB[1], user_id=cls.colleague.id))
        cls.microsoft_box = cls.Account.create(
            cls.imap_values("ms@ourcompany.example", False, user_id=cls.colleague.id, auth_method="oauth_microsoft")
        )
        cls.microsoft_box._set_secret("oauth_refresh_token", "refresh-token")
        # Already synced once: the cron polls it before syncing anything.
        cls.microsoft_box.sudo().write(
            {"sync_state": SyncState().to_json(), "last_sync": fields.Datetime.now(), "oauth_expires_at": 0}
        )
        (cls.alice_box | cls.bob_box | cls.microsoft_box).sudo().state = "connected"
        params = cls.env["ir.config_parameter"].sudo()
        params.set_param("crm_mail_sync.microsoft_tenant_id", "contoso.example")
        params.set_param("crm_mail_sync.microsoft_client_id", "app-id")
        cls.env["res.config.settings"].create(
            {"crm_mail_sync_microsoft_client_secret": "app-secret", "crm_mail_sync_google_client_secret": "g-secret"}
        ).execute()
        cls.server = (
            cls.env["ir.mail_server"]
            .with_context(install_mode=True)  # no test email: there is no SMTP server here
            .create({"name": "Company SMTP", "smtp_host": "127.0.0.1", "smtp_user": "company", "smtp_pass": "smtp-pw"})
        )

    def setUp(self):
        super().setUp()
        for login in (ALICE[0], BOB[0]):
            self.dovecot.clear(login)
        self.transactions = Transactions.patch(self)

    def keys(self, *keys):
        """The encryption keys an administrator configured, first = current."""
        return patch.dict(os.environ, {KEY_ENV: ",".join(keys)})

    def run_cron(self):
        (self.alice_box | self.bob_box | self.microsoft_box).sudo().next_sync = fields.Datetime.now()
        with mute_logger(sync_module.__name__):  # the key error is logged as a warning: expected
            self.Account._cron_sync()

    def owner_mail(self):
        partners = (self.salesman | self.colleague).partner_id
        return self.env["mail.mail"].sudo().search([("recipient_ids", "in", partners.ids)])

    def test_key_loss_during_the_cron_is_one_admin_error_and_no_mailbox_is_paused(self):
        new_key = secrets.generate_key()
        with self.keys(new_key):  # the old key is gone from the configuration
            # Alice typed her password again, under the new key; Bob did not.
            self.alice_box.imap_password = ALICE[1]
            # The Microsoft mailbox signed in again, but the client secret is still under the old key.
            self.microsoft_box._set_secret("oauth_refresh_token", "refresh-token")
            self.dovecot.append(ALICE[0], "INBOX", raw_email(CUSTOMER, ALICE[0], subject="Order"))
            self.dovecot.append(BOB[0], "INBOX", raw_email(CUSTOMER, BOB[0], subject="For Bob"))
            for _run in range(sync_module.PAUSE_AFTER_AUTH_FAILURES + 1):
                self.run_cron()

            logged = self.env["crm.mail.interaction"].sudo().search([("account_id", "=", self.alice_box.id)])
            self.assertEqual(logged.mapped("subject"), ["Order"], "the mailbox it can decrypt is synced")
            self.assertEqual(self.alice_box.state, "connected")
            for box in (self.bob_box, self.microsoft_box):
                self.assertEqual(
                    (box.state, box.sync_failures, box.sync_paused, box.last_error),
                    ("connected", 0, False, False),
                    f"{box.email}: not the owner's failed sign-in",
                )
                self.assertGreater(box.next_sync, fields.Datetime.now(), "retried at the usual interval")
            self.assertFalse(self.owner_mail(), "no owner is told their credentials are wrong")

            banner = self.Account.with_user(self.admin).crm_mail_sync_key_banner()
            self.assertIn("Connected Mailbox (1)", banner["message"], "Bob's mailbox")
            self.assertIn("Microsoft Client Secret (1)", banner["message"])
            self.assertIn("crm_mail_sync_key", banner["message"])
            settings = self.env["res.config.settings"].with_user(self.admin).create({})
            self.assertEqual(settings.crm_mail_sync_key_error, banner["message"], "the same one error")
            self.assertFalse(self.Account.with_user(self.salesman).crm_mail_sync_key_banner(), "administrators only")

            # The old key back (after the new one): the next run syncs Bob.
            with self.keys(new_key, self.encryption_key):
                self.assertFalse(self.Account.with_user(self.admin).crm_mail_sync_key_banner())
                self.bob_box.sudo().next_sync = fields.Datetime.now()
                self.Account._cron_sync()
            logged = self.env["crm.mail.interaction"].sudo().search([("account_id", "=", self.bob_box.id)])
            self.assertEqual(logged.mapped("subject"), ["For Bob"])

    def test_no_key_at_all_is_the_admin_error_and_pauses_nobody(self):
        with self.keys(""):
            self.run_cron()
            for box in (self.alice_box, self.bob_box, self.microsoft_box):
                self.assertEqual((box.state, box.sync_failures, box.sync_paused), ("connected", 0, False))
            banner = self.Account.with_user(self.admin).crm_mail_sync_key_banner()
            self.assertIn("No encryption key is configured", banner["message"])
            with self.assertRaises(EncryptionKeyError):
                self.bob_box._get_secret("imap_password")

    def test_rotation_add_a_first_key_reencrypt_remove_the_old_one(self):
        old_key, new_key = self.encryption_key, secrets.generate_key()
        Mixin = self.env["crm.mail.secret.mixin"]
        with self.keys(new_key, old_key):
            stored = len(Mixin._stored_secrets())
            # 2 mailbox passwords, a refresh token, the SMTP password, 2 client secrets.
            self.assertEqual(stored, 6)
            settings = self.env["res.config.settings"].with_user(self.admin).create({})
            notification = settings.action_crm_mail_sync_reencrypt()
            self.assertIn(f"{stored} stored secrets re-encrypted", notification["params"]["message"])
            self.assertIn("the other keys can be removed", notification["params"]["message"])
            self.assertEqual(Mixin._reencrypt_secrets(), {"reencrypted": 0, "current": stored, "failed": 0})
        with self.keys(new_key):  # the old key removed
            self.assertFalse(Mixin._encryption_key_error())
            self.assertEqual(self.alice_box._get_secret("imap_password"), ALICE[1])
            self.assertEqual(self.microsoft_box._get_secret("oauth_refresh_token"), "refresh-token")
            self.assertEqual(self.server._get_secret("smtp_pass"), "smtp-pw")
            Settings = self.env["res.config.settings"]
            self.assertEqual(Settings._client_secret(SECRET_PARAM), "app-secret")
            self.assertEqual(Settings._client_secret(GOOGLE_SECRET_PARAM), "g-secret")
            self.dovecot.append(ALICE[0], "INBOX", raw_email(CUSTOMER, ALICE[0], subject="After rotation"))
            self.run_cron()
            self.assertEqual(self.alice_box.state, "connected", self.alice_box.last_error)
        self.assertTrue(self.env["crm.mail.interaction"].sudo().search([("subject", "=", "After rotation")]))

    def test_reencrypt_reports_what_no_configured_key_decrypts_and_leaves_it(self):
        new_key = secrets.generate_key()
        with self.keys(new_key):  # the old key was lost before re-encrypting
            self.alice_box.imap_password = ALICE[1]
            before = self.bob_box.sudo().imap_password_secret
            Mixin = self.env["crm.mail.secret.mixin"]
            stored = len(Mixin._stored_secrets())
            counts = Mixin._reencrypt_secrets()
            self.assertEqual(counts, {"reencrypted": 0, "current": 1, "failed": stored - 1}, "1: Alice's new password")
            self.assertEqual(self.bob_box.sudo().imap_password_secret, before, "left for its key to come back")
            message = self.env["res.config.settings"].create({}).action_crm_mail_sync_reencrypt()["params"]["message"]
            self.assertIn("cannot be decrypted with the configured keys", message)

    def test_only_an_administrator_reencrypts(self):
        with self.assertRaises(AccessError):
            self.env["crm.mail.secret.mixin"].with_user(self.salesman)._reencrypt_secrets()

    def test_the_documented_shell_one_liner_reencrypts(self):
        """The ``odoo-bin shell`` one-liner of the README, run as the shell runs
        it (``env`` as superuser; its commit is the test's savepoint)."""
        readme = os.path.join(os.path.dirname(__file__), os.pardir, "README.md")
        with open(readme, encoding="utf-8") as file:
            one_liner = re.search(r"echo '(.+?)'", file.read()).group(1)
        self.assertIn("_reencrypt_secrets()", one_liner)
        printed = io.StringIO()
        with (
            self.keys(secrets.generate_key(), self.encryption_key),
            patch.object(self.env.cr, "commit", lambda: None),
            contextlib.redirect_stdout(printed),
        ):
            exec(one_liner, {"env": self.env})  # noqa: S102 - the documented command itself
        self.assertRegex(printed.getvalue(), r"\{'reencrypted': 6, 'current': 0, 'failed': 0\}")
