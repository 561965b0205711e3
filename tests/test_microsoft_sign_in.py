import os
import urllib.parse
from unittest.mock import patch

import requests

from odoo.tests import HttpCase, new_test_user, tagged

from odoo.addons.crm_mail_sync.mailsync import secrets
from odoo.addons.crm_mail_sync.mailsync.testing import ALICE
from odoo.addons.crm_mail_sync.mailsync.testing.dovecot import DovecotServer
from odoo.addons.crm_mail_sync.mailsync.testing.oauth_server import OAuthServer
from odoo.addons.crm_mail_sync.models.crm_mail_secret_mixin import KEY_ENV


@tagged("post_install", "-at_install")
class TestMicrosoftSignIn(HttpCase):
    """Sign in with Microsoft from a mailbox, against a local OAuth 2.0 server
    that speaks Microsoft's endpoints (the real one cannot be reached here),
    then read the mailbox of a real Dovecot over IMAP XOAUTH2."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.startClassPatcher(patch.dict(os.environ, {KEY_ENV: secrets.generate_key()}))
        cls.provider = cls.enterClassContext(OAuthServer(clients={"app-id": "app-secret-value"}, users=[ALICE[0]]))
        cls.dovecot = cls.enterClassContext(
            DovecotServer(users=dict([ALICE]), oauth2_introspection_url=cls.provider.introspection_url)
        )
        params = cls.env["ir.config_parameter"]
        params.set_param("crm_mail_sync.microsoft_authority_host", f"https://localhost:{cls.provider.port}")
        params.set_param("crm_mail_sync.microsoft_authority_cafile", cls.provider.certs.ca_file)
        cls.env["res.config.settings"].create(
            {
                "crm_mail_sync_microsoft_tenant_id": cls.provider.tenant,
                "crm_mail_sync_microsoft_client_id": "app-id",
                "crm_mail_sync_microsoft_client_secret": "app-secret-value",
            }
        ).execute()
        cls.salesman = new_test_user(
            cls.env, login="sam", password="sam-password-1", email=ALICE[0], groups="sales_team.group_sale_salesman"
        )

    def _account(self):
        return (
            self.env["crm.mail.account"]
            .with_user(self.salesman)
            .create(
                {
                    "email": ALICE[0],
                    "auth_method": "oauth_microsoft",
                    "imap_host": self.dovecot.host,
                    "imap_port": self.dovecot.port,
                    "imap_security": "none",
                    "imap_login": ALICE[0],
                }
            )
        )

    def _sign_in(self, account):
        self.authenticate("sam", "sam-password-1")
        start = self.url_open(f"/crm_mail_sync/oauth/microsoft/start?account_id={account.id}", allow_redirects=False)
        self.assertIn(start.status_code, (302, 303))
        consent = requests.get(
            start.headers["Location"], verify=self.provider.certs.ca_file, allow_redirects=False, timeout=10
        )
        callback = urllib.parse.urlsplit(consent.headers["Location"])
        self.assertEqual(callback.path, "/crm_mail_sync/oauth/microsoft")
        done = self.url_open(f"{callback.path}?{callback.query}", allow_redirects=False)
        self.assertIn(f"/{account.id}", done.headers["Location"], "back on the mailbox")

    def test_sign_in_connects_the_mailbox_over_xoauth2(self):
        account = self._account()
        self._sign_in(account)
        account.invalidate_recordset()
        self.assertTrue(account.oauth_connected)
        self.assertEqual(account.state, "connected", account.last_error)
        self.assertIn("xoauth2", self.dovecot.log().lower())

    def test_tokens_and_client_secret_are_encrypted_at_rest(self):
        account = self._account()
        self._sign_in(account)
        self.env.flush_all()
        live_tokens = list(self.provider.access_tokens) + list(self.provider.refresh_tokens)
        self.env.cr.execute("SELECT * FROM crm_mail_account WHERE id = %s", [account.id])
        row = repr(self.env.cr.fetchall())
        self.env.cr.execute("SELECT value FROM ir_config_parameter WHERE key LIKE 'crm_mail_sync.%%'")
        params = repr(self.env.cr.fetchall())
        for token in live_tokens:
            self.assertNotIn(token, row)
        self.assertNotIn("app-secret-value", params)

    def test_revoked_consent_asks_to_sign_in_again(self):
        account = self._account()
        self._sign_in(account)
        self.provider.revoke_all()
        account.sudo().oauth_expires_at = 0  # the access token is due for a refresh
        account.action_test_connection()
        self.assertEqual(account.state, "error")
        self.assertIn("sign in again", account.last_error)

    def test_sign_in_without_an_app_registration_is_explained(self):
        self.env["ir.config_parameter"].set_param("crm_mail_sync.microsoft_client_id", False)
        with self.assertRaisesRegex(Exception, "administrator must enter the tenant ID"):
            self._account().action_microsoft_sign_in()
