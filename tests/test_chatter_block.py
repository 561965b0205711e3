from odoo.exceptions import AccessError, UserError
from odoo.tests import HttpCase, tagged
from odoo.tools import mute_logger

from odoo.addons.mail.tools.discuss import Store

from .common import InteractionCase
from .mail_samples import raw_email


@tagged("post_install", "-at_install")
class TestBlockFromChatter(InteractionCase):
    """*Block Sender* / *Block Domain* on a logged email's chatter entry."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["res.lang"]._activate_lang("es_ES")
        cls.env["ir.module.module"]._load_module_terms(["crm_mail_sync"], ["es_ES"])

    def setUp(self):
        super().setUp()
        self.offer, _fetched = self.ingest(
            self.sam_box, raw_email("Bea Buyer <bea@customer.example>", self.sam.email, subject="Special offer")
        )
        self.private, _fetched = self.ingest(
            self.sam_box, raw_email("Bea <bea.private@gmail.com>", self.sam.email, subject="From home")
        )
        self.sent, _fetched = self.ingest(
            self.sam_box, raw_email(self.sam.email, "bea@customer.example", subject="Our answer"), role="sent"
        )

    def display(self, user):
        """``{subject: crm_mail_sync data}`` of the contact's chatter as ``user`` reads it."""
        messages = self.chatter(self.customer, user)
        with self.with_user(user.login):
            result = Store().add(messages.with_user(user)).get_result()
        return {
            values["subject"]: values["crm_mail_sync"] for values in result["mail.message"] if "crm_mail_sync" in values
        }

    def test_offered_to_the_owner_of_the_mailbox_on_received_mail_only(self):
        sams = self.display(self.sam)
        block = sams["Special offer"]["block"]
        self.assertEqual((block["address"], block["domain"]), ("bea@customer.example", "customer.example"))
        self.assertIn("bea@customer.example", block["confirm_address"])
        self.assertIn("customer.example", block["confirm_domain"])
        self.assertEqual(sams["Special offer"]["labels"]["block_sender"], "Block Sender")
        self.assertFalse(sams["From home"]["block"]["domain"], "a public provider's domain is never blocked whole")
        self.assertFalse(sams["Our answer"]["block"], "sent mail: nothing to block")

        tinas = self.display(self.tina)
        self.assertEqual(set(tinas), {"Special offer", "From home", "Our answer"}, "Tina reads Sam's team mail")
        self.assertFalse(any(entry["block"] for entry in tinas.values()), "but it is not her mailbox")

    def test_labels_in_spanish(self):
        self.sam.lang = "es_ES"
        entry = self.display(self.sam)["Special offer"]
        self.assertEqual(entry["labels"]["block_sender"], "Bloquear remitente")
        self.assertIn("bea@customer.example", entry["block"]["confirm_address"])
        self.assertIn("ya no se registrará", entry["block"]["confirm_address"])

    def test_blocking_the_sender_removes_their_mail_for_this_user_only(self):
        ottos, _fetched = self.ingest(self.otto_box, raw_email("bea@customer.example", self.otto.email))
        entries = self.offer.mail_message_ids
        self.assertEqual(len(entries), 2, "on the contact and on the opportunity")
        entries |= self.sent.mail_message_ids

        result = self.offer.with_user(self.sam).crm_mail_block_sender()

        self.assertEqual(sorted(result["message_ids"]), sorted(entries.ids))
        self.assertIn("bea@customer.example is blocked. Logged emails removed: 2.", result["message"])
        self.assertFalse(self.offer.exists())
        self.assertFalse(entries.exists())
        self.assertTrue(self.private.exists(), "another address of the contact stays")
        self.assertFalse(self.sent.exists(), "mail sent only to them goes too")
        self.assertTrue(ottos.exists(), "Otto's mail stays")
        blocked = self.env["crm.mail.blocked.sender"].with_user(self.sam).search([])
        self.assertEqual((blocked.entry, blocked.kind), ("bea@customer.example", "address"))

    def test_blocking_the_domain(self):
        carl, _fetched = self.ingest(
            self.sam_box, raw_email("carl@customer.example", self.sam.email, cc=self.customer.email)
        )
        self.assertTrue(carl)
        result = self.offer.with_user(self.sam).crm_mail_block_sender(kind="domain")
        self.assertIn("customer.example is blocked", result["message"])
        self.assertFalse(self.offer.exists())
        self.assertFalse(carl.exists())
        self.assertTrue(self.private.exists())
        blocked = self.env["crm.mail.blocked.sender"].with_user(self.sam).search([])
        self.assertEqual((blocked.entry, blocked.kind), ("customer.example", "domain"))

    def test_refused_to_others_and_for_public_domains(self):
        with self.assertRaises(AccessError):
            self.offer.with_user(self.tina).crm_mail_block_sender()  # she reads it, but it is Sam's mailbox
        with self.assertRaises(AccessError):
            self.offer.with_user(self.otto).crm_mail_block_sender()  # he may not even read it
        with self.assertRaises(AccessError):
            self.sent.with_user(self.sam).crm_mail_block_sender()
        with self.assertRaises(UserError) as caught:
            self.private.with_user(self.sam).crm_mail_block_sender(kind="domain")
        self.assertIn("gmail.com is a public email provider", str(caught.exception))
        with self.assertRaises(UserError):
            self.offer.with_user(self.sam).crm_mail_block_sender(kind="subdomains")
        self.assertTrue(self.offer.exists())
        self.assertFalse(self.env["crm.mail.blocked.sender"].sudo().search([]))


@tagged("post_install", "-at_install")
class TestBlockFromChatterOverRpc(HttpCase, InteractionCase):
    def block(self, interaction, kind="address"):
        return self.make_jsonrpc_request(
            "/web/dataset/call_kw/crm.mail.interaction/crm_mail_block_sender",
            {
                "model": "crm.mail.interaction",
                "method": "crm_mail_block_sender",
                "args": [interaction.ids],
                "kwargs": {"kind": kind},
            },
        )

    def test_only_the_owner_of_the_mailbox_blocks_over_json_rpc(self):
        offer, _fetched = self.ingest(self.sam_box, raw_email("bea@customer.example", self.sam.email))
        for login in ("tina", "admin"):  # Tina reads it (team), the administrator reads everything
            self.authenticate(login, login)
            with self.assertRaises(Exception) as caught, mute_logger("odoo.http"):
                self.block(offer)
            self.assertIn("AccessError", str(caught.exception), login)
        self.assertTrue(offer.exists())
        self.assertFalse(self.env["crm.mail.blocked.sender"].sudo().search([]))

        entries = offer.mail_message_ids
        self.authenticate("sam", "sam")
        result = self.block(offer)
        self.assertEqual(sorted(result["message_ids"]), sorted(entries.ids))
        self.assertFalse(entries.exists())
        self.assertFalse(offer.exists())
