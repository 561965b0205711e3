import urllib.parse

import requests

from odoo.tests import HttpCase, new_test_user, tagged

from odoo.addons.crm_mail_sync.mailsync.testing import ALICE
from odoo.addons.crm_mail_sync.mailsync.testing.dovecot import DovecotServer

from .common import IMAP_TAG, oauth_mailbox_values, use_encryption_key, use_local_microsoft


@tagged("post_install", "-at_install", IMAP_TAG)
class TestMicrosoftSignIn(HttpCase):
    """Sign in with Microsoft from a mailbox, against a local OAuth 2.0 server
    that speaks Microsoft's endpoints (the real one cannot be reached here),
    then read the mailbox of a real Dovecot over IMAP XOAUTH2."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        use_encryption_key(cls)
        cls.provider = use_local_microsoft(cls, ALICE[0], graph=False)
        cls.dovecot = cls.enterClassContext(
            DovecotServer(users=dict([ALICE]), oauth2_introspection_url=cls.provider.introspection_url)
        )
        cls.salesman = new_test_user(
            cls.env, login="sam", password="sam-password-1", email=ALICE[0], groups="sales_team.group_sale_salesman"
        )

    def _account(self):
        return self.env["crm.mail.account"].with_user(self.salesman).create(oauth_mailbox_values(self.dovecot))

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
