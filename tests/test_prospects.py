import datetime

from lxml import etree

from odoo import fields
from odoo.exceptions import AccessError, UserError
from odoo.tests import Form, HttpCase, tagged
from odoo.tools import mute_logger
from odoo.tools.safe_eval import safe_eval

from odoo.addons.crm_mail_sync.mailsync.testing import ALICE

from .common import InteractionCase, MailSyncCase, Transactions
from .mail_samples import NEWSLETTER_HEADERS, raw_email, with_headers

AUTO_REPLIED = "Auto-Submitted: auto-replied\r\n"


class ProspectsCase(InteractionCase):
    def new_senders(self, user=None):
        Sender = self.env["crm.mail.new.sender"]
        return (Sender.with_user(user) if user else Sender.sudo()).search([])


@tagged("post_install", "-at_install")
class TestNewSenders(ProspectsCase):
    def test_a_first_inquiry_is_listed_from_its_headers_only(self):
        raw = raw_email("Nina Newco <nina@newco.example>", "sam@ourcompany.example", subject="Quote for 40 desks")
        logged, fetched = self.ingest(self.sam_box, raw)
        self.assertFalse(logged, "no contact or lead: nothing logged")
        self.assertEqual(fetched, [], "the body is not downloaded")
        entry = self.new_senders(self.sam)
        self.assertEqual(
            (entry.sender_name, entry.email, entry.domain, entry.subject, entry.folder, entry.uid),
            ("Nina Newco", "nina@newco.example", "newco.example", "Quote for 40 desks", "INBOX", "1"),
        )
        self.ingest(self.sam_box, raw)
        self.assertEqual(len(self.new_senders()), 1, "listed once")

    def test_newsletters_role_addresses_colleagues_and_sent_mail_are_not_listed(self):
        self.ingest(
            self.sam_box,
            with_headers(raw_email("news@weekly.example", "sam@ourcompany.example"), NEWSLETTER_HEADERS),
            raw_email("Acme Support <support@acme.example>", "sam@ourcompany.example"),
            raw_email("tina@ourcompany.example", "sam@ourcompany.example"),
            raw_email("sam@ourcompany.example", "nina@newco.example"),
            with_headers(raw_email("nina@newco.example", "sam@ourcompany.example"), "Auto-Submitted: auto-replied\r\n"),
        )
        self.assertFalse(self.new_senders())

    def test_switched_off_per_mailbox(self):
        self.sam_box.with_user(self.sam).new_senders_enabled = False
        self.ingest(self.sam_box, raw_email("nina@newco.example", "sam@ourcompany.example"))
        self.assertFalse(self.new_senders())

    def test_visible_to_their_owner_only_administrators_included(self):
        self.ingest(self.sam_box, raw_email("nina@newco.example", "sam@ourcompany.example"))
        entry = self.new_senders()
        self.assertEqual(self.new_senders(self.sam), entry)
        admin = self.env.ref("base.user_admin")
        for user in (self.tina, self.otto, admin):
            self.assertFalse(self.new_senders(user), user.name)
            with self.assertRaises(AccessError):
                entry.with_user(user).read(["subject"])
            with self.assertRaises(AccessError):
                entry.with_user(user).unlink()

    def test_kept_for_a_limited_time(self):
        self.ingest(self.sam_box, raw_email("nina@newco.example", "sam@ourcompany.example"))
        entry = self.new_senders()
        entry.date = fields.Datetime.now() - datetime.timedelta(days=29)
        self.env["crm.mail.new.sender"]._gc_old_entries()
        self.assertTrue(entry.exists())
        entry.date = fields.Datetime.now() - datetime.timedelta(days=31)
        self.env["crm.mail.new.sender"]._gc_old_entries()
        self.assertFalse(entry.exists())

    def test_ignore_sender_and_domain(self):
        self.ingest(
            self.sam_box,
            raw_email("nina@newco.example", "sam@ourcompany.example"),
            raw_email("nils@newco.example", "sam@ourcompany.example"),
            raw_email("pia@other.example", "sam@ourcompany.example"),
        )
        Sender = self.env["crm.mail.new.sender"].with_user(self.sam)
        Sender.search([("email", "=", "pia@other.example")]).action_ignore_sender()
        self.assertEqual(sorted(Sender.search([]).mapped("email")), ["nils@newco.example", "nina@newco.example"])
        Sender.search([("email", "=", "nina@newco.example")]).action_ignore_domain()
        self.assertFalse(Sender.search([]))
        blocked = self.env["crm.mail.blocked.sender"].with_user(self.sam).search([])
        self.assertEqual(sorted(blocked.mapped("entry")), ["newco.example", "pia@other.example"])
        self.ingest(self.sam_box, raw_email("nora@newco.example", "sam@ourcompany.example"))
        self.assertFalse(Sender.search([]), "a blocked domain is not listed again")


@tagged("post_install", "-at_install")
class TestNewSendersOverRpc(HttpCase, ProspectsCase):
    def test_another_user_and_the_administrator_cannot_read_them(self):
        self.ingest(self.sam_box, raw_email("nina@newco.example", "sam@ourcompany.example", subject="Secret deal"))
        entry = self.new_senders()
        for login in ("otto", "admin"):
            self.authenticate(login, login)
            with self.assertRaises(Exception) as caught, mute_logger("odoo.http"):
                self.make_jsonrpc_request(
                    "/web/dataset/call_kw/crm.mail.new.sender/read",
                    {"model": "crm.mail.new.sender", "method": "read", "args": [entry.ids, ["subject"]], "kwargs": {}},
                )
            self.assertIn("AccessError", str(caught.exception))
            found = self.make_jsonrpc_request(
                "/web/dataset/call_kw/crm.mail.new.sender/search_read",
                {"model": "crm.mail.new.sender", "method": "search_read", "args": [[], ["subject"]], "kwargs": {}},
            )
            self.assertEqual(found, [], login)
        self.authenticate("sam", "sam")
        found = self.make_jsonrpc_request(
            "/web/dataset/call_kw/crm.mail.new.sender/search_read",
            {"model": "crm.mail.new.sender", "method": "search_read", "args": [[], ["subject"]], "kwargs": {}},
        )
        self.assertEqual([row["subject"] for row in found], ["Secret deal"])

    def test_a_teammate_cannot_block_the_sender_of_an_email_they_did_not_receive(self):
        received, _fetched = self.ingest(self.sam_box, raw_email("bea@customer.example", "sam@ourcompany.example"))
        self.authenticate("tina", "tina")
        with self.assertRaises(Exception) as caught, mute_logger("odoo.http"):
            self.make_jsonrpc_request(
                "/web/dataset/call_kw/crm.mail.interaction/action_block_sender",
                {
                    "model": "crm.mail.interaction",
                    "method": "action_block_sender",
                    "args": [received.ids],
                    "kwargs": {},
                },
            )
        self.assertIn("AccessError", str(caught.exception))
        self.assertFalse(self.env["crm.mail.blocked.sender"].sudo().search([]))
        self.assertTrue(received.exists())


@tagged("post_install", "-at_install")
class TestContactPolicy(ProspectsCase):
    def contacts(self, email):
        return self.env["res.partner"].with_context(active_test=False).search([("email", "=ilike", email)])

    def test_none_by_default(self):
        self.assertEqual(self.sam_box.contact_policy, "none")
        self.ingest(self.sam_box, raw_email("sam@ourcompany.example", "nina@newco.example"))
        self.assertFalse(self.contacts("nina@newco.example"))

    def test_from_mail_i_send(self):
        self.sam_box.with_user(self.sam).contact_policy = "sent"
        logged, _fetched = self.ingest(
            self.sam_box,
            raw_email(
                "sam@ourcompany.example",
                ["Nina Newco <nina@newco.example>", "tina@ourcompany.example", "joe@gmail.com", "info@newco.example"],
            ),
            role="sent",
        )
        self.ingest(self.sam_box, raw_email("Pia <pia@other.example>", "sam@ourcompany.example"))
        nina = self.contacts("nina@newco.example")
        self.assertEqual(nina.name, "Nina Newco")
        self.assertEqual(logged.partner_ids, nina, "the email is logged on the new contact")
        self.assertIn("CRM Mail Sync", " ".join(nina.message_ids.mapped("body")), "it says where it came from")
        for address in ("joe@gmail.com", "info@newco.example", "pia@other.example"):
            self.assertFalse(self.contacts(address), address)
        self.assertEqual(self.env["res.users"].search_count([("email", "=", "tina@ourcompany.example")]), 1)
        self.assertEqual(len(self.contacts("tina@ourcompany.example")), 1, "no contact for a colleague")

    def test_from_mail_i_send_and_receive_public_domains_when_allowed(self):
        self.sam_box.with_user(self.sam).write({"contact_policy": "all", "business_only": False})
        self.ingest(
            self.sam_box,
            raw_email("Pia <pia@other.example>", "sam@ourcompany.example"),
            raw_email("Joe <joe@gmail.com>", "sam@ourcompany.example"),
            with_headers(raw_email("news@weekly.example", "sam@ourcompany.example"), NEWSLETTER_HEADERS),
        )
        self.assertTrue(self.contacts("pia@other.example"))
        self.assertTrue(self.contacts("joe@gmail.com"))
        self.assertFalse(self.contacts("news@weekly.example"), "bulk mail makes no contact")
        self.assertFalse(self.new_senders(), "they are contacts now, not new senders")

    def test_an_archived_contact_is_reused(self):
        old = self.env["res.partner"].create({"name": "Pia Old", "email": "pia@other.example", "active": False})
        self.sam_box.with_user(self.sam).contact_policy = "all"
        logged, _fetched = self.ingest(self.sam_box, raw_email("pia@other.example", "sam@ourcompany.example"))
        self.assertEqual(self.contacts("pia@other.example"), old)
        self.assertTrue(old.active)
        self.assertEqual(logged.partner_ids, old)


@tagged("post_install", "-at_install")
class TestExclusionsAndBlocklist(ProspectsCase):
    def test_bulk_mail_auto_replies_and_invitations_of_a_contact_are_not_logged(self):
        invitation = raw_email("bea@customer.example", "sam@ourcompany.example", subject="Invitation: visit")
        invitation = invitation.replace(b"Content-Type: text/plain", b"Content-Type: text/calendar; method=REQUEST")
        logged, _fetched = self.ingest(
            self.sam_box,
            with_headers(raw_email("bea@customer.example", "sam@ourcompany.example"), NEWSLETTER_HEADERS),
            with_headers(
                raw_email("bea@customer.example", "sam@ourcompany.example"), "Auto-Submitted: auto-replied\r\n"
            ),
            invitation,
            raw_email("bea@customer.example", "sam@ourcompany.example", subject="A real question"),
        )
        self.assertEqual(logged.mapped("subject"), ["A real question"])

    def test_each_rule_can_be_turned_off(self):
        self.sam_box.with_user(self.sam).write({"exclude_bulk": False, "exclude_role": False})
        self.customer.email = "info@customer.example"
        logged, _fetched = self.ingest(
            self.sam_box,
            with_headers(
                raw_email("info@customer.example", "sam@ourcompany.example", subject="News"), NEWSLETTER_HEADERS
            ),
        )
        self.assertEqual(logged.mapped("subject"), ["News"])

    def test_the_administrator_sets_the_defaults(self):
        self.env["ir.config_parameter"].sudo().set_param("crm_mail_sync.default_exclusions", "calendar")
        box = self.mailbox(self.tina, "private")
        self.assertEqual((box.exclude_bulk, box.exclude_role, box.exclude_calendar), (False, False, True))

    def test_blocking_removes_what_was_logged_for_this_user_and_unblocking_reads_again(self):
        sams, _fetched = self.ingest(self.sam_box, raw_email("bea@customer.example", "sam@ourcompany.example"))
        ottos, _fetched = self.ingest(self.otto_box, raw_email("bea@customer.example", "otto@ourcompany.example"))
        Blocked = self.env["crm.mail.blocked.sender"].with_user(self.sam)
        blocked = sams.with_user(self.sam).action_block_sender() and Blocked.search([])
        self.assertEqual((blocked.entry, blocked.kind), ("bea@customer.example", "address"))
        self.assertFalse(sams.exists(), "removed for Sam")
        self.assertFalse(self.chatter(self.customer, self.sam).filtered("crm_mail_interaction_id"))
        self.assertTrue(ottos.exists(), "Otto's stays")
        again, _fetched = self.ingest(
            self.sam_box, raw_email("bea@customer.example", "sam@ourcompany.example", subject="Again")
        )
        self.assertFalse(again, "not logged while blocked")

        self.sam_box.sudo().write({"sync_state": '{"INBOX": {}}', "next_sync": False})
        blocked.unlink()
        self.assertFalse(self.sam_box.sudo().sync_state, "the next sync reads the window again")
        self.assertTrue(self.sam_box.next_sync)
        again, _fetched = self.ingest(
            self.sam_box, raw_email("bea@customer.example", "sam@ourcompany.example", subject="Again")
        )
        self.assertTrue(again)

    def test_only_a_sharer_who_received_an_email_may_block_its_sender_from_its_form(self):
        received, _fetched = self.ingest(self.sam_box, raw_email("bea@customer.example", "sam@ourcompany.example"))
        sent, _fetched = self.ingest(
            self.sam_box, raw_email("sam@ourcompany.example", "bea@customer.example", subject="Offer"), role="sent"
        )
        self.assertTrue(received.with_user(self.sam).can_block_sender)
        self.assertFalse(sent.with_user(self.sam).can_block_sender, "Sam sent it: nobody to block")
        as_tina = received.with_user(self.tina)
        self.assertEqual(as_tina.sender, received.sender, "Tina reads it: Sam shares it with his team")
        self.assertFalse(as_tina.can_block_sender)
        with self.assertRaises(AccessError):
            as_tina.action_block_sender()
        self.assertFalse(self.env["crm.mail.blocked.sender"].sudo().search([]), "nothing blocked for Tina")
        self.assertTrue(received.exists())

    def test_a_domain_and_its_subdomains(self):
        Blocked = self.env["crm.mail.blocked.sender"].with_user(self.sam)
        Blocked.create({"entry": "customer.example", "kind": "subdomains"})
        logged, _fetched = self.ingest(self.sam_box, raw_email("x@eu.customer.example", "sam@ourcompany.example"))
        self.assertFalse(self.new_senders(), "a subdomain is blocked too")
        with self.assertRaises(UserError) as caught:
            Blocked.create({"entry": "not a domain!", "kind": "domain"})
        self.assertIn("not an email address or a domain", str(caught.exception))

    def test_one_blocklist_per_user(self):
        self.env["crm.mail.blocked.sender"].with_user(self.otto).create({"entry": "bea@customer.example"})
        self.assertFalse(self.env["crm.mail.blocked.sender"].with_user(self.sam).search([]))
        logged, _fetched = self.ingest(self.sam_box, raw_email("bea@customer.example", "sam@ourcompany.example"))
        self.assertTrue(logged, "Otto's blocklist is not Sam's")


@tagged("post_install", "-at_install")
class TestEmailFilters(ProspectsCase):
    def search_filter(self, user, name):
        """The records the Emails list shows ``user`` with the quick filter ``name``."""
        view = self.env.ref("crm_mail_sync.crm_mail_interaction_view_search")
        arch = self.env["crm.mail.interaction"].with_user(user).get_views([(view.id, "search")])["views"]["search"]
        node = etree.fromstring(arch["arch"]).xpath(f"//filter[@name='{name}']")[0]  # noqa: S320 - our view
        domain = safe_eval(node.get("domain"), {"uid": user.id})
        return self.env["crm.mail.interaction"].with_user(user).search(domain)

    def test_mine_and_my_teams(self):
        sams, _f = self.ingest(self.sam_box, raw_email("bea@customer.example", "sam@ourcompany.example"))
        tinas, _f = self.ingest(
            self.mailbox(self.tina, "everyone"), raw_email("bea@customer.example", "tina@ourcompany.example")
        )
        self.otto_box.sudo().sharing = "everyone"
        ottos, _f = self.ingest(self.otto_box, raw_email("bea@customer.example", "otto@ourcompany.example"))
        self.assertEqual(self.search_filter(self.sam, "mine"), sams)
        self.assertEqual(self.search_filter(self.sam, "my_team"), sams | tinas)
        self.assertEqual(self.search_filter(self.otto, "my_team"), ottos)

    def test_with_attachments_and_unanswered(self):
        question, _f = self.ingest(
            self.sam_box,
            raw_email(
                "bea@customer.example",
                "sam@ourcompany.example",
                subject="Question",
                message_id="<q-1@customer.example>",
                attachments=[("plan.pdf", "application/pdf", b"%PDF-1.4 plan")],
            ),
        )
        other, _f = self.ingest(
            self.sam_box, raw_email("bea@customer.example", "sam@ourcompany.example", subject="Other")
        )
        Interaction = self.env["crm.mail.interaction"].with_user(self.sam)
        self.assertEqual(Interaction.search([("has_attachments", "=", True)]), question)
        self.assertEqual(Interaction.search([("unanswered", "=", True)]), question | other)
        self.ingest(
            self.sam_box,
            raw_email(
                "sam@ourcompany.example",
                "bea@customer.example",
                subject="Re: Question",
                in_reply_to="<q-1@customer.example>",
                date=datetime.datetime(2026, 11, 21, tzinfo=datetime.UTC),
            ),
            role="sent",  # the reply is in the sent folder: the folder decides the direction
        )
        self.assertEqual(Interaction.search([("unanswered", "=", True)]), other)
        self.assertFalse(question.unanswered)


@tagged("post_install", "-at_install")
class TestNewSenderToOpportunity(MailSyncCase):
    """A real mailbox: the new sender's email and Alice's reply are read
    again and logged when the opportunity is created."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env.company.email = "info@example.com"
        cls.box = cls.Account.create(cls.imap_values(user_id=cls.salesman.id))
        cls.box.sudo().state = "connected"

    def setUp(self):
        super().setUp()
        self.dovecot.clear(ALICE[0])
        Transactions.patch(self)

    def test_create_opportunity_from_new_senders(self):
        self.dovecot.append(
            ALICE[0],
            "INBOX",
            raw_email(
                "Nina Newco <nina@newco.example>",
                ALICE[0],
                subject="Quote for 40 desks",
                message_id="<ask-1@newco.example>",
                body="Hello,\n\nWe need 40 desks for our new office.\n",
            ),
        )
        self.dovecot.append(
            ALICE[0],
            "Sent",
            raw_email(
                ALICE[0], "nina@newco.example", subject="Re: Quote for 40 desks", in_reply_to="<ask-1@newco.example>"
            ),
        )
        self.Account._cron_sync()
        Sender = self.env["crm.mail.new.sender"].with_user(self.salesman)
        entry = Sender.search([])
        self.assertEqual(entry.email, "nina@newco.example")
        self.assertFalse(self.env["crm.mail.interaction"].sudo().search([]))

        entry.action_show_preview()
        self.assertIn("40 desks for our new office", entry.preview)

        action = entry.action_create_opportunity()
        wizard = Form(self.env[action["res_model"]].with_user(self.salesman).with_context(**action["context"]))
        self.assertEqual(wizard.name, "Quote for 40 desks")
        self.assertEqual(wizard.contact_mode, "existing")
        nina = wizard.partner_id
        self.assertEqual((nina.name, nina.email), ("Nina Newco", "nina@newco.example"))
        lead = self.env["crm.lead"].browse(wizard.save().action_create()["res_id"])
        logged = self.env["crm.mail.interaction"].sudo().search([])
        self.assertEqual(sorted(logged.mapped("direction")), ["received", "sent"], "the reply too")
        self.assertEqual(logged.lead_ids, lead)
        self.assertEqual(logged.partner_ids, nina)
        self.assertFalse(Sender.search([]), "no longer a new sender")

    def test_an_email_deleted_from_the_mailbox_still_gives_the_contact(self):
        self.dovecot.append(
            ALICE[0],
            "INBOX",
            raw_email(
                "Olga Other <olga@otherco.example>", ALICE[0], subject="Chairs?", message_id="<q@otherco.example>"
            ),
        )
        self.Account._cron_sync()
        entry = self.env["crm.mail.new.sender"].with_user(self.salesman).search([])
        self.dovecot.clear(ALICE[0])  # deleted in the mail client meanwhile
        action = entry.action_create_opportunity()
        olga = self.env["res.partner"].search([("email", "=", "olga@otherco.example")])
        self.assertEqual(olga.name, "Olga Other", "the contact is kept")
        self.assertEqual(action["tag"], "display_notification")
        self.assertIn("olga@otherco.example could not be read again", action["params"]["message"])
        self.assertEqual(action["params"]["next"]["res_id"], olga.id)
