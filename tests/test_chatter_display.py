import datetime
import importlib.util
import os

from markupsafe import Markup

from odoo.exceptions import AccessError
from odoo.tests import new_test_user, tagged

from odoo.addons.mail.tools.discuss import Store

from .common import PDF, InteractionCase
from .mail_samples import raw_email

TRACKER = "https://tracker.example/pixel.gif?u=42"
REMOTE_HTML = (
    f'<p style="background-image: url(https://tracker.example/bg.png)">Dear Sam,</p>'
    f'<p><img src="{TRACKER}" alt="logo"> our catalogue</p>'
    '<p><img src="data:image/png;base64,iVBORw0KGgo=" alt="inline"></p>'
)
SVG = b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
HTML = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"


@tagged("post_install", "-at_install")
class TestChatterDisplay(InteractionCase):
    """A logged email's chatter entry, as the web client receives it for its reader."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["res.lang"]._activate_lang("fr_FR")
        cls.env["res.lang"]._activate_lang("es_ES")
        cls.env["ir.module.module"]._load_module_terms(["crm_mail_sync"], ["fr_FR", "es_ES"])
        cls.tina.write({"lang": "fr_FR", "tz": "Europe/Paris"})

    def log(self, account, **kwargs):
        kwargs.setdefault("date", datetime.datetime(2026, 11, 25, 6, 42, 56, tzinfo=datetime.UTC))
        raw = raw_email(
            "Bea Buyer <bea@customer.example>",
            account.email,
            cc="Carl <carl@customer.example>",
            subject="Chairs",
            **kwargs,
        )
        logged, _fetched = self.ingest(account, raw)
        return logged

    def display(self, user, record=None):
        """``{message id: crm_mail_sync data}`` of the chatter of ``record`` as ``user`` reads it."""
        record = record or self.customer
        messages = self.chatter(record, user)
        with self.with_user(user.login):
            result = Store().add(messages.with_user(user)).get_result()
        return {values["id"]: values.get("crm_mail_sync") for values in result["mail.message"]}

    def test_a_french_reader_in_paris_reads_french_labels_and_a_paris_date(self):
        logged = self.log(self.sam_box)
        entry = logged.mail_message_ids.filtered(lambda m: m.model == "res.partner")
        self.assertNotIn("From", entry.body, "no header is stored in the body")
        self.assertNotIn(self.sam.email, entry.body)
        data = self.display(self.tina)[entry.id]
        self.assertEqual(data["header"][0], ["De :", "Bea Buyer <bea@customer.example>"])
        self.assertEqual(data["header"][1][0], "À :")
        self.assertEqual(data["header"][2], ["Cc :", "Carl <carl@customer.example>"])
        self.assertEqual(data["date"], "25/11/2026 07:42:56", "Paris is UTC+1 in November, French date format")
        self.assertEqual((data["labels"]["shared_by"], data["shared_by"]), ("Partagé par", "Sam Seller"))
        self.assertEqual(data["sharing"], "Équipe commerciale")
        # The same entry for the English owner, in UTC.
        self.sam.write({"lang": "en_US", "tz": "UTC"})
        data = self.display(self.sam)[entry.id]
        self.assertEqual(data["header"][0][0], "From:")
        self.assertEqual(data["date"], "11/25/2026 06:42:56 AM")
        self.assertEqual(data["labels"]["shared_by"], "Shared by")

    def test_actions_follow_what_the_reader_may_do(self):
        logged = self.log(self.sam_box)
        entry = logged.mail_message_ids.filtered(lambda m: m.model == "res.partner")
        # The conversation is already on Bea's open opportunity: Open, not Create.
        data = self.display(self.sam)[entry.id]
        self.assertEqual(data["lead"], {"id": self.opportunity.id, "name": self.opportunity.display_name})
        self.assertFalse(data["can_create_opportunity"])
        self.assertTrue(data["can_open_email"])
        self.assertEqual(data["labels"]["open_opportunity"], "Open Opportunity")

        self.opportunity.action_set_lost()
        data = self.display(self.sam)[entry.id]
        self.assertFalse(data["lead"])
        self.assertTrue(data["can_create_opportunity"])

        # An internal user without Sales rights reads an "everyone" email but cannot sell from it.
        clerk = new_test_user(self.env, "clerk", groups="base.group_user", name="Clerk")
        self.sam_box.sudo().sharing = "everyone"
        everyone = self.log(self.sam_box, message_id="<everyone@customer.example>")
        entry = everyone.mail_message_ids.filtered(lambda m: m.model == "res.partner")
        data = self.display(clerk)[entry.id]
        self.assertFalse(data["can_create_opportunity"])
        self.assertFalse(data["lead"])

        # Otto (another team) gets no entry at all for Sam's team email.
        self.assertNotIn(logged.mail_message_ids[0].id, self.display(self.otto))

    def test_the_store_of_an_email_nobody_logged_is_untouched(self):
        note = self.customer.message_post(body=Markup("<p>Called Bea</p>"), message_type="comment")
        self.assertIsNone(self.display(self.sam)[note.id])

    def test_remote_content_is_blocked_until_show_images(self):
        logged = self.log(self.sam_box, html=REMOTE_HTML)
        self.assertTrue(logged.has_remote_content)
        self.assertIn(TRACKER, logged.body, "the original is kept for Show images")
        for entry in logged.mail_message_ids:
            self.assertNotIn("tracker.example", entry.body)
            self.assertIn("our catalogue", entry.body)
            # An embedded image is no remote content (mail stores it as an attachment).
            self.assertRegex(entry.body, r'<img src="(data:image/png|/web/image/)[^"]*" alt="(inline|image0)"')
        email = logged.with_user(self.sam)
        self.assertNotIn("tracker.example", email.body_display)
        self.assertIn(TRACKER, email.with_context(crm_mail_show_images=True).body_display)
        self.assertIn(TRACKER, email.crm_mail_body_with_images())
        data = self.display(self.sam)[logged.mail_message_ids[0].id]
        self.assertTrue(data["has_remote_content"])
        with self.assertRaises(AccessError):
            logged.with_user(self.otto).crm_mail_body_with_images()

    def test_attachments_get_their_type_from_their_content(self):
        logged = self.log(
            self.sam_box,
            attachments=[
                ("invoice.pdf", "application/pdf", HTML),
                ("logo.png", "image/png", SVG),
                ("page.html", "text/html", HTML),
                ("quote.bin", "application/octet-stream", PDF),
            ],
        )
        types = {attachment.name: attachment.mimetype for attachment in logged.attachment_ids}
        self.assertEqual(
            types,
            {
                "invoice.pdf": "text/plain",
                "logo.png": "text/plain",
                "page.html": "text/plain",
                "quote.bin": "application/pdf",
            },
        )

    def test_migration_removes_the_stored_header_and_remote_content(self):
        logged = self.log(self.sam_box, html=REMOTE_HTML)
        old_body = Markup('<p class="o_crm_mail_sync_header text-muted small"><b>From:</b> x</p>') + logged.body
        logged.mail_message_ids.write({"body": old_body})
        path = os.path.join(os.path.dirname(__file__), "..", "migrations", "19.0.1.1.0", "post-migrate.py")
        spec = importlib.util.spec_from_file_location("crm_mail_sync_migrate_1_1", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        module.migrate(self.env.cr, "19.0.1.0.0")
        for entry in logged.mail_message_ids:
            self.assertNotIn("o_crm_mail_sync_header", entry.body)
            self.assertNotIn("tracker.example", entry.body)
            self.assertIn("our catalogue", entry.body)
