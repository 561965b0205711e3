import urllib.parse

import requests

from odoo.exceptions import UserError
from odoo.tests import Form, HttpCase, new_test_user, tagged

from odoo.addons.crm_mail_sync.mailsync.testing import ALICE
from odoo.addons.crm_mail_sync.mailsync.testing.dovecot import DovecotServer

from .common import IMAP_TAG, oauth_mailbox_values, use_encryption_key, use_local_microsoft


@tagged("post_install", "-at_install", IMAP_TAG)
class TestOdooOAuthApps(HttpCase):
    """One place for the OAuth apps: with the app registration of Odoo's own Outlook
    integration (system parameters microsoft_outlook_client_id / _secret, and its endpoint
    microsoft_outlook.endpoint) and nothing in our settings, Sign in with Microsoft works,
    against a local server speaking Microsoft's endpoints, and a real Dovecot over XOAUTH2."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        use_encryption_key(cls)
        cls.provider = use_local_microsoft(
            cls, ALICE[0], clients={"odoo-app-id": "odoo-app-secret"}, app=False, graph=False
        )
        cls.dovecot = cls.enterClassContext(
            DovecotServer(users=dict([ALICE]), oauth2_introspection_url=cls.provider.introspection_url)
        )
        params = cls.env["ir.config_parameter"]
        for key in ("tenant_id", "client_id", "client_secret"):
            params.set_param(f"crm_mail_sync.microsoft_{key}", False)
        # What Odoo's "Use an Outlook Server" settings store.
        params.set_param("microsoft_outlook_client_id", "odoo-app-id")
        params.set_param("microsoft_outlook_client_secret", "odoo-app-secret")
        params.set_param(
            "microsoft_outlook.endpoint", f"https://login.microsoftonline.com/{cls.provider.tenant}/oauth2/v2.0/"
        )
        cls.salesman = new_test_user(
            cls.env, login="sam", password="sam-password-1", email=ALICE[0], groups="sales_team.group_sale_salesman"
        )

    def _account(self):
        return self.env["crm.mail.account"].with_user(self.salesman).create(oauth_mailbox_values(self.dovecot))

    def test_sign_in_with_microsoft_uses_odoo_outlook_app_with_no_second_client_id(self):
        account = self._account()
        self.authenticate("sam", "sam-password-1")
        start = self.url_open(f"/crm_mail_sync/oauth/microsoft/start?account_id={account.id}", allow_redirects=False)
        self.assertIn(start.status_code, (302, 303))
        authorize = urllib.parse.urlsplit(start.headers["Location"])
        self.assertIn(f"/{self.provider.tenant}/", authorize.path, "the tenant of Odoo's Outlook endpoint")
        self.assertEqual(urllib.parse.parse_qs(authorize.query)["client_id"], ["odoo-app-id"])
        consent = requests.get(
            start.headers["Location"], verify=self.provider.certs.ca_file, allow_redirects=False, timeout=10
        )
        callback = urllib.parse.urlsplit(consent.headers["Location"])
        self.assertEqual(callback.path, "/crm_mail_sync/oauth/microsoft")
        self.url_open(f"{callback.path}?{callback.query}", allow_redirects=False)
        account.invalidate_recordset()
        self.assertTrue(account.oauth_connected)
        self.assertEqual(account.state, "connected", account.last_error)
        self.assertIn("xoauth2", self.dovecot.log().lower())

    def test_settings_page_says_which_app_is_used(self):
        settings = Form(self.env["res.config.settings"])
        self.assertEqual(settings.crm_mail_sync_microsoft_app_source, "odoo")
        self.assertEqual(settings.crm_mail_sync_google_app_source, "none")
        # An app registration entered in our settings takes over.
        settings.crm_mail_sync_microsoft_tenant_id = self.provider.tenant
        settings.crm_mail_sync_microsoft_client_id = "own-app-id"
        settings.crm_mail_sync_microsoft_client_secret = "own-app-secret"
        settings.save().execute()
        self.assertEqual(self.env["res.config.settings"].create({}).crm_mail_sync_microsoft_app_source, "own")
        app = self.env["res.config.settings"]._crm_mail_sync_oauth_app("microsoft")
        self.assertEqual((app["client_id"], app["client_secret"]), ("own-app-id", "own-app-secret"))

    def test_gmail_client_of_odoo_offers_sign_in_with_google(self):
        params = self.env["ir.config_parameter"]
        params.set_param("crm_mail_sync.google_client_id", False)
        params.set_param("crm_mail_sync.google_client_secret", False)
        with self.assertRaisesRegex(UserError, "Sign in with Google is not set up yet"):
            self.env["crm.mail.account"]._google_app()
        params.set_param("google_gmail_client_id", "odoo-gmail-id.apps.googleusercontent.com")
        params.set_param("google_gmail_client_secret", "odoo-gmail-secret")
        app = self.env["crm.mail.account"]._google_app()
        self.assertEqual(app.client_id, "odoo-gmail-id.apps.googleusercontent.com")
