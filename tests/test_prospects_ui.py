from odoo.tests import HttpCase, tagged

from odoo.addons.crm_mail_sync.mailsync.testing import ALICE

from .common import TOUR_TAG, FrenchSalespersonCase, InteractionCase, MailSyncCase, Transactions
from .mail_samples import NEWSLETTER_HEADERS, MemoryBatch, raw_email, with_headers


@tagged("post_install", "-at_install")
class TestNewSenderTour(FrenchSalespersonCase):
    def test_a_new_senders_email_becomes_an_opportunity_in_french(self):
        """The sync lists a first inquiry in New Senders (headers only); the
        salesperson turns it into an opportunity in Chromium, in French."""
        self.env.company.email = "info@example.com"
        account = (
            self.env["crm.mail.account"]
            .sudo()
            .create(
                {
                    "email": ALICE[0],
                    "user_id": self.salesman.id,
                    "imap_host": self.dovecot.host,
                    "imap_port": self.dovecot.port,
                    "imap_security": "none",
                    "imap_login": ALICE[0],
                    "imap_password": ALICE[1],
                    "state": "connected",
                }
            )
        )
        raw = raw_email(
            "Nina Newco <nina@newco.example>",
            ALICE[0],
            subject="Devis pour 40 bureaux",
            message_id="<devis-1@newco.example>",
            body="Bonjour,\n\nIl nous faut 40 bureaux pour nos nouveaux locaux.\n",
        )
        self.dovecot.clear(ALICE[0])
        self.dovecot.append(ALICE[0], "INBOX", raw)  # UID 1, as in the batch below
        self.assertFalse(account._ingest(MemoryBatch([raw])))
        self.start_tour(
            "/odoo/action-crm_mail_sync.crm_mail_new_sender_action", "crm_mail_sync_new_sender_fr", login="sam"
        )
        lead = self.env["crm.lead"].search([("name", "=", "Devis pour 40 bureaux")])
        self.assertEqual(lead.partner_id.email, "nina@newco.example")
        self.assertEqual(lead.user_id, self.salesman)
        self.assertFalse(self.env["crm.mail.new.sender"].sudo().search([]))


@tagged("post_install", "-at_install", TOUR_TAG)
class TestNewsletterTour(HttpCase, MailSyncCase):
    """A real sync of a real mailbox, then the salesperson looks in Chromium."""

    def test_a_newsletter_never_appears(self):
        self.env.company.email = "info@example.com"
        customer = self.env["res.partner"].create({"name": "Bea Buyer", "email": "bea@customer.example"})
        box = self.Account.create(self.imap_values(user_id=self.salesman.id))
        box.sudo().state = "connected"
        self.dovecot.clear(ALICE[0])
        for raw in (
            with_headers(
                raw_email("Bea Buyer <bea@customer.example>", ALICE[0], subject="Weekly deals: 20% off chairs"),
                NEWSLETTER_HEADERS,
            ),
            raw_email(
                "Bea Buyer <bea@customer.example>",
                ALICE[0],
                subject="Delivery date",
                body="Hello,\n\nCould you confirm the delivery date of our order?\n",
            ),
            with_headers(
                raw_email("news@weekly.example", ALICE[0], subject="This week in furniture"), NEWSLETTER_HEADERS
            ),
            raw_email("Nina Newco <nina@newco.example>", ALICE[0], subject="Quote for 40 desks"),
        ):
            self.dovecot.append(ALICE[0], "INBOX", raw)
        Transactions.patch(self)
        self.Account._cron_sync()
        logged = self.env["crm.mail.interaction"].sudo().search([])
        self.assertEqual(logged.mapped("subject"), ["Delivery date"])
        self.assertEqual(logged.partner_ids, customer)

        self.start_tour(f"/odoo/contacts/{customer.id}", "crm_mail_sync_newsletter_contact", login="sam")
        self.start_tour(
            "/odoo/action-crm_mail_sync.crm_mail_new_sender_action", "crm_mail_sync_newsletter_new_senders", login="sam"
        )


@tagged("post_install", "-at_install", TOUR_TAG)
class TestBlockSenderTour(HttpCase, InteractionCase):
    def test_blocking_a_sender_from_the_chatter_removes_their_mail_from_the_contact(self):
        offer, _fetched = self.ingest(
            self.sam_box, raw_email("Bea Buyer <bea@customer.example>", self.sam.email, subject="Special offer")
        )
        private, _fetched = self.ingest(
            self.sam_box, raw_email("Bea <bea.private@gmail.com>", self.sam.email, subject="From home")
        )
        self.start_tour(f"/odoo/contacts/{self.customer.id}", "crm_mail_sync_block_sender", login="sam")
        self.assertFalse(offer.exists())
        self.assertTrue(private.exists())
        blocked = self.env["crm.mail.blocked.sender"].sudo().search([])
        self.assertEqual((blocked.user_id, blocked.entry, blocked.kind), (self.sam, "bea@customer.example", "address"))
        self.assertFalse(self.chatter(self.customer, self.sam).filtered(lambda m: m.subject == "Special offer"))
