"""One logged email per message and company, with its sharers (issue 13,
items 1 and 2): the same email from several mailboxes, Odoo's own mail."""

import faulthandler
import importlib.util
import json
import os
import threading
import time
from unittest.mock import patch

from markupsafe import Markup

from odoo import SUPERUSER_ID, api, sql_db
from odoo.exceptions import AccessError
from odoo.orm.environments import Transaction
from odoo.tests import HttpCase, TransactionCase, new_test_user, tagged

from odoo.addons.crm_mail_sync.mailsync.testing import ALICE, BOB
from odoo.addons.crm_mail_sync.mailsync.testing.dovecot import DovecotServer
from odoo.addons.crm_mail_sync.models.crm_mail_interaction import LoggedConcurrently

from .common import IMAP_TAG, PDF, InteractionCase, use_encryption_key
from .mail_samples import raw_email

SUBJECT = "Confidential: our offer for 500 chairs"


class SharedEmailCase(InteractionCase):
    """Sam's mailbox is shared with his team (Tina), Otto's is private, Uma's
    with everyone; Vic is in no team and has no mailbox."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        groups = "sales_team.group_sale_salesman"
        cls.uma = new_test_user(cls.env, "uma", email="uma@ourcompany.example", groups=groups, name="Uma Everyone")
        cls.vic = new_test_user(cls.env, "vic", email="vic@ourcompany.example", groups=groups, name="Vic Visitor")
        cls.uma_box = cls.mailbox(cls.uma, "everyone")

    def receive(self, *accounts, message_id="<offer-500@customer.example>", **kwargs):
        """The same email, received in each of ``accounts``; returns the logged emails."""
        raw = raw_email(
            "Bea Buyer <bea@customer.example>",
            "sam@ourcompany.example, otto@ourcompany.example, uma@ourcompany.example",
            subject=SUBJECT,
            message_id=message_id,
            attachments=[("offer.pdf", "application/pdf", PDF)],
            **kwargs,
        )
        logged = self.env["crm.mail.interaction"]
        for account in accounts:
            logged |= self.ingest(account, raw)[0]
        return logged

    def entries(self, record, user=None):
        return self.chatter(record, user).filtered(lambda m: m.sudo().crm_mail_interaction_id)

    def sees(self, user, email):
        """Whether ``user`` sees ``email`` through the ORM, everywhere it shows
        (and consistently: all or nothing)."""
        found = bool(self.env["crm.mail.interaction"].with_user(user).search([("id", "=", email.id)]))
        in_chatter = bool(
            self.entries(self.customer, user).filtered(lambda m: m.sudo().crm_mail_interaction_id == email)
        )
        try:
            email.attachment_ids.with_user(user).read(["datas"])
            email.with_user(user).read(["body"])
            readable = True
        except AccessError:
            readable = False
        self.assertEqual({found, in_chatter, readable}, {found}, f"{user.name}: all or nothing")
        return found


@tagged("post_install", "-at_install")
class TestOneEmailManySharers(SharedEmailCase):
    def test_three_mailboxes_give_one_email_seen_as_the_union_of_their_sharings(self):
        email = self.receive(self.otto_box)
        self.assertEqual(len(email), 1)
        # The rule's copies on the entry: one sharer decides on the row itself.
        self.assertEqual(self.entries(self.customer).sudo().crm_mail_owner_id, self.otto)
        self.assertEqual(
            {user.login: self.sees(user, email) for user in (self.sam, self.tina, self.otto, self.uma, self.vic)},
            {"sam": False, "tina": False, "otto": True, "uma": False, "vic": False},
        )
        again = self.receive(self.sam_box)
        self.assertEqual(again, email, "the same email, one more sharer")
        self.assertFalse(self.entries(self.customer).sudo().crm_mail_owner_id, "two sharers: the rule reads them")
        self.assertEqual(
            {user.login: self.sees(user, email) for user in (self.sam, self.tina, self.otto, self.uma, self.vic)},
            {"sam": True, "tina": True, "otto": True, "uma": False, "vic": False},
        )
        self.assertEqual(self.receive(self.uma_box), email)
        for user in (self.sam, self.tina, self.otto, self.uma, self.vic):
            self.assertTrue(self.sees(user, email), user.name)

        email = email.sudo()
        self.assertEqual(
            sorted((s.owner_id.login, s.account_id.email, s.sharing) for s in email.share_ids),
            [
                ("otto", "otto@ourcompany.example", "private"),
                ("sam", "sam@ourcompany.example", "team"),
                ("uma", "uma@ourcompany.example", "everyone"),
            ],
        )
        self.assertEqual(email.sharing, "everyone")
        self.assertEqual(len(self.entries(self.customer)), 1, "one chatter entry on the contact")
        self.assertEqual(len(self.entries(self.opportunity)), 1, "and one on the opportunity")
        attachments = self.env["ir.attachment"].search(
            [("res_model", "=", "crm.mail.interaction"), ("res_id", "=", email.id)]
        )
        self.assertEqual(attachments.mapped("name"), ["offer.pdf"], "one copy of the attachments")
        self.assertEqual(self.entries(self.customer).attachment_ids, attachments)

    def test_shared_by_names_the_sharers_that_let_the_reader_see_it(self):
        email = self.receive(self.otto_box, self.sam_box)
        entry = self.entries(self.customer)
        for user, names, sharing in (
            (self.tina, "Sam Seller", "team"),
            (self.sam, "Sam Seller", "team"),
            (self.otto, "Otto Other", "private"),
        ):
            data = email._chatter_display(user)[email.id]
            self.assertEqual((data["shared_by"], data["sharing"]), (names, dict(self.sharing_labels())[sharing]))
            self.assertEqual(email.with_user(user).owner_ids, self.env["res.users"].search([("name", "=", names)]))
        self.otto_box.sudo().sharing = "team"
        self.assertEqual(email._chatter_display(self.otto)[email.id]["shared_by"], "Otto Other")
        self.otto_box.sudo().sharing = "everyone"
        data = email._chatter_display(self.sam)[email.id]
        self.assertEqual((data["shared_by"], data["sharing"]), ("Otto Other, Sam Seller", "Everyone"))
        self.assertEqual(entry.sudo().crm_mail_sharing, "everyone", "the rule's copy follows the widest sharer")
        self.assertTrue(self.sees(self.vic, email))

    def sharing_labels(self):
        return self.env["crm.mail.interaction.share"]._fields["sharing"].selection

    def test_direction_is_per_sharer(self):
        raw = raw_email(
            "Sam Seller <sam@ourcompany.example>",
            "bea@customer.example",
            cc="otto@ourcompany.example",
            subject="Our quote",
        )
        sent = self.ingest(self.sam_box, raw, role="sent")[0]
        received = self.ingest(self.otto_box, raw)[0]
        self.assertEqual(sent, received)
        directions = {share.owner_id.login: share.direction for share in sent.sudo().share_ids}
        self.assertEqual(directions, {"sam": "sent", "otto": "received"})
        self.assertEqual(sent.direction, "sent", "a colleague sent it")
        self.assertEqual(self.entries(self.customer).author_id, self.sam.partner_id)

    def test_removing_a_mailbox_with_its_emails_removes_that_sharer_only(self):
        email = self.receive(self.sam_box, self.otto_box)
        attachment = email.attachment_ids
        action = self.sam_box.with_user(self.sam).action_remove()
        wizard = self.env[action["res_model"]].with_user(self.sam).with_context(**action["context"]).create({})
        self.assertEqual(wizard.logged_count, 1)
        wizard.delete_logged = True
        wizard.action_remove()
        self.assertTrue(email.exists(), "Otto still shares it")
        self.assertEqual(email.sudo().share_ids.owner_id, self.otto)
        self.assertFalse(self.sees(self.tina, email), "no longer shared with Sam's team")
        self.assertTrue(self.sees(self.otto, email))
        self.assertEqual(len(self.entries(self.customer)), 1)
        self.assertTrue(attachment.exists())
        # The last sharer goes: the email goes, with its entries and attachments.
        action = self.otto_box.with_user(self.otto).action_remove()
        wizard = self.env[action["res_model"]].with_user(self.otto).with_context(**action["context"]).create({})
        wizard.delete_logged = True
        wizard.action_remove()
        self.assertFalse(email.exists())
        self.assertFalse(attachment.exists())
        self.assertFalse(self.entries(self.customer))

    def test_a_sharer_deleting_the_email_deletes_what_they_shared(self):
        email = self.receive(self.sam_box, self.otto_box)
        with self.assertRaises(AccessError):
            email.with_user(self.tina).unlink()
        email.with_user(self.sam).unlink()
        self.assertTrue(email.exists())
        self.assertFalse(self.sees(self.sam, email))
        self.assertTrue(self.sees(self.otto, email))
        email.with_user(self.otto).unlink()
        self.assertFalse(email.exists())

    def test_each_mailbox_logs_it_once_and_only_the_first_downloads_it(self):
        raw = raw_email("bea@customer.example", "sam@ourcompany.example, otto@ourcompany.example")
        first, fetched = self.ingest(self.sam_box, raw)
        self.assertEqual(fetched, [1])
        second, fetched = self.ingest(self.otto_box, raw)
        self.assertEqual((second, fetched), (first, []), "joined from its headers: no second download")
        again, fetched = self.ingest(self.otto_box, raw)
        self.assertEqual((again, fetched), (self.env["crm.mail.interaction"], []))
        self.assertEqual(len(first.sudo().share_ids), 2)

    def test_a_second_mailbox_adds_the_records_it_found(self):
        raw = raw_email(
            "bea@customer.example", "sam@ourcompany.example, otto@ourcompany.example", cc="dan@prospect.example"
        )
        email = self.ingest(self.sam_box, raw)[0]
        dan = self.env["res.partner"].create({"name": "Dan", "email": "dan@prospect.example"})
        self.ingest(self.otto_box, raw)
        self.assertEqual(email.partner_ids, self.customer | dan)
        self.assertEqual(len(self.entries(dan)), 1)
        self.assertEqual(len(self.entries(self.customer)), 1)


@tagged("post_install", "-at_install")
class TestSharedEmailOverRpc(HttpCase, SharedEmailCase):
    def thread_messages(self, record):
        return self.make_jsonrpc_request(
            "/mail/thread/messages", {"thread_model": record._name, "thread_id": record.id, "fetch_params": {}}
        )

    def search_read(self):
        return self.make_jsonrpc_request(
            "/web/dataset/call_kw/mail.message/search_read",
            {
                "model": "mail.message",
                "method": "search_read",
                "args": [[("model", "=", "res.partner"), ("res_id", "=", self.customer.id)], ["subject"]],
                "kwargs": {},
            },
        )

    def test_json_rpc_and_the_chatter_route_show_it_as_the_union_of_sharings(self):
        self.receive(self.otto_box, self.sam_box)
        expected = {"sam": True, "tina": True, "otto": True, "uma": False, "vic": False}
        for login, visible in expected.items():
            self.authenticate(login, login)
            answer = self.thread_messages(self.customer)
            route = json.dumps(answer)
            rpc = json.dumps(self.search_read())
            self.assertEqual((SUBJECT in route, SUBJECT in rpc), (visible, visible), login)
            if visible:
                shown = [m for m in answer["data"]["mail.message"] if m.get("crm_mail_sync")]
                self.assertEqual(len(shown), 1, "one entry")
                self.assertIn(shown[0]["id"], answer["messages"])
                self.assertEqual(shown[0]["crm_mail_sync"]["labels"]["shared_by"], "Shared by")


@tagged("post_install", "-at_install")
class TestOdooOwnMail(SharedEmailCase):
    def test_an_email_sent_from_the_opportunity_and_found_in_sent_stays_one_entry(self):
        posted = self.opportunity.with_user(self.sam).message_post(
            body=Markup("<p>Here is our offer.</p>"),
            subject="Offer",
            message_type="comment",
            subtype_xmlid="mail.mt_comment",
            partner_ids=self.customer.ids,
            message_id="<offer-from-odoo@ourcompany.example>",
        )
        self.assertEqual(posted.message_id, "<offer-from-odoo@ourcompany.example>")
        copy = raw_email(
            "Sam Seller <sam@ourcompany.example>",
            "Bea Buyer <bea@customer.example>",
            subject="Offer",
            message_id="<offer-from-odoo@ourcompany.example>",
        )
        email = self.ingest(self.sam_box, copy, role="sent")[0]
        self.assertTrue(email, "the email is logged (Emails list, contact)")
        on_lead = self.chatter(self.opportunity).filtered(
            lambda m: m.message_id == "<offer-from-odoo@ourcompany.example>" or m.crm_mail_interaction_id == email
        )
        self.assertEqual(on_lead, posted, "the opportunity shows Odoo's own message once")
        self.assertEqual(len(self.entries(self.customer)), 1, "the contact gets the logged copy")

        # Bea's colleague, no contact of ours, answers in that thread.
        reply = raw_email(
            "Carl Stranger <carl@elsewhere.example>",
            "sam@ourcompany.example",
            subject="Re: Offer",
            in_reply_to="<offer-from-odoo@ourcompany.example>",
        )
        logged = self.ingest(self.sam_box, reply)[0]
        self.assertEqual(logged.lead_ids, self.opportunity)
        self.assertEqual(self.entries(self.opportunity).crm_mail_interaction_id, logged)

    def test_mail_received_through_an_alias_is_not_posted_again(self):
        received = self.customer.message_post(
            body=Markup("<p>Routed by the alias.</p>"),
            subject="Through the alias",
            message_type="email",
            author_id=self.customer.id,
            message_id="<via-alias@customer.example>",
        )
        raw = raw_email(
            "bea@customer.example",
            "sam@ourcompany.example",
            subject="Through the alias",
            message_id="<via-alias@customer.example>",
        )
        email = self.ingest(self.sam_box, raw)[0]
        self.assertTrue(email)
        on_contact = self.chatter(self.customer).filtered(lambda m: m.subject == "Through the alias")
        self.assertEqual(on_contact, received)
        self.assertEqual(len(self.entries(self.opportunity)), 1, "the opportunity did not hold it: logged there")


@tagged("post_install", "-at_install")
class TestSharersMigration(SharedEmailCase):
    """migrations/19.0.1.2.0: per-owner rows of 1.1.0 become one email with sharers."""

    def migration(self):
        path = os.path.join(os.path.dirname(__file__), "..", "migrations", "19.0.1.2.0", "post-migrate.py")
        spec = importlib.util.spec_from_file_location("crm_mail_sync_migrate_1_2", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    def old_row(self, owner, account, sharing, direction, key="<old@customer.example>"):
        """A row as 1.1.0 wrote it, with its chatter entries and attachment."""
        cr = self.env.cr
        cr.execute(
            """INSERT INTO crm_mail_interaction (subject, message_key, message_id, owner_id, owner_key, account_id,
                                                 company_id, sharing, direction, date, body, create_uid, write_uid,
                                                 create_date, write_date)
               VALUES ('Old', %(key)s, %(key)s, %(owner)s, %(owner)s, %(account)s, %(company)s, %(sharing)s,
                       %(direction)s, now(), '<p>Old</p>', 1, 1, now(), now()) RETURNING id""",
            {
                "key": key,
                "owner": owner.id,
                "account": account.id,
                "company": self.env.company.id,
                "sharing": sharing,
                "direction": direction,
            },
        )
        email_id = cr.fetchone()[0]
        cr.execute(
            "INSERT INTO crm_mail_interaction_res_partner_rel (interaction_id, partner_id) VALUES (%s, %s)",
            [email_id, self.customer.id],
        )
        attachment = self.env["ir.attachment"].create(
            {"name": "old.pdf", "raw": PDF, "res_model": "crm.mail.interaction", "res_id": email_id}
        )
        self.env["mail.message"].create(
            {
                "model": "res.partner",
                "res_id": self.customer.id,
                "message_type": "email",
                "body": "<p>Old</p>",
                "crm_mail_interaction_id": email_id,
                "attachment_ids": [(6, 0, attachment.ids)],
            }
        )
        self.env.flush_all()
        return email_id

    def test_per_owner_rows_become_one_email_and_no_sharer_is_lost(self):
        cr = self.env.cr
        self.env.flush_all()
        cr.execute("DROP INDEX crm_mail_interaction_company_message_unique")
        cr.execute(
            "ALTER TABLE crm_mail_interaction ADD COLUMN owner_id int4, ADD COLUMN owner_key int4, "
            "ADD COLUMN account_id int4"
        )
        sams = self.old_row(self.sam, self.sam_box, "team", "sent")
        ottos = self.old_row(self.otto, self.otto_box, "private", "received")
        alone = self.old_row(self.uma, self.uma_box, "everyone", "received", key="<alone@customer.example>")
        self.env.invalidate_all()

        merged = self.migration().merge_per_owner_rows(self.env)
        self.assertEqual(merged, 1)
        Email = self.env["crm.mail.interaction"].sudo()
        email = Email.browse(sams)
        self.assertFalse(Email.browse(ottos).exists())
        self.assertEqual(
            sorted((s.owner_id.login, s.account_id.email, s.sharing, s.direction) for s in email.share_ids),
            [
                ("otto", "otto@ourcompany.example", "private", "received"),
                ("sam", "sam@ourcompany.example", "team", "sent"),
            ],
        )
        self.assertEqual((email.sharing, email.direction), ("team", "sent"))
        self.assertEqual(Email.browse(alone).share_ids.owner_id, self.uma)
        copies = {m.crm_mail_interaction_id.id: m.crm_mail_owner_id for m in self.entries(self.customer).sudo()}
        self.assertEqual(copies, {sams: self.env["res.users"], alone: self.uma}, "the rule's copies follow")
        entries = self.entries(self.customer)
        self.assertEqual(len(entries.filtered(lambda m: m.crm_mail_interaction_id == email)), 1)
        self.assertEqual(len(entries), 2, "one entry per email and record")
        self.assertEqual(len(email.attachment_ids), 1, "one copy of the attachments")
        for entry in entries:
            self.assertEqual(entry.attachment_ids.res_id, entry.crm_mail_interaction_id.id)
        self.assertTrue(self.sees(self.tina, email), "Sam's team sees it")
        self.assertTrue(self.sees(self.otto, email))
        self.assertFalse(self.sees(self.vic, email))
        # What Odoo does next: the unique index can be created.
        cr.execute(
            "CREATE UNIQUE INDEX crm_mail_interaction_company_message_unique "
            "ON crm_mail_interaction (COALESCE(company_id, 0), message_key)"
        )


@tagged("post_install", "-at_install", IMAP_TAG)
class TestConcurrentSharers(TransactionCase):
    """Two cron workers log the same email from two mailboxes at the same
    moment, on real separate transactions and threads: the unique index
    decides, the second worker joins the first one's email as a sharer."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.dovecot = cls.enterClassContext(DovecotServer(users=dict([ALICE, BOB])))
        use_encryption_key(cls)

    def cursor(self):
        # Real connections: in tests, registry.cursor() shares the test's own.
        cr = sql_db.db_connect(self.env.cr.dbname).cursor()
        cr.transaction = Transaction(self.registry)
        return cr

    def test_two_workers_give_one_email_with_two_sharers(self):
        key = "<race@customer.example>"
        raw = raw_email("Bea Buyer <bea@customer.example>", [ALICE[0], BOB[0]], subject="Race", message_id=key)
        for login in (ALICE[0], BOB[0]):
            self.dovecot.clear(login)
            self.dovecot.append(login, "INBOX", raw)
        with self.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            params = env["ir.config_parameter"]
            allowed = params.get_param("crm_mail_sync.allowed_ports")
            params.set_param("crm_mail_sync.allowed_ports", str(self.dovecot.port))
            partner = env["res.partner"].create({"name": "Bea Buyer", "email": "bea@customer.example"})
            accounts = env["crm.mail.account"].create(
                [
                    {
                        "email": login,
                        "imap_host": self.dovecot.host,
                        "imap_port": self.dovecot.port,
                        "imap_security": "none",
                        "imap_login": login,
                        "imap_password": password,
                        "user_id": False,
                        "sharing": "everyone",
                    }
                    for login, password in (ALICE, BOB)
                ]
            )
            accounts.write({"state": "connected"})
            ids, partner_id = accounts.ids, partner.id
        Interaction = type(self.env["crm.mail.interaction"])
        original_claim = Interaction._claim_identities
        barrier, waited, errors, refused = threading.Barrier(2), threading.local(), [], []

        def racing_claim(model, company_id, keys):
            # Both workers insert the email at the same moment (the first time).
            if keys and not getattr(waited, "done", False):
                waited.done = True
                barrier.wait(30)
            try:
                return original_claim(model, company_id, keys)
            except LoggedConcurrently:
                refused.append(keys)
                raise

        def worker():
            try:
                with self.cursor() as cr:
                    Account = api.Environment(cr, SUPERUSER_ID, {})["crm.mail.account"]
                    account, token = Account._claim_due_accounts(1)
                    account._sync(time.monotonic() + 60, token)
                    Account._release(account, token)
            except Exception as error:  # noqa: BLE001 - reported by the assertions below
                errors.append(error)

        try:
            with patch.object(Interaction, "_claim_identities", racing_claim):
                threads = [threading.Thread(target=worker) for _n in range(2)]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join(90)
                    if thread.is_alive():
                        faulthandler.dump_traceback()
            self.assertFalse(errors)
            self.assertEqual(refused, [[key]], "the unique index decided: the second worker was refused once")
            with self.cursor() as cr:
                env = api.Environment(cr, SUPERUSER_ID, {})
                boxes = env["crm.mail.account"].browse(ids)
                self.assertEqual(boxes.mapped("last_error"), [False, False])
                emails = env["crm.mail.interaction"].search([("message_key", "=", key)])
                self.assertEqual(len(emails), 1, "one email")
                self.assertEqual(sorted(emails.share_ids.account_id.ids), sorted(ids), "two sharers")
                self.assertEqual(len(emails.mail_message_ids), 1, "one chatter entry")
                self.assertEqual(boxes.mapped("messages_logged"), [1, 1])
                self.assertFalse(env["crm.mail.skipped.message"].search([("account_id", "in", ids)]))
        finally:
            with self.cursor() as cr:
                env = api.Environment(cr, SUPERUSER_ID, {})
                env["crm.mail.interaction"].search([("message_key", "=", key)])._delete_email()
                env["crm.mail.account"].browse(ids).unlink()
                env["res.partner"].browse(partner_id).unlink()
                env["ir.config_parameter"].set_param("crm_mail_sync.allowed_ports", allowed or False)
