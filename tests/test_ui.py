from odoo.tests import HttpCase, tagged

from odoo.addons.crm_mail_sync.mailsync.testing import ALICE
from odoo.addons.crm_mail_sync.mailsync.testing.dns_server import DnsServer
from odoo.addons.crm_mail_sync.mailsync.testing.smtpd import SmtpServer

from .common import TOUR_TAG, FrenchSalespersonCase, InteractionCase, allow_sending
from .mail_samples import raw_email


@tagged("post_install", "-at_install", TOUR_TAG)
class TestAppsMenu(HttpCase):
    def test_apps_menu_lists_the_addon_as_installed(self):
        """An admin finds CRM Mail Sync in the Apps menu of the web client, installed."""
        self.start_tour("/odoo/apps", "crm_mail_sync_apps_menu", login="admin")


@tagged("post_install", "-at_install")
class TestConnectMailboxTour(FrenchSalespersonCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        Default = cls.env["ir.default"]
        Default.set("crm.mail.account", "imap_host", cls.dovecot.host, user_id=cls.salesman.id)
        Default.set("crm.mail.account", "imap_port", cls.dovecot.port, user_id=cls.salesman.id)

    def test_salesperson_connects_a_mailbox_in_french(self):
        self.start_tour("/odoo", "crm_mail_sync_connect_mailbox_fr", login="sam")
        account = self.env["crm.mail.account"].search([("user_id", "=", self.salesman.id)])
        self.assertEqual(account.state, "connected")
        self.assertTrue(account.imap_password_set)


@tagged("post_install", "-at_install")
class TestSetupWizardTour(FrenchSalespersonCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.smtpd = cls.enterClassContext(SmtpServer("none", users=dict([ALICE])))
        cls.dns = cls.enterClassContext(DnsServer({}))  # example.com is unknown: servers are typed in
        cls.env["ir.config_parameter"].sudo().set_param(
            "crm_mail_sync.dns_nameserver", f"{cls.dns.host}:{cls.dns.port}"
        )
        allow_sending(cls)
        # The test servers' free ports stand in for the usual 993 and 587.
        Default = cls.env["ir.default"]
        Default.set("crm.mail.setup.wizard", "imap_port", cls.dovecot.port, user_id=cls.salesman.id)
        Default.set("crm.mail.setup.wizard", "smtp_port", cls.smtpd.port, user_id=cls.salesman.id)

    def test_salesperson_walks_the_wizard_in_french(self):
        self.start_tour("/odoo", "crm_mail_sync_setup_wizard_fr", login="sam")
        account = self.env["crm.mail.account"].search([("user_id", "=", self.salesman.id)])
        self.assertEqual((account.state, account.sharing), ("connected", "team"))
        self.assertEqual(account.smtp_server_id.owner_user_id, self.salesman)
        received = self.smtpd.wait_for(1)
        self.assertEqual(received[0]["rcpt_tos"], [ALICE[0]], "the test email reached the salesperson")


@tagged("post_install", "-at_install", TOUR_TAG)
class TestEmailsTour(HttpCase, InteractionCase):
    def test_salesperson_sees_logged_email_and_makes_it_an_opportunity(self):
        self.opportunity.action_set_lost()
        self.ingest(
            self.sam_box, raw_email("Bea <bea@customer.example>", self.sam.email, subject="Order of 500 chairs")
        )
        tina_box = self.mailbox(self.tina, "team")
        self.ingest(tina_box, raw_email(self.tina.email, "bea@customer.example", subject="Delivery dates"), role="sent")
        self.start_tour(f"/odoo/contacts/{self.customer.id}", "crm_mail_sync_emails", login="sam")
        lead = self.env["crm.lead"].search([("name", "=", "Order of 500 chairs")])
        self.assertEqual((lead.type, lead.partner_id, lead.user_id), ("opportunity", self.customer, self.sam))
