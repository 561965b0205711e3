"""Issue 11, item 4: spoofed senders. The receiving server's verdict
(Authentication-Results of the trusted host, on top) marks a forged sender;
the folder, not the From, says whether the owner sent a message."""

from odoo.exceptions import AccessError, UserError
from odoo.tests import Form, tagged

from .common import InteractionCase
from .mail_samples import raw_email

# sam_box reads imap.ourcompany.example: its trusted receiving hosts are those of ourcompany.example.
DMARC_FAIL = (
    b"Authentication-Results: mx.ourcompany.example; dmarc=fail (p=reject dis=none) header.from=customer.example\r\n"
)
DMARC_PASS = (
    b"Authentication-Results: mx.ourcompany.example; dmarc=pass (p=reject dis=none) header.from=customer.example\r\n"
)
# What a forger writes into the message itself: below the receiving host's own header.
FORGED_PASS = b"Authentication-Results: mx.ourcompany.example; dmarc=pass header.from=customer.example\r\n"
RECEIVED = b"Received: from mx.attacker.example (198.51.100.66) by mx.ourcompany.example; 20 Nov 2026 09:31:00\r\n"


@tagged("post_install", "-at_install")
class TestSenderAuthentication(InteractionCase):
    def entries(self, interaction):
        return self.env["mail.message"].sudo().search([("crm_mail_interaction_id", "=", interaction.id)])

    def test_a_forged_customer_is_marked_and_not_shown_as_the_customer(self):
        self.opportunity.action_set_lost()
        forged = (
            DMARC_FAIL
            + RECEIVED
            + FORGED_PASS
            + raw_email("Bea Buyer <bea@customer.example>", "sam@ourcompany.example", subject="New bank details")
        )
        logged, _fetched = self.ingest(self.sam_box, forged)
        self.assertEqual((logged.direction, logged.sender_check), ("received", "fail"))
        self.assertEqual(logged.partner_ids, self.customer, "still logged on the contact it names")
        entry = self.entries(logged)
        self.assertTrue(entry)
        self.assertFalse(entry.author_id, "not authored by the customer")
        self.assertIn("bea@customer.example", entry.email_from, "the From as written is kept")
        self.assertIn("Unverified sender", entry.body)
        self.assertEqual(self.env["crm.mail.interaction"].search([("sender_check", "=", "fail")]), logged)

        # Create Opportunity asks for a confirmation first, whatever the client.
        action = logged.with_user(self.sam).action_create_opportunity()
        form = Form(self.env[action["res_model"]].with_user(self.sam).with_context(**action["context"]))
        self.assertTrue(form.unverified_sender)
        wizard = form.save()
        with self.assertRaisesRegex(UserError, "could not be verified"):
            wizard.action_create()
        self.assertFalse(self.env["crm.lead"].search([("name", "=", "New bank details")]))
        wizard.confirm_unverified = True
        lead = self.env["crm.lead"].browse(wizard.action_create()["res_id"])
        self.assertEqual(lead.name, "New bank details")

    def test_a_verified_sender_is_the_customer_without_a_question(self):
        self.opportunity.action_set_lost()
        genuine = DMARC_PASS + raw_email("Bea Buyer <bea@customer.example>", "sam@ourcompany.example", subject="Order")
        logged, _fetched = self.ingest(self.sam_box, genuine)
        self.assertEqual(logged.sender_check, "pass")
        self.assertEqual(self.entries(logged).author_id, self.customer)
        self.assertNotIn("Unverified sender", self.entries(logged).body)
        action = logged.with_user(self.sam).action_create_opportunity()
        form = Form(self.env[action["res_model"]].with_user(self.sam).with_context(**action["context"]))
        self.assertFalse(form.unverified_sender)
        self.assertTrue(form.save().action_create()["res_id"])

    def test_no_header_of_the_trusted_host_says_nothing(self):
        # Only a header the sender wrote, from a host that is not ours: not trusted either way.
        other = b"Authentication-Results: mx.attacker.example; dmarc=fail header.from=customer.example\r\n"
        raw = other + raw_email("bea@customer.example", "sam@ourcompany.example")
        logged, _fetched = self.ingest(self.sam_box, raw)
        self.assertEqual(logged.sender_check, "none")
        self.assertEqual(self.entries(logged).author_id, self.customer)

    def test_a_forged_owner_in_the_inbox_is_received_not_sent(self):
        forged = DMARC_FAIL + raw_email("Sam Seller <sam@ourcompany.example>", "bea@customer.example", subject="Wire")
        logged, _fetched = self.ingest(self.sam_box, forged)
        self.assertEqual(logged.direction, "received", "in the inbox: someone else wrote it")
        self.assertNotEqual(self.entries(logged).author_id, self.sam.partner_id, "not shown as Sam's mail")
        # The same From in the sent folder is Sam's own mail.
        own = raw_email("Sam Seller <sam@ourcompany.example>", "bea@customer.example", subject="Quote")
        logged, _fetched = self.ingest(self.sam_box, own, role="sent")
        self.assertEqual((logged.direction, logged.sender_check), ("sent", "none"))
        self.assertEqual(self.entries(logged).author_id, self.sam.partner_id)

    def test_the_trusted_hosts_are_an_administrators_setting(self):
        self.assertEqual(self.sam_box._trusted_authserv_ids(), ("ourcompany.example",))
        with self.assertRaises(AccessError):
            self.sam_box.with_user(self.sam).write({"sync_authserv_ids": "mx.attacker.example"})
        self.sam_box.sync_authserv_ids = "mx1.ourcompany.example, -"
        self.assertEqual(self.sam_box._trusted_authserv_ids(), ("mx1.ourcompany.example", ""))
