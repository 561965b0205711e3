"""An attacker's pass over the addon: what a salesperson, or a user of
another company, can reach through JSON-RPC (``/web/dataset/call_kw``), the
mail routes of the web client and crafted emails. One test per finding;
each names what it expects to be refused."""

import datetime
import json

from odoo.exceptions import AccessError
from odoo.tests import HttpCase, new_test_user, tagged
from odoo.tests.common import JsonRpcException
from odoo.tools import mute_logger

from odoo.addons.crm_mail_sync.mailsync.testing import ALICE

from . import test_company_logging as company_logging
from .common import InteractionCase, MailSyncCase, Transactions, use_encryption_key
from .mail_samples import raw_email

# What the company's receiving server (trusted by the logging mailbox) wrote on top.
FORGED = b"Authentication-Results: mx.ourcompany.example; dmarc=fail (p=reject) header.from=example.com\r\n"
PASSED = b"Authentication-Results: mx.ourcompany.example; dmarc=pass header.from=customer.example\r\n"


class AttackCase(InteractionCase):
    """Sam and Otto of company A (InteractionCase); Bella of company B with
    her own mailbox, contact and opportunity."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        use_encryption_key(cls)  # the setup wizard stores a password
        cls.company_b = cls.env["res.company"].create({"name": "Company B", "email": "info@company-b.example"})
        cls.bella = new_test_user(
            cls.env,
            "bella",
            email="bella@company-b.example",
            groups="sales_team.group_sale_salesman",
            name="Bella of B",
            company_id=cls.company_b.id,
            company_ids=[(6, 0, [cls.company_b.id])],
        )
        cls.bella_box = (
            cls.env["crm.mail.account"]
            .sudo()
            .create(
                {
                    "email": cls.bella.email,
                    "user_id": cls.bella.id,
                    "company_id": cls.company_b.id,
                    "imap_host": "imap.company-b.example",
                    "imap_login": cls.bella.email,
                    "sharing": "private",
                }
            )
        )
        cls.b_customer = cls.env["res.partner"].create(
            {"name": "Bo Buyer", "email": "bo@b-customer.example", "company_id": cls.company_b.id}
        )
        cls.b_lead = cls.env["crm.lead"].create(
            {
                "name": "Bo's confidential deal",
                "type": "opportunity",
                "partner_id": cls.b_customer.id,
                "user_id": cls.bella.id,
                "company_id": cls.company_b.id,
            }
        )

    def call_kw(self, model, method, args, kwargs=None):
        return self.make_jsonrpc_request(
            f"/web/dataset/call_kw/{model}/{method}",
            {"model": model, "method": method, "args": args, "kwargs": kwargs or {}},
        )


@tagged("post_install", "-at_install")
class TestAttackSurface(HttpCase, AttackCase):
    # -- New Senders: the sync's rows, never edited by their owner -----------
    def new_sender(self, user, account):
        return (
            self.env["crm.mail.new.sender"]
            .sudo()
            .create(
                {
                    "user_id": user.id,
                    "account_id": account.id,
                    "email": "stranger@unknown.example",
                    "domain": "unknown.example",
                    "subject": "Hello",
                    "message_key": "<hello@unknown.example>",
                    "folder": "INBOX",
                    "uid": "1",
                    "uidvalidity": "1",
                }
            )
        )

    def test_a_new_sender_entry_cannot_be_pointed_at_a_colleagues_mailbox(self):
        """Its mailbox, address, folder and UID say what *Add Contact* reads
        again, as superuser, from which mailbox: a salesperson who rewrote
        them would read and log a colleague's mail."""
        entry = self.new_sender(self.sam, self.sam_box)
        forged = {
            "account_id": self.otto_box.id,
            "user_id": self.otto.id,
            "email": "otto-customer@example.com",
            "folder": "Sent",
            "uid": "7",
            "message_key": "<other@example.com>",
        }
        for name, value in forged.items():
            with self.subTest(field=name), self.assertRaises(AccessError):
                entry.with_user(self.sam).write({name: value})
        self.authenticate("sam", "sam")
        with self.assertRaisesRegex(JsonRpcException, "AccessError"), mute_logger("odoo.http"):
            self.call_kw("crm.mail.new.sender", "write", [[entry.id], {"account_id": self.otto_box.id}])
        self.assertEqual((entry.account_id, entry.user_id, entry.uid), (self.sam_box, self.sam, "1"))
        # Its owner still reads and acts on it (ignoring the sender removes it).
        self.assertEqual(self.call_kw("crm.mail.new.sender", "read", [[entry.id], ["email"]])[0]["email"], entry.email)
        self.call_kw("crm.mail.new.sender", "action_ignore_sender", [[entry.id]])
        self.assertFalse(entry.exists())

    # -- what holds: a colleague's records over JSON-RPC ------------------------
    def test_a_colleagues_mailbox_and_its_records_are_refused_over_rpc(self):
        """Every button and read of the addon, called by id on what belongs
        to a colleague, answers AccessError and changes nothing."""
        otto_mail, _fetched = self.ingest(self.otto_box, raw_email("bea@customer.example", self.otto.email))
        folder = self.env["crm.mail.folder"].sudo().create({"account_id": self.otto_box.id, "name": "INBOX"})
        skipped = self.env["crm.mail.skipped.message"]._record(self.otto_box, "INBOX", 1, 5, "broken")
        before = self.otto_box.read(["state", "last_error", "next_sync", "sync_paused"])
        self.authenticate("sam", "sam")
        calls = [
            ("crm.mail.account", "action_test_connection", [[self.otto_box.id]]),
            ("crm.mail.account", "action_sync_now", [[self.otto_box.id]]),
            ("crm.mail.account", "read", [[self.otto_box.id], ["email"]]),
            ("crm.mail.folder", "read", [[folder.id], ["name"]]),
            ("crm.mail.skipped.message", "action_retry", [[skipped.id]]),
            ("crm.mail.skipped.message", "unlink", [[skipped.id]]),
            ("crm.mail.interaction", "crm_mail_body_with_images", [[otto_mail.id]]),
            ("crm.mail.interaction", "unlink", [[otto_mail.id]]),
            ("crm.mail.account.remove", "create", [{"account_id": self.otto_box.id, "delete_logged": True}]),
            ("crm.mail.create.opportunity", "create", [{"interaction_ids": [(6, 0, otto_mail.ids)], "name": "Mine"}]),
        ]
        for model, method, args in calls:
            with (
                self.subTest(model=model, method=method),
                self.assertRaisesRegex(JsonRpcException, "AccessError"),
                mute_logger("odoo.http"),
            ):
                result = self.call_kw(model, method, args)
                if method == "create":  # a wizard on a colleague's record: its button refuses
                    button = "action_remove" if model == "crm.mail.account.remove" else "action_create"
                    self.call_kw(model, button, [[result]])
        self.assertEqual(self.otto_box.read(["state", "last_error", "next_sync", "sync_paused"]), before)
        self.assertTrue(otto_mail.exists() and skipped.exists())
        # The sign-in routes start nothing for a colleague's mailbox.
        with mute_logger("odoo.http"):
            response = self.url_open(f"/crm_mail_sync/oauth/google/start?account_id={self.otto_box.id}")
        self.assertEqual(response.status_code, 403)

    def test_a_logged_emails_addresses_and_block_button_over_rpc(self):
        """The stored addresses and the remote-content flag of a logged email
        are not written by its reader, nor read by another company's user,
        who may not block its sender either."""
        sams, _fetched = self.ingest(self.sam_box, raw_email("bea@customer.example", self.sam.email))
        before = sams.read(["addresses", "has_remote_content"])
        self.authenticate("sam", "sam")
        for values in ({"addresses": {"from": [["Eve", "eve@evil.example"]]}}, {"has_remote_content": True}):
            with (
                self.subTest(values=values),
                self.assertRaisesRegex(JsonRpcException, "AccessError"),
                mute_logger("odoo.http"),
            ):
                self.call_kw("crm.mail.interaction", "write", [sams.ids, values])
        self.authenticate("bella", "bella")
        for method, args in (
            ("read", [sams.ids, ["addresses", "can_block_sender"]]),
            ("action_block_sender", [sams.ids]),
        ):
            with (
                self.subTest(method=method),
                self.assertRaisesRegex(JsonRpcException, "AccessError"),
                mute_logger("odoo.http"),
            ):
                self.call_kw("crm.mail.interaction", method, args)
        self.assertEqual(sams.read(["addresses", "has_remote_content"]), before)
        self.assertFalse(self.env["crm.mail.blocked.sender"].sudo().search([]))

    # -- wizards: their creator's alone ----------------------------------------
    def test_a_colleagues_wizard_is_neither_read_nor_changed_nor_run(self):
        """Odoo 19 gives no implicit "own records" rule to wizards: Otto's
        setup wizard holds his saved password (used by *Test*, as superuser,
        towards the server it names) and his Create Opportunity wizard the
        text of his private email."""
        setup = (
            self.env["crm.mail.setup.wizard"]
            .with_user(self.otto)
            .create({"email": self.otto.email, "imap_host": "imap.ourcompany.example", "imap_login": self.otto.email})
        )
        setup.with_user(self.otto).password = "otto-secret"
        private, _fetched = self.ingest(
            self.otto_box, raw_email("bea@customer.example", self.otto.email, body="Otto's secret discount: 40%")
        )
        opportunity = (
            self.env["crm.mail.create.opportunity"]
            .with_user(self.otto)
            .with_context(active_model="crm.mail.interaction", active_ids=private.ids)
            .create({})
        )
        self.assertIn("secret discount", opportunity.description)
        remove = self.env["crm.mail.account.remove"].with_user(self.otto).create({"account_id": self.otto_box.id})
        self.authenticate("sam", "sam")
        calls = [
            ("crm.mail.setup.wizard", "read", [[setup.id], ["email", "imap_login"]]),
            ("crm.mail.setup.wizard", "write", [[setup.id], {"imap_host": "imap.attacker.example"}]),
            ("crm.mail.setup.wizard", "action_test", [[setup.id]]),
            ("crm.mail.setup.wizard", "search_read", [[("id", "=", setup.id)], ["email"]]),
            ("crm.mail.create.opportunity", "read", [[opportunity.id], ["description"]]),
            ("crm.mail.create.opportunity", "action_create", [[opportunity.id]]),
            ("crm.mail.account.remove", "write", [[remove.id], {"delete_logged": True}]),
        ]
        for model, method, args in calls:
            with self.subTest(model=model, method=method), mute_logger("odoo.http"):
                try:
                    answer = self.call_kw(model, method, args)
                except JsonRpcException as error:
                    self.assertIn("AccessError", str(error))
                else:
                    self.assertEqual(answer, [], "found nothing")  # a search finds nothing
        self.assertEqual(setup.imap_host, "imap.ourcompany.example")
        self.assertFalse(remove.delete_logged)
        # Each still uses their own.
        self.assertEqual(self.call_kw("crm.mail.setup.wizard", "create", [{"email": self.sam.email}]) > 0, True)

    # -- chatter entries of a logged email through the mail routes -----------
    def test_a_hidden_logged_email_takes_no_reaction(self):
        """Odoo's message routes accept a message on a record the user may
        write, whatever the message's own rules: a logged email hidden from
        the user must not take their reaction (nor tell them it exists)."""
        # From Bea's private address (a secondary address of the contact).
        logged, _fetched = self.ingest(
            self.otto_box, raw_email("Bea.Private@Gmail.com", self.otto.email, subject="Otto's private deal")
        )
        entry = logged.sudo().mail_message_ids.filtered(lambda message: message.model == "crm.lead")
        self.assertEqual((entry.res_id, len(entry)), (self.opportunity.id, 1))
        self.authenticate("sam", "sam")  # Sam owns the opportunity, not Otto's private email
        with self.assertRaises(JsonRpcException), mute_logger("odoo.http"):
            self.make_jsonrpc_request(
                "/mail/message/reaction", {"message_id": entry.id, "content": "👍", "action": "add"}
            )
        self.assertFalse(self.env["mail.message.reaction"].search([("message_id", "=", entry.id)]))
        # Nor are its addresses suggested as recipients of a reply to it.
        try:
            with mute_logger("odoo.http"):
                answer = self.make_jsonrpc_request(
                    "/mail/thread/recipients",
                    {"thread_model": "crm.lead", "thread_id": self.opportunity.id, "message_id": entry.id},
                )
        except JsonRpcException:
            answer = []
        self.assertNotIn("bea.private", json.dumps(answer).lower())
        # A logged email Sam may see takes his reaction.
        shared, _fetched = self.ingest(
            self.sam_box, raw_email("bea@customer.example", self.sam.email, subject="Sam's shared deal")
        )
        mine = shared.sudo().mail_message_ids.filtered(lambda message: message.model == "crm.lead")
        self.make_jsonrpc_request("/mail/message/reaction", {"message_id": mine.id, "content": "👍", "action": "add"})
        self.assertEqual(self.env["mail.message.reaction"].search([("message_id", "=", mine.id)]).content, "👍")

    # -- the other side of a relation -------------------------------------------
    def test_an_opportunity_does_not_rewrite_which_emails_are_logged_on_it(self):
        """The logged emails of an opportunity are the sync's (``lead_ids`` of
        crm.mail.interaction, which no user writes); its inverse on crm.lead
        must not be a way round, to unlink a colleague's private email from
        the opportunity or to link another one to it."""
        ottos, _fetched = self.ingest(
            self.otto_box, raw_email("bea@customer.example", self.otto.email, subject="Otto and Bea")
        )
        self.assertEqual(ottos.lead_ids, self.opportunity)
        self.env["res.partner"].create({"name": "Carl Client", "email": "carl@client.example"})
        elsewhere, _fetched = self.ingest(
            self.otto_box, raw_email("carl@client.example", self.otto.email, subject="Unrelated")
        )
        self.assertTrue(elsewhere)
        self.authenticate("sam", "sam")  # Sam owns the opportunity
        for command in ([(5, 0, 0)], [(3, ottos.id, 0)], [(6, 0, [])], [(4, elsewhere.id, 0)]):
            with self.subTest(command=command), mute_logger("odoo.http"):
                try:
                    self.call_kw("crm.lead", "write", [[self.opportunity.id], {"crm_mail_interaction_ids": command}])
                except JsonRpcException as error:
                    self.assertIn("AccessError", str(error))
                self.assertEqual(ottos.lead_ids, self.opportunity)
                self.assertFalse(elsewhere.lead_ids)
        # Sam still edits his opportunity.
        self.call_kw("crm.lead", "write", [[self.opportunity.id], {"name": "Bea's bigger order"}])

    # -- a search filter over what the user may not see ------------------------
    def test_unanswered_says_nothing_of_a_reply_the_user_may_not_see(self):
        """Otto's reply to Bea is private: Sam's *Unanswered* filter must not
        tell him it exists (nor another company's reply)."""
        question = raw_email(
            "bea@customer.example", [self.sam.email, self.otto.email], message_id="<q-9@customer.example>"
        )
        sams, _fetched = self.ingest(self.sam_box, question)
        ottos, _fetched = self.ingest(self.otto_box, question)
        reply = raw_email(
            self.otto.email,
            "bea@customer.example",
            subject="Re: Your quote",
            in_reply_to="<q-9@customer.example>",
            date=datetime.datetime(2026, 11, 21, tzinfo=datetime.UTC),
        )
        self.ingest(self.otto_box, reply, role="sent")
        Interaction = self.env["crm.mail.interaction"]
        self.assertIn(sams, Interaction.with_user(self.sam).search([("unanswered", "=", True)]))
        self.assertTrue(sams.with_user(self.sam).unanswered)
        # Otto, who sees his reply, has his copy answered.
        self.assertNotIn(ottos, Interaction.with_user(self.otto).search([("unanswered", "=", True)]))
        self.assertFalse(ottos.with_user(self.otto).unanswered)

    def test_a_hidden_logged_emails_attachment_is_not_downloaded(self):
        """The attachments of Otto's private email hang on its chatter entries
        of Sam's opportunity: /web/content serves them to Otto only."""
        logged, _fetched = self.ingest(
            self.otto_box,
            raw_email(
                "bea@customer.example",
                self.otto.email,
                attachments=[("prices.pdf", "application/pdf", b"%PDF-1.4 secret prices")],
            ),
        )
        attachment = logged.sudo().attachment_ids
        self.assertEqual(len(attachment), 1)
        self.authenticate("sam", "sam")
        for url in (f"/web/content/{attachment.id}", f"/web/content/{attachment.id}?access_token=x&download=true"):
            with self.subTest(url=url), mute_logger("odoo.http"):
                response = self.url_open(url)
                self.assertIn(response.status_code, (403, 404))
                self.assertNotIn(b"secret prices", response.content)
        self.authenticate("otto", "otto")
        self.assertIn(b"secret prices", self.url_open(f"/web/content/{attachment.id}").content)

    # -- a crafted References header -----------------------------------------
    def test_a_reference_does_not_link_an_email_to_another_companys_opportunity(self):
        """An email quoting the Message-ID of another company's conversation
        (known to whoever was in copy, or guessed) is not logged on that
        company's opportunity."""
        b_mail, _fetched = self.ingest(
            self.bella_box,
            raw_email("bo@b-customer.example", self.bella.email, message_id="<deal-b@b-customer.example>"),
        )
        self.assertEqual(b_mail.lead_ids, self.b_lead)
        forged = raw_email(
            "stranger@unknown.example",
            self.sam.email,
            subject="Re: the deal",
            in_reply_to="<deal-b@b-customer.example>",
        )
        logged, _fetched = self.ingest(self.sam_box, forged)
        self.assertFalse(logged.lead_ids & self.b_lead)
        self.assertEqual(
            self.env["mail.message"].search_count(
                [("model", "=", "crm.lead"), ("res_id", "=", self.b_lead.id), ("subject", "=", "Re: the deal")]
            ),
            0,
        )
        # The same reply in company B's own mailbox still follows its conversation.
        reply, _fetched = self.ingest(self.bella_box, forged)
        self.assertEqual(reply.lead_ids, self.b_lead)
        self.assertEqual(reply.subject, "Re: the deal")

    # -- a forged From: the owner's own address, in the inbox ------------------
    def test_a_forged_own_from_in_the_inbox_creates_no_contact(self):
        """Anyone can write the owner's address in From: a message in the
        inbox is received (mailsync.matching.direction), so "Create contacts
        from the mail I send" makes no contact of the people it names in To,
        nor brings an archived one back."""
        archived = self.env["res.partner"].create({"name": "Old Rival", "email": "rival@old.example", "active": False})
        self.sam_box.with_user(self.sam).contact_policy = "sent"
        forged = raw_email(
            self.sam.email, ["Planted Name <planted@evil.example>", "rival@old.example"], subject="Forged"
        )
        self.ingest(self.sam_box, forged, role="inbox")
        Partner = self.env["res.partner"].with_context(active_test=False)
        self.assertFalse(Partner.search([("email", "=ilike", "planted@evil.example")]))
        self.assertFalse(archived.active)
        # The same email in the Sent folder is the owner's: its recipients become contacts.
        self.ingest(self.sam_box, forged, role="sent")
        self.assertEqual(Partner.search([("email", "=ilike", "planted@evil.example")]).name, "Planted Name")


@tagged("post_install", "-at_install")
class TestForgedColleagueOnTheLoggingMailbox(MailSyncCase):
    """The company logging mailbox takes mail from anyone: a From naming a
    colleague, which the receiving server found forged, makes neither that
    colleague's sent mail nor their forward."""

    # Not imported as a class: the loader would run its tests here again.
    queue = company_logging.TestCompanyLogging.queue
    run_cron = company_logging.TestCompanyLogging.run_cron
    logged = company_logging.TestCompanyLogging.logged

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.dovecot.add_user(*company_logging.LOG)
        cls.customer = cls.env["res.partner"].create({"name": "Bea Buyer", "email": company_logging.CUSTOMER})
        cls.box = cls.Account.create(
            cls.imap_values(
                *company_logging.LOG,
                kind="queue",
                user_id=False,
                sharing="everyone",
                queue_storage_folder="Logged",
                queue_not_logged_folder="Not logged",
                sync_authserv_ids="mx.ourcompany.example",
            )
        )

    def setUp(self):
        super().setUp()
        self.dovecot.clear(company_logging.LOG[0])
        client = self.dovecot.client(company_logging.LOG[0])
        for name in ("Logged", "Not logged"):
            if not client.folder_exists(name):
                client.create_folder(name)
        client.logout()
        self.box.sudo().write({"state": "connected", "queue_enabled": True, "next_sync": False})
        Transactions.patch(self)

    def test_a_forged_colleague_sends_nothing_in_their_name(self):
        self.queue(FORGED + raw_email(ALICE[0], company_logging.CUSTOMER, subject="Our new bank account"))
        self.run_cron()
        entry = self.logged()
        self.assertEqual(entry.subject, "Our new bank account")
        self.assertNotEqual(entry.owner_id, self.salesman)
        self.assertEqual((entry.direction, entry.sender_check), ("received", "fail"))
        entries = entry.mail_message_ids
        self.assertTrue(entries)
        self.assertNotIn(self.salesman.partner_id, entries.author_id)
        self.assertIn("Unverified sender", entries[0].body)

    def test_a_forged_colleague_forwards_nothing(self):
        original = PASSED + raw_email(
            f"Bea Buyer <{company_logging.CUSTOMER}>", ALICE[0], subject="Pay to this account"
        )
        forward = (
            FORGED
            + (
                f"From: {ALICE[0]}\r\nTo: {company_logging.LOG[0]}\r\nSubject: Fwd: Pay to this account\r\n"
                "Message-ID: <fwd-forged@example.com>\r\nDate: Tue, 24 Nov 2026 09:00:00 +0000\r\n"
                "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
                "Content-Type: text/plain\r\n\r\nFYI\r\n--b\r\nContent-Type: message/rfc822\r\n\r\n"
            ).encode()
            + original
            + b"\r\n--b--\r\n"
        )
        self.queue(forward)
        self.run_cron()
        # Not unwrapped as the salesperson's forward: no "verified" email of Bea's.
        self.assertFalse(self.logged().filtered(lambda entry: entry.subject == "Pay to this account"))
        self.assertFalse(self.logged().filtered(lambda entry: entry.owner_id == self.salesman))
