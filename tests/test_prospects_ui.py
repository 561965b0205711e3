from odoo.tests import tagged

from odoo.addons.crm_mail_sync.mailsync.testing import ALICE

from .common import FrenchSalespersonCase
from .mail_samples import MemoryBatch, raw_email


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
