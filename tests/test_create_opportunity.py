import importlib.util
import os

from odoo.exceptions import AccessError
from odoo.tests import Form, new_test_user, tagged

from odoo.addons.crm_mail_sync.mailsync.message import clean_subject

from .common import PDF, InteractionCase
from .mail_samples import raw_email


@tagged("post_install", "-at_install")
class TestCreateOpportunity(InteractionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.acme = cls.env["res.partner"].create(
            {"name": "Acme Corp", "is_company": True, "email": "contact@acme.example"}
        )

    def wizard(self, interactions, user=None):
        user = user or self.sam
        action = interactions.with_user(user).action_create_opportunity()
        return Form(self.env[action["res_model"]].with_user(user).with_context(**action["context"]))

    def test_subject_cleaning(self):
        cases = {
            "Re: Offer for 500 chairs": "Offer for 500 chairs",
            "RE: Fwd: TR: RV: AW: Offer": "Offer",
            "Re[2]: FW: Offer": "Offer",
            "re:re: offer": "offer",
            "Réf. Report: Q3": "Réf. Report: Q3",
            "Report: Q3": "Report: Q3",
            "Fwd:": "",
        }
        for subject, expected in cases.items():
            self.assertEqual(clean_subject(subject), expected, subject)

    def test_from_an_email_of_a_known_contact(self):
        self.opportunity.action_set_lost()  # no open opportunity: a new one is wanted
        logged, _fetched = self.ingest(
            self.sam_box,
            raw_email(
                "Bea <bea@customer.example>",
                "sam@ourcompany.example",
                subject="RE: TR: New project: 2,000 desks",
                body="We need 2,000 desks by March.",
                attachments=[("specs.pdf", "application/pdf", PDF)],
            ),
        )
        form = self.wizard(logged)
        self.assertEqual(form.name, "New project: 2,000 desks")
        self.assertEqual((form.contact_mode, form.partner_id), ("existing", self.customer))
        self.assertEqual((form.user_id, form.team_id), (self.sam, self.team_a))
        self.assertIn("2,000 desks by March", form.description)
        self.assertFalse(form.existing_lead_id)
        action = form.save().action_create()

        lead = self.env["crm.lead"].browse(action["res_id"])
        self.assertEqual((lead.type, lead.partner_id, lead.user_id), ("opportunity", self.customer, self.sam))
        self.assertIn(lead, logged.lead_ids)
        self.assertEqual(
            self.env["ir.attachment"].search([("res_model", "=", "crm.lead"), ("res_id", "=", lead.id)]).name,
            "specs.pdf",
        )
        entry = self.chatter(lead).filtered("crm_mail_interaction_id")
        self.assertEqual(entry.crm_mail_interaction_id, logged, "the email shows in the opportunity's chatter")

        # A later reply in the thread lands on the new opportunity by itself.
        reply, _fetched = self.ingest(
            self.sam_box,
            raw_email(
                "Someone <someone@customer-partner.example>",
                "sam@ourcompany.example",
                subject="Re: New project",
                in_reply_to=logged.message_id,
            ),
        )
        self.assertIn(lead, reply.lead_ids)

    def test_from_an_unknown_sender_a_new_contact_in_the_company_of_its_domain(self):
        self.acme.email = "info@acme.example"
        self.env["res.partner"].create({"name": "Carl Acme", "email": "carl@acme.example"})  # a known contact
        logged, _fetched = self.ingest(
            self.sam_box,
            raw_email(
                "Dora Acme <dora@acme.example>",
                "sam@ourcompany.example, carl@acme.example",
                subject="Fwd: tender",
            ),
        )
        form = self.wizard(logged)
        self.assertEqual(form.contact_mode, "new")
        self.assertEqual((form.new_contact_name, form.new_contact_email), ("Dora Acme", "dora@acme.example"))
        self.assertEqual(form.company_partner_id, self.acme)
        lead = self.env["crm.lead"].browse(form.save().action_create()["res_id"])
        self.assertEqual((lead.partner_id.name, lead.partner_id.parent_id), ("Dora Acme", self.acme))
        self.assertEqual(lead.name, "tender")

    def test_a_sender_name_with_a_comma_is_proposed_whole(self):
        # The name and address come from the headers as logged, not read back
        # from the displayed From ("Acme, Dora <dora@acme.example>" split at
        # its comma gave "Dora").
        self.env["res.partner"].create({"name": "Carl Acme", "email": "carl@acme.example"})
        logged, _fetched = self.ingest(
            self.sam_box,
            raw_email('"Acme, Dora" <dora@acme.example>', "sam@ourcompany.example, carl@acme.example"),
        )
        form = self.wizard(logged)
        self.assertEqual((form.new_contact_name, form.new_contact_email), ("Acme, Dora", "dora@acme.example"))

    def test_emails_logged_before_get_their_addresses_from_the_displayed_ones(self):
        """migrations/19.0.1.3.0: emails logged before 1.3.0 have only the
        displayed From/To/Cc; the migration gives them structured addresses."""
        logged, _fetched = self.ingest(
            self.sam_box,
            raw_email("Bea <bea@customer.example>", "sam@ourcompany.example", cc="Carl <carl@acme.example>"),
        )
        self.env.flush_all()
        self.env.cr.execute("UPDATE crm_mail_interaction SET addresses = NULL WHERE id = %s", [logged.id])
        logged.invalidate_recordset()
        path = os.path.join(os.path.dirname(__file__), "..", "migrations", "19.0.1.3.0", "post-migrate.py")
        spec = importlib.util.spec_from_file_location("crm_mail_sync_migrate_1_3", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        module.migrate(self.env.cr, "19.0.1.2.0")
        logged.invalidate_recordset()
        self.assertEqual(logged._addresses("from"), [("Bea", "bea@customer.example")])
        self.assertEqual(logged._addresses("to", "cc"), [("", "sam@ourcompany.example"), ("Carl", "carl@acme.example")])
        form = self.wizard(logged)
        self.assertEqual((form.contact_mode, form.partner_id), ("existing", self.customer))

    def test_an_existing_opportunity_of_the_thread_is_offered_instead(self):
        first, _fetched = self.ingest(
            self.sam_box,
            raw_email("bea@customer.example", "sam@ourcompany.example", message_id="<t1@customer.example>"),
        )
        self.assertIn(self.opportunity, first.lead_ids)
        reply, _fetched = self.ingest(
            self.sam_box,
            raw_email("bea@customer.example", "sam@ourcompany.example", in_reply_to="<t1@customer.example>"),
        )
        form = self.wizard(reply)
        self.assertEqual(form.existing_lead_id, self.opportunity)
        wizard = form.save()
        self.assertEqual(wizard.action_open_existing()["res_id"], self.opportunity.id)
        before = self.env["crm.lead"].search_count([])
        lead = self.env["crm.lead"].browse(wizard.action_create()["res_id"])  # "create anyway"
        self.assertEqual(self.env["crm.lead"].search_count([]), before + 1)
        self.assertIn(lead, first.lead_ids, "the whole thread follows the new opportunity")

    def test_a_user_who_cannot_read_the_email_or_create_leads_cannot(self):
        private, _fetched = self.ingest(self.otto_box, raw_email("bea@customer.example", "otto@ourcompany.example"))
        with self.assertRaises(AccessError):
            self.wizard(private, user=self.sam)
        shared, _fetched = self.ingest(self.sam_box, raw_email("bea@customer.example", "sam@ourcompany.example"))
        employee = new_test_user(self.env, "emma", groups="base.group_user")
        self.sam_box.sharing = "everyone"
        with self.assertRaises(AccessError):
            self.wizard(shared, user=employee).save().action_create()
