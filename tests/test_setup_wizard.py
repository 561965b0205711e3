from odoo.exceptions import AccessError, UserError
from odoo.tests import Form, tagged

from odoo.addons.crm_mail_sync.mailsync.testing import ALICE
from odoo.addons.crm_mail_sync.mailsync.testing.dns_server import DnsServer
from odoo.addons.crm_mail_sync.mailsync.testing.smtpd import SmtpServer

from .common import MailSyncCase, allow_sending


@tagged("post_install", "-at_install")
class TestSetupWizard(MailSyncCase):
    """The setup wizard, end to end, against a real Dovecot and a real SMTP
    server on 127.0.0.1; DNS questions go to a local DNS server."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.smtpd = cls.enterClassContext(SmtpServer("none", users=dict([ALICE])))
        cls.open_smtpd = cls.enterClassContext(SmtpServer("none"))  # a relay that asks no sign-in
        cls.allow_ports(cls.smtpd.port, cls.open_smtpd.port)
        allow_sending(cls)
        # example.com does not exist for this DNS: nothing can be detected;
        # contoso.example is a custom domain hosted by Microsoft 365.
        cls.dns = cls.enterClassContext(
            DnsServer({"contoso.example": {"MX": ["0 contoso-example.mail.protection.outlook.com."]}})
        )
        cls.env["ir.config_parameter"].sudo().set_param(
            "crm_mail_sync.dns_nameserver", f"{cls.dns.host}:{cls.dns.port}"
        )

    def setUp(self):
        super().setUp()
        self.smtpd.clear()

    def start(self, user, email=ALICE[0], **values):
        wizard = self.env["crm.mail.setup.wizard"].with_user(user).create({"email": email, **values})
        wizard.action_detect()
        return wizard

    def fill_custom_servers(self, wizard, password=ALICE[1], **values):
        wizard.write(
            {
                "custom_servers": True,
                "imap_host": self.dovecot.host,
                "imap_port": self.dovecot.port,
                "imap_security": "none",
                "smtp_host": self.smtpd.host,
                "smtp_port": self.smtpd.port,
                "smtp_security": "none",
                "password": password,
                **values,
            }
        )

    # -- presets and detection -------------------------------------------
    def test_provider_presets_are_loaded(self):
        Provider = self.env["crm.mail.provider"]
        gmail = self.env.ref("crm_mail_sync.provider_gmail")
        self.assertEqual((gmail.imap_host, gmail.imap_port, gmail.imap_security), ("imap.gmail.com", 993, "ssl"))
        self.assertGreaterEqual(Provider.search_count([]), 25)
        for code in ("gmail", "outlook", "microsoft365", "yahoo", "icloud", "orange", "sfr", "free", "ovh", "ionos_fr"):
            self.assertTrue(Provider.search([("code", "=", code)]), code)

    def test_a_gmail_address_fills_in_google_and_asks_for_an_app_password(self):
        questions = len(self.dns.asked())
        wizard = self.start(self.salesman, email="Sam.Seller@GMAIL.com")
        self.assertEqual(wizard.step, "servers")
        self.assertEqual(wizard.provider_id, self.env.ref("crm_mail_sync.provider_gmail"))
        self.assertEqual((wizard.imap_host, wizard.imap_port), ("imap.gmail.com", 993))
        self.assertEqual((wizard.smtp_host, wizard.smtp_port, wizard.smtp_security), ("smtp.gmail.com", 465, "ssl"))
        self.assertEqual(wizard.imap_login, "sam.seller@gmail.com")
        self.assertEqual(wizard.auth_method, "app_password")
        self.assertIn("apppasswords", wizard.app_password_url)
        self.assertIn("2-Step Verification", wizard.app_password_help)
        self.assertEqual(len(self.dns.asked()), questions, "a known domain needs no DNS question")

    def test_app_password_guidance_is_in_the_users_language(self):
        self.env["res.lang"]._activate_lang("fr_FR")
        self.env["ir.module.module"]._load_module_terms(["crm_mail_sync"], ["fr_FR"])
        self.salesman.lang = "fr_FR"
        wizard = self.start(self.salesman, email="sam@gmail.com")
        wizard = wizard.with_user(self.salesman).with_context(lang=self.salesman.lang)  # as the web client asks
        self.assertIn("Validation en deux étapes", wizard.app_password_help)

    def test_an_unknown_domain_asks_for_the_servers(self):
        wizard = self.start(self.salesman)
        self.assertTrue(wizard.custom_servers)
        self.assertFalse(wizard.provider_id)
        self.assertIn("example.com", wizard.detection_note)
        self.assertTrue(self.dns.asked("example.com", "MX"), "the MX records were looked up")

    def test_a_microsoft_365_address_signs_in_with_microsoft(self):
        wizard = self.start(self.salesman, email="sam@contoso.example")
        self.assertEqual(wizard.provider_id.code, "microsoft365")
        self.assertEqual(wizard.auth_method, "oauth_microsoft")

    def test_an_invalid_address_is_refused_with_what_to_do(self):
        wizard = self.env["crm.mail.setup.wizard"].with_user(self.salesman).create({"email": "sam at example"})
        with self.assertRaisesRegex(UserError, "Email Address"):
            wizard.action_detect()
        self.assertEqual(wizard.step, "email")

    # -- end to end --------------------------------------------------------
    def test_salesperson_connects_mailbox_and_outgoing_server_end_to_end(self):
        wizard = self.start(self.salesman)
        self.fill_custom_servers(wizard, extra_from="sales@example.com, Sam <sam.alias@example.com>")
        wizard.action_test()
        self.assertEqual(wizard.step, "sharing", wizard.imap_result + " / " + wizard.smtp_result)
        self.assertFalse(self.smtpd.messages, "the connection test sends nothing")
        wizard.sharing = "team"
        wizard.action_finish()
        self.assertEqual(wizard.step, "done")

        account = wizard.account_id
        self.assertEqual(account.user_id, self.salesman)
        self.assertEqual((account.state, account.sharing, account.imap_login), ("connected", "team", ALICE[0]))
        server = account.smtp_server_id
        self.assertEqual(server.owner_user_id, self.salesman)
        self.assertEqual(server.from_filter, f"{ALICE[0]},sales@example.com,sam.alias@example.com")
        self.assertEqual(self.salesman.outgoing_mail_server_id, server, "Odoo uses it for the salesperson's mail")

        received = self.smtpd.wait_for(1)
        self.assertEqual(received[0]["rcpt_tos"], [ALICE[0]], "the test email went to the salesperson")
        self.assertEqual(received[0]["login"], ALICE[0], "signed in with the same credentials")

        # Nothing typed in the wizard is stored in clear.
        self.env.flush_all()
        self.env.cr.execute(
            """SELECT (SELECT count(*) FROM crm_mail_account WHERE imap_password_secret LIKE %(clear)s),
                      (SELECT count(*) FROM ir_mail_server WHERE smtp_pass_secret LIKE %(clear)s
                                                              OR coalesce(smtp_pass, '') != ''),
                      (SELECT count(*) FROM crm_mail_setup_wizard WHERE password_secret LIKE %(clear)s),
                      (SELECT count(*) FROM crm_mail_setup_wizard WHERE password_secret LIKE 'v1:%%')""",
            {"clear": f"%{ALICE[1]}%"},
        )
        self.assertEqual(self.env.cr.fetchone(), (0, 0, 0, 1), "encrypted, never in clear")
        self.assertTrue(account.imap_password_set)
        self.assertEqual(account.action_test_connection()["params"]["type"], "success")

    def test_a_failing_sign_in_stays_on_the_step_with_both_results(self):
        wizard = self.start(self.salesman)
        self.fill_custom_servers(wizard, password="wrong-password")
        wizard.action_test()
        self.assertEqual(wizard.step, "servers")
        self.assertIn("rejected the user name or password", wizard.imap_result)
        self.assertIn("rejected the user name or password", wizard.smtp_result)
        self.assertFalse(self.Account.search([("user_id", "=", self.salesman.id)]), "nothing saved")

    def test_a_refused_gmail_password_points_to_google_app_passwords(self):
        gmail = self.env.ref("crm_mail_sync.provider_gmail")
        wizard = self.start(self.salesman, email="sam.seller@gmail.com")
        self.fill_custom_servers(wizard, password="my-usual-password", auth_method="password")
        wizard.provider_id = gmail
        wizard.action_test()
        self.assertIn("needs an app password when 2-step verification is on", wizard.imap_result)
        self.assertIn("https://myaccount.google.com/apppasswords", wizard.imap_result)
        account = self.Account.with_user(self.salesman).create(
            self.imap_values(password="my-usual-password", provider_id=gmail.id)
        )
        account.action_test_connection()
        self.assertIn("https://myaccount.google.com/apppasswords", account.last_error)

    def test_a_wrong_encryption_names_the_fix(self):
        wizard = self.start(self.salesman)
        self.fill_custom_servers(wizard, imap_security="ssl")  # SSL/TLS against the plain port
        wizard.action_test()
        self.assertEqual(wizard.step, "servers")
        self.assertIn("Check the encryption", wizard.imap_result)
        self.assertEqual(wizard.smtp_result, "Connected.")

    def test_separate_outgoing_credentials_and_smtp_auth(self):
        wizard = self.start(self.salesman)
        self.fill_custom_servers(wizard, same_credentials=False, smtp_auth=True, smtp_login=False)
        with self.assertRaisesRegex(UserError, "Outgoing User Name.*Outgoing Password"):
            wizard.action_test()
        wizard.write({"smtp_login": ALICE[0], "smtp_password": ALICE[1]})
        wizard.action_test()
        self.assertEqual(wizard.step, "sharing")

    def test_smtp_auth_off_sends_without_signing_in(self):
        wizard = self.start(self.salesman)
        self.fill_custom_servers(wizard, same_credentials=False, smtp_auth=False, smtp_port=self.open_smtpd.port)
        wizard.action_test()
        wizard.action_finish()
        self.assertFalse(wizard.account_id.smtp_server_id.sudo().smtp_user)
        self.assertIsNone(self.open_smtpd.wait_for(1)[0]["login"])

    def test_an_invalid_extra_from_address_is_named(self):
        wizard = self.start(self.salesman)
        self.fill_custom_servers(wizard, extra_from="sales@example.com, not-an-address")
        with self.assertRaisesRegex(UserError, "not-an-address"):
            wizard.action_test()

    def test_salesperson_cannot_connect_a_company_wide_mailbox(self):
        wizard = self.start(self.salesman, company_wide=True)
        self.fill_custom_servers(wizard)
        with self.assertRaises(AccessError):
            wizard.action_finish()
        wizard = self.start(self.salesman, user_id=self.colleague.id)
        self.fill_custom_servers(wizard)
        with self.assertRaises(AccessError):
            wizard.action_finish()
        with self.assertRaises(AccessError):
            self.env["ir.mail_server"].with_user(self.salesman).create(
                {"name": "Company", "smtp_host": self.smtpd.host, "smtp_port": self.smtpd.port}
            )

    def test_admin_connects_a_company_wide_mailbox(self):
        self.env.user.email = "admin@example.com"
        wizard = self.start(self.env.user, company_wide=True)
        self.fill_custom_servers(wizard)
        wizard.action_test()
        wizard.action_finish()
        account = wizard.account_id
        self.assertFalse(account.user_id)
        self.assertFalse(account.smtp_server_id.owner_user_id, "a company server, chosen by its From filter")
        self.assertEqual(self.smtpd.wait_for(1)[0]["rcpt_tos"], ["admin@example.com"])

    def test_the_form_walks_the_steps(self):
        """The form view: what each step shows is what the step needs."""
        form = Form(self.env["crm.mail.setup.wizard"].with_user(self.salesman))
        self.assertEqual(form.email, ALICE[0], "the user's own address is proposed")
        wizard = form.save()
        wizard.action_detect()
        form = Form(wizard.with_user(self.salesman))
        self.assertTrue(form.custom_servers)
        form.password = ALICE[1]
        self.assertFalse(form.password_set)
        wizard = form.save()
        self.assertTrue(wizard.password_set)
        self.assertFalse(wizard.password, "a saved password never reads back")
