import time

from odoo.tests import HttpCase, tagged

from .common import EWS_SAM, TOUR_TAG, EwsCase, MailSyncCase, Transactions, use_local_microsoft
from .mail_samples import raw_email

TENANT_BOX = "sales@contoso.onmicrosoft.com"
SAM = EWS_SAM[0]


@tagged("post_install", "-at_install", TOUR_TAG)
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


@tagged("post_install", "-at_install", TOUR_TAG)
class TestGraphCompanyWizardTour(HttpCase, MailSyncCase):
    """An administrator connects a company-wide Microsoft 365 mailbox through
    Microsoft Graph in the browser (the app registration's own Mail.Read,
    against the local Microsoft identity + Graph server); the cron then logs
    its mail."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.microsoft = use_local_microsoft(cls, TENANT_BOX)
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
