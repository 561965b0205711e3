import time

from odoo.tests import HttpCase, tagged

from odoo.addons.crm_mail_sync.mailsync.testing.oauth_server import OAuthServer

from .common import MailSyncCase, Transactions
from .mail_samples import raw_email
from .test_ews_mailbox import SAM, EwsCase

TENANT_BOX = "sales@contoso.onmicrosoft.com"


@tagged("post_install", "-at_install")
class TestExchangeServerWizardTour(HttpCase, EwsCase):
    """A salesperson connects their Exchange Server mailbox in the browser:
    the wizard proposes EWS from Autodiscover; the cron then logs its mail."""

    def test_salesperson_connects_an_exchange_server_mailbox(self):
        self.start_tour("/odoo", "crm_mail_sync_exchange_server_wizard", login="sam")
        box = self.Account.search([("user_id", "=", self.salesman.id), ("email", "=", SAM)])
        self.assertEqual((box.kind, box.state, box.sharing), ("ews", "connected", "team"))
        self.assertEqual((box.ews_url, box.ews_username), (self.exchange.ews_url, "CORP\\sam"))
        self.assertTrue(box.ews_password_set)

        Transactions.patch(self)
        self.exchange.mail.add(SAM, "inbox", raw_email("bea@customer.example", SAM, subject="Order from the tour"))
        self.Account._cron_sync()
        logged = self.env["crm.mail.interaction"].sudo().search([("account_id", "=", box.id)])
        self.assertEqual(logged.mapped("subject"), ["Order from the tour"])
        self.assertIn(logged, self.customer.message_ids.crm_mail_interaction_id)


@tagged("post_install", "-at_install")
class TestGraphCompanyWizardTour(HttpCase, MailSyncCase):
    """An administrator connects a company-wide Microsoft 365 mailbox through
    Microsoft Graph in the browser (the app registration's own Mail.Read,
    against the local Microsoft identity + Graph server); the cron then logs
    its mail."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.microsoft = cls.enterClassContext(OAuthServer(clients={"app-id": "app-secret-value"}, users=[TENANT_BOX]))
        params = cls.env["ir.config_parameter"]
        params.set_param("crm_mail_sync.microsoft_authority_host", f"https://localhost:{cls.microsoft.port}")
        params.set_param("crm_mail_sync.microsoft_authority_cafile", cls.microsoft.certs.ca_file)
        params.set_param("crm_mail_sync.microsoft_graph_url", cls.microsoft.graph_url)
        cls.env["res.config.settings"].create(
            {
                "crm_mail_sync_microsoft_tenant_id": cls.microsoft.tenant,
                "crm_mail_sync_microsoft_client_id": "app-id",
                "crm_mail_sync_microsoft_client_secret": "app-secret-value",
            }
        ).execute()
        cls.customer = cls.env["res.partner"].create({"name": "Bea Buyer", "email": "bea@customer.example"})

    def test_administrator_connects_a_company_mailbox_through_graph(self):
        self.start_tour("/odoo", "crm_mail_sync_graph_company_wizard", login="admin")
        box = self.Account.search([("email", "=", TENANT_BOX)])
        self.assertEqual((box.kind, box.state, box.user_id.id), ("graph", "connected", False))
        grants = [form.get("grant_type") for method, _path, form in self.microsoft.requests if method == "POST"]
        self.assertIn("client_credentials", grants, "read with the app registration's own token")

        Transactions.patch(self)
        self.microsoft.mail.add(TENANT_BOX, "inbox", raw_email("bea@customer.example", TENANT_BOX, subject="To sales@"))
        started = time.monotonic()
        self.Account._cron_sync()
        self.assertLess(time.monotonic() - started, 60)
        logged = self.env["crm.mail.interaction"].sudo().search([("account_id", "=", box.id)])
        self.assertEqual(logged.mapped("subject"), ["To sales@"])
        self.assertIn(logged, self.customer.message_ids.crm_mail_interaction_id)
