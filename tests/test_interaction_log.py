from odoo.exceptions import AccessError
from odoo.tests import HttpCase, tagged
from odoo.tools import mute_logger

from .common import PDF, InteractionCase
from .mail_samples import raw_email


@tagged("post_install", "-at_install")
class TestInteractionLog(InteractionCase):
    def test_mail_from_a_secondary_address_is_logged_on_the_contact_and_its_opportunity(self):
        raw = raw_email(
            "Bea <bea.private@gmail.com>",
            "Sam Seller <sam@ourcompany.example>",
            subject="Order of 500 chairs",
            html="<p>Please find our order.</p><script>alert(1)</script>",
            attachments=[("order.pdf", "application/pdf", PDF)],
        )
        logged, fetched = self.ingest(self.sam_box, raw)
        self.assertEqual(len(logged), 1)
        self.assertEqual(fetched, [1])
        self.assertEqual(logged.partner_ids, self.customer)
        self.assertEqual(logged.lead_ids, self.opportunity)
        self.assertEqual((logged.direction, logged.owner_id, logged.sharing), ("received", self.sam, "team"))
        self.assertEqual(logged.attachment_ids.mapped("name"), ["order.pdf"])
        self.assertNotIn("<script", logged.body, "the body is sanitized")

        for record in (self.customer, self.opportunity):
            entry = self.chatter(record).filtered("crm_mail_interaction_id")
            self.assertEqual(len(entry), 1, record)
            self.assertEqual(entry.message_type, "email")
            self.assertEqual(entry.subject, "Order of 500 chairs")
            self.assertIn("Please find our order.", entry.body)
            self.assertNotIn("sam@ourcompany.example", entry.body, "recipients are rendered when read, not stored")
            self.assertEqual(entry.author_id, self.customer)
            self.assertEqual(entry.attachment_ids, logged.attachment_ids)
        self.assertEqual(self.customer.with_user(self.sam).crm_mail_interaction_count, 1)
        self.assertEqual(self.opportunity.with_user(self.sam).crm_mail_interaction_count, 1)

    def test_sent_mail_is_logged_as_sent(self):
        raw = raw_email("sam@ourcompany.example", "BEA@customer.example", subject="Our quote")
        logged, _fetched = self.ingest(self.sam_box, raw, role="sent")
        self.assertEqual((logged.direction, logged.partner_ids), ("sent", self.customer))
        entry = self.chatter(self.customer).filtered("crm_mail_interaction_id")
        self.assertEqual(entry.author_id, self.sam.partner_id)

    def test_internal_excluded_and_unknown_mail_is_not_logged_nor_downloaded(self):
        internal = raw_email("tina@ourcompany.example", "sam@ourcompany.example", subject="Lunch?")
        automated = raw_email("noreply@customer.example", "sam@ourcompany.example", subject="Your invoice")
        unknown = raw_email("someone@elsewhere.example", "sam@ourcompany.example", subject="Hi")
        self.env["ir.config_parameter"].sudo().set_param("crm_mail_sync.exclusions", "noreply@* newsletter.example")
        newsletter = raw_email("news@newsletter.example", "bea@customer.example, sam@ourcompany.example")
        logged, fetched = self.ingest(self.sam_box, internal, automated, unknown, newsletter)
        self.assertFalse(logged)
        self.assertEqual(fetched, [], "nothing was even downloaded (the newsletter went to the customer too)")

    def test_a_reply_goes_to_the_opportunity_of_its_thread(self):
        first = raw_email("bea@customer.example", "sam@ourcompany.example", message_id="<thread-1@customer.example>")
        self.ingest(self.sam_box, first)
        # Another contact of the customer answers in the same thread, from an unknown address.
        reply = raw_email(
            "Carl <carl@customer-group.example>",
            "sam@ourcompany.example",
            subject="Re: Your quote",
            in_reply_to="<thread-1@customer.example>",
        )
        logged, _fetched = self.ingest(self.sam_box, reply)
        self.assertEqual(logged.lead_ids, self.opportunity)
        self.assertFalse(logged.partner_ids)

    def test_logging_twice_changes_nothing(self):
        raw = raw_email("bea@customer.example", "sam@ourcompany.example")
        first, _fetched = self.ingest(self.sam_box, raw)
        again, fetched = self.ingest(self.sam_box, raw)
        self.assertFalse(again)
        self.assertEqual(fetched, [], "a message already logged is not downloaded again")
        self.assertEqual(len(self.chatter(self.customer).filtered("crm_mail_interaction_id")), 1)
        self.assertTrue(first)

    def test_a_message_without_message_id_is_logged_once_too(self):
        raw = raw_email("bea@customer.example", "sam@ourcompany.example", message_id=False)
        self.ingest(self.sam_box, raw)
        again, _fetched = self.ingest(self.sam_box, raw)
        self.assertFalse(again)

    def test_the_same_message_from_two_mailboxes_gives_one_entry_per_owner(self):
        raw = raw_email("bea@customer.example", "sam@ourcompany.example, otto@ourcompany.example")
        sams, _fetched = self.ingest(self.sam_box, raw)
        ottos, _fetched = self.ingest(self.otto_box, raw)
        self.assertEqual((sams.owner_id, sams.sharing), (self.sam, "team"))
        self.assertEqual((ottos.owner_id, ottos.sharing), (self.otto, "private"))
        self.assertEqual(len(self.chatter(self.customer).filtered("crm_mail_interaction_id")), 2)

    def test_closed_opportunities_get_nothing(self):
        self.opportunity.action_set_lost()
        logged, _fetched = self.ingest(self.sam_box, raw_email("bea@customer.example", "sam@ourcompany.example"))
        self.assertEqual(logged.partner_ids, self.customer)
        self.assertFalse(logged.lead_ids)

    def test_a_lead_is_found_by_its_email_alone(self):
        lead = self.env["crm.lead"].create({"name": "Web form", "email_from": "Dan <DAN@prospect.example>"})
        logged, _fetched = self.ingest(self.sam_box, raw_email("dan@prospect.example", "sam@ourcompany.example"))
        self.assertEqual(logged.lead_ids, lead)

    def test_an_oversized_attachment_is_skipped_with_a_note(self):
        self.env["ir.config_parameter"].sudo().set_param("crm_mail_sync.max_attachment_mb", "0.001")
        raw = raw_email(
            "bea@customer.example", "sam@ourcompany.example", attachments=[("plans.pdf", "application/pdf", PDF)]
        )
        logged, _fetched = self.ingest(self.sam_box, raw)
        self.assertFalse(logged.attachment_ids)
        self.assertIn("plans.pdf", logged.body)
        self.assertIn("was not stored", logged.body)

    def test_secondary_addresses_are_validated_and_searchable(self):
        Partner = self.env["res.partner"]
        self.assertEqual(Partner.search([("secondary_email_ids.email", "ilike", "bea.private")]), self.customer)
        self.assertIn(self.customer.id, [pid for pid, _name in Partner.name_search("bea.private@gmail.com")])
        with self.assertRaisesRegex(Exception, "not a valid email address"):
            self.customer.secondary_email_ids = [(0, 0, {"email": "not an address"})]
        with self.assertRaisesRegex(Exception, "already the main email address"):
            self.customer.secondary_email_ids = [(0, 0, {"email": "BEA@customer.example"})]


@tagged("post_install", "-at_install")
class TestInteractionSharing(InteractionCase):
    """Sharing is enforced by record rules: ORM, chatter and attachments."""

    def log(self, account):
        raw = raw_email(
            "bea@customer.example",
            account.email,
            subject=f"Confidential for {account.user_id.name}",
            attachments=[("terms.pdf", "application/pdf", PDF)],
        )
        logged, _fetched = self.ingest(account, raw)
        return logged

    def assert_hidden_from(self, user, interaction):
        self.assertFalse(self.env["crm.mail.interaction"].with_user(user).search([("id", "=", interaction.id)]))
        with self.assertRaises(AccessError):
            interaction.with_user(user).read(["body"])
        with self.assertRaises(AccessError):
            interaction.attachment_ids.with_user(user).read(["datas"])
        self.assertFalse(self.chatter(self.customer, user).filtered("crm_mail_interaction_id"))
        entries = interaction.sudo().mail_message_ids
        with self.assertRaises(AccessError):
            entries.with_user(user).read(["body"])
        self.assertEqual(self.customer.with_user(user).crm_mail_interaction_count, 0)

    def assert_visible_to(self, user, interaction):
        self.assertEqual(
            self.env["crm.mail.interaction"].with_user(user).search([("id", "=", interaction.id)]), interaction
        )
        self.assertIn("Confidential", interaction.with_user(user).read(["subject"])[0]["subject"])
        interaction.attachment_ids.with_user(user).read(["datas"])
        self.assertTrue(self.chatter(self.customer, user).filtered("crm_mail_interaction_id"))

    def test_private_mail_is_seen_by_its_owner_only(self):
        private = self.log(self.otto_box)
        self.assert_visible_to(self.otto, private)
        for user in (self.sam, self.tina, self.env.ref("base.user_admin")):
            self.assert_hidden_from(user, private)

    def test_team_mail_is_seen_by_teammates_only(self):
        shared = self.log(self.sam_box)
        self.assert_visible_to(self.tina, shared)
        self.assert_hidden_from(self.otto, shared)

    def test_everyone_and_later_changes_of_sharing(self):
        private = self.log(self.otto_box)
        self.otto_box.with_user(self.otto).sharing = "everyone"
        self.assert_visible_to(self.sam, private)
        self.otto_box.with_user(self.otto).sharing = "private"
        self.assert_hidden_from(self.sam, private)

    def test_only_the_owner_deletes(self):
        shared = self.log(self.sam_box)
        with self.assertRaises(AccessError):
            shared.with_user(self.tina).unlink()
        shared.with_user(self.sam).unlink()
        self.assertFalse(self.chatter(self.customer).filtered("crm_mail_interaction_id"), "its chatter entries go too")


@tagged("post_install", "-at_install")
class TestInteractionSharingOverRpc(HttpCase, InteractionCase):
    def test_private_mail_cannot_be_read_over_json_rpc(self):
        raw = raw_email("bea@customer.example", "otto@ourcompany.example", subject="Private offer")
        private, _fetched = self.ingest(self.otto_box, raw)
        self.authenticate("sam", "sam")
        for model, ids in (
            ("crm.mail.interaction", private.ids),
            ("mail.message", private.sudo().mail_message_ids.ids),
        ):
            with self.assertRaises(Exception) as caught, mute_logger("odoo.http"):
                self.make_jsonrpc_request(
                    f"/web/dataset/call_kw/{model}/read",
                    {"model": model, "method": "read", "args": [ids, ["body"]], "kwargs": {}},
                )
            self.assertIn("AccessError", str(caught.exception))
        found = self.make_jsonrpc_request(
            "/web/dataset/call_kw/mail.message/search_read",
            {
                "model": "mail.message",
                "method": "search_read",
                "args": [[("model", "=", "res.partner"), ("res_id", "=", self.customer.id)], ["subject"]],
                "kwargs": {},
            },
        )
        self.assertNotIn("Private offer", str(found))


@tagged("post_install", "-at_install")
class TestRemoveMailbox(InteractionCase):
    def remove(self, account, user, delete_logged):
        action = account.with_user(user).action_remove()
        wizard = self.env[action["res_model"]].with_user(user).with_context(**action["context"]).create({})
        # Counted as the user: a colleague's private mail is not counted for them.
        self.assertEqual(wizard.logged_count, 1 if user == account.user_id else 0)
        wizard.delete_logged = delete_logged
        wizard.action_remove()

    def test_removing_a_mailbox_can_delete_what_it_logged(self):
        logged, _fetched = self.ingest(
            self.sam_box,
            raw_email(
                "bea@customer.example", "sam@ourcompany.example", attachments=[("a.pdf", "application/pdf", PDF)]
            ),
        )
        attachment = logged.attachment_ids
        self.remove(self.sam_box, self.sam, delete_logged=True)
        self.assertFalse(self.sam_box.exists())
        self.assertFalse(logged.exists())
        self.assertFalse(attachment.exists())
        self.assertFalse(self.chatter(self.customer).filtered("crm_mail_interaction_id"))

    def test_or_keep_it(self):
        logged, _fetched = self.ingest(self.otto_box, raw_email("bea@customer.example", "otto@ourcompany.example"))
        self.remove(self.otto_box, self.otto, delete_logged=False)
        self.assertTrue(logged.exists())
        self.assertEqual(logged.sharing, "private", "still private")

    def test_only_its_owner_removes_it(self):
        self.ingest(self.otto_box, raw_email("bea@customer.example", "otto@ourcompany.example"))
        with self.assertRaises(AccessError):
            self.remove(self.otto_box, self.sam, delete_logged=True)
