import urllib.parse

import requests

from odoo.tests import HttpCase, new_test_user, tagged

from odoo.addons.crm_mail_sync.mailsync.testing.dns_server import DnsServer
from odoo.addons.crm_mail_sync.mailsync.testing.dovecot import DovecotServer
from odoo.addons.crm_mail_sync.mailsync.testing.oauth_server import (
    GOOGLE_AUTH_PATH,
    GOOGLE_TOKEN_PATH,
    OAuthServer,
)
from odoo.addons.crm_mail_sync.mailsync.testing.smtpd import SmtpServer

from .common import IMAP_TAG, allow_sending, use_encryption_key

CLIENT_ID, CLIENT_SECRET = "1234-crm.apps.googleusercontent.example", "google-client-secret"
GMAIL = ("sam.seller@gmail.com", "an-unused-password")


@tagged("post_install", "-at_install", IMAP_TAG)
class TestGoogleSignIn(HttpCase):
    """Sign in with Google from the setup wizard and from a mailbox, against a
    local OAuth 2.0 server answering on Google's endpoint paths (Google cannot
    be reached here), then read the mailbox of a real Dovecot over XOAUTH2."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        use_encryption_key(cls)
        cls.provider = cls.enterClassContext(OAuthServer(clients={CLIENT_ID: CLIENT_SECRET}, users=[GMAIL[0]]))
        cls.dovecot = cls.enterClassContext(
            DovecotServer(users=dict([GMAIL]), oauth2_introspection_url=cls.provider.introspection_url)
        )
        cls.dns = cls.enterClassContext(DnsServer({}))
        cls.smtpd = cls.enterClassContext(SmtpServer("none", check_token=cls.provider.token_user))
        allow_sending(cls)
        params = cls.env["ir.config_parameter"]
        base = f"https://localhost:{cls.provider.port}"
        params.set_param("crm_mail_sync.google_auth_url", base + GOOGLE_AUTH_PATH)
        params.set_param("crm_mail_sync.google_token_url", base + GOOGLE_TOKEN_PATH)
        params.set_param("crm_mail_sync.google_cafile", cls.provider.certs.ca_file)
        params.set_param("crm_mail_sync.dns_nameserver", f"{cls.dns.host}:{cls.dns.port}")
        cls.env["res.config.settings"].create(
            {"crm_mail_sync_google_client_id": CLIENT_ID, "crm_mail_sync_google_client_secret": CLIENT_SECRET}
        ).execute()
        cls.salesman = new_test_user(
            cls.env, login="sam", password="sam-password-1", email=GMAIL[0], groups="sales_team.group_sale_salesman"
        )
        # Gmail's servers cannot be reached here: the test Dovecot plays them.
        cls.env.ref("crm_mail_sync.provider_gmail").write(
            {
                "imap_host": cls.dovecot.host,
                "imap_port": cls.dovecot.port,
                "imap_security": "none",
                "smtp_host": cls.smtpd.host,
                "smtp_port": cls.smtpd.port,
                "smtp_security": "none",
            }
        )

    def _sign_in(self, start_action):
        self.authenticate("sam", "sam-password-1")
        start = self.url_open(start_action["url"], allow_redirects=False)
        self.assertIn(start.status_code, (302, 303))
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(start.headers["Location"]).query))
        self.assertEqual((query["client_id"], query["scope"]), (CLIENT_ID, "https://mail.google.com/"))
        consent = requests.get(
            start.headers["Location"], verify=self.provider.certs.ca_file, allow_redirects=False, timeout=10
        )
        callback = urllib.parse.urlsplit(consent.headers["Location"])
        self.assertEqual(callback.path, "/crm_mail_sync/oauth/google")
        return self.url_open(f"{callback.path}?{callback.query}", allow_redirects=False)

    def test_the_wizard_signs_a_gmail_user_in_with_google(self):
        wizard = self.env["crm.mail.setup.wizard"].with_user(self.salesman).create({"email": GMAIL[0]})
        wizard.action_detect()
        self.assertEqual(wizard.provider_id.code, "gmail")
        self.assertEqual(wizard.auth_method, "oauth_google", "Google sign-in is offered first once set up")
        self.assertTrue(wizard.offers_google)
        done = self._sign_in(wizard.action_sign_in_google())
        account = self.env["crm.mail.account"].search([("user_id", "=", self.salesman.id)])
        self.assertIn(f"/{account.id}", done.headers["Location"], "back on the mailbox")
        self.assertEqual((account.auth_method, account.state), ("oauth_google", "connected"), account.last_error)
        self.assertTrue(account.oauth_connected)
        self.assertIn("xoauth2", self.dovecot.log().lower())
        # Its outgoing server signs in with the same token, switched on once signed in.
        server = account.sudo().smtp_server_id
        self.assertEqual((server.active, server.smtp_authentication), (True, "crm_mail_sync_oauth"))
        self.assertEqual(server.owner_user_id, self.salesman)
        test_email = self.smtpd.wait_for(1)[0]
        self.assertEqual((test_email["login"], test_email["rcpt_tos"]), (GMAIL[0], [GMAIL[0]]))

    def test_tokens_are_encrypted_refreshed_and_a_revoked_sign_in_explained(self):
        account = (
            self.env["crm.mail.account"]
            .with_user(self.salesman)
            .create(
                {
                    "email": GMAIL[0],
                    "auth_method": "oauth_google",
                    "imap_host": self.dovecot.host,
                    "imap_port": self.dovecot.port,
                    "imap_security": "none",
                    "imap_login": GMAIL[0],
                }
            )
        )
        self._sign_in(account.action_google_sign_in())
        self.env.flush_all()
        self.env.cr.execute("SELECT * FROM crm_mail_account WHERE id = %s", [account.id])
        row = repr(self.env.cr.fetchall())
        for token in list(self.provider.access_tokens) + list(self.provider.refresh_tokens):
            self.assertNotIn(token, row)
        self.env.cr.execute("SELECT value FROM ir_config_parameter WHERE key LIKE 'crm_mail_sync.%%'")
        self.assertNotIn(CLIENT_SECRET, repr(self.env.cr.fetchall()))

        account.sudo().oauth_expires_at = 0  # due for a refresh: it happens by itself
        account.action_test_connection()
        self.assertEqual(account.state, "connected", account.last_error)

        self.provider.revoke_all()
        account.sudo().oauth_expires_at = 0
        account.action_test_connection()
        self.assertEqual(account.state, "error")
        self.assertIn("Google sign-in", account.last_error)
        self.assertIn("sign in again", account.last_error)

    def test_without_a_google_client_the_wizard_asks_for_an_app_password(self):
        self.env["ir.config_parameter"].set_param("crm_mail_sync.google_client_id", False)
        wizard = self.env["crm.mail.setup.wizard"].with_user(self.salesman).create({"email": GMAIL[0]})
        wizard.action_detect()
        self.assertEqual(wizard.auth_method, "app_password")
        self.assertFalse(wizard.offers_google)
