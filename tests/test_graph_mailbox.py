import contextlib
import time
from datetime import timedelta
from unittest.mock import patch

from odoo import fields
from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged

from odoo.addons.crm_mail_sync.mailsync import graph_sync, oauth
from odoo.addons.crm_mail_sync.mailsync.testing import ALICE
from odoo.addons.crm_mail_sync.mailsync.testing.oauth_server import GraphMail

from .common import Killed, MailSyncCase, Transactions, use_local_microsoft
from .mail_samples import raw_email

COMPANY_BOX = "sales@yourcompany.example.com"
TENANT_BOX = "sales@contoso.onmicrosoft.com"
GRAPH_READ = "https://graph.microsoft.com/Mail.Read offline_access"


@tagged("post_install", "-at_install")
class TestGraphMailbox(MailSyncCase):
    """Mailboxes read through Microsoft Graph delta queries, synced by the
    cron against the local Microsoft identity + Graph server, which answers
    as Graph's documentation shows (Microsoft cannot be reached from here)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.microsoft = use_local_microsoft(cls, ALICE[0], COMPANY_BOX, TENANT_BOX)
        cls.customer = cls.env["res.partner"].create({"name": "Bea Buyer", "email": "bea@customer.example"})
        cls.opportunity = cls.env["crm.lead"].create(
            {"name": "Chairs", "type": "opportunity", "partner_id": cls.customer.id}
        )
        cls.box = cls.Account.create(cls.graph_values(ALICE[0], user_id=cls.salesman.id, auth_method="oauth_microsoft"))
        cls.sign_in(cls.box, ALICE[0])

    @classmethod
    def graph_values(cls, address, **values):
        return {
            "email": address,
            "kind": "graph",
            "imap_host": "outlook.office365.com",
            "imap_port": 993,
            "imap_security": "ssl",
            "imap_login": address,
            **values,
        }

    @classmethod
    def sign_in(cls, box, user):
        """What *Sign in with Microsoft* leaves: a refresh token for ``user``."""
        issued = cls.microsoft._issue("app-id", user, GRAPH_READ)
        box._store_oauth_tokens(
            oauth.Tokens(issued["access_token"], time.time() + 3600, refresh_token=issued["refresh_token"])
        )
        box.sudo().state = "connected"

    def setUp(self):
        super().setUp()
        self.microsoft.mail = GraphMail(self.microsoft)
        self.microsoft.requests.clear()  # each test's own requests
        self.microsoft.graph_app_permissions.add("Mail.Read")
        self.transactions = Transactions.patch(self)

    def deliver(self, raw, folder="inbox", mailbox=ALICE[0]):
        return self.microsoft.mail.add(mailbox, folder, raw)

    def logged(self, box):
        return self.env["crm.mail.interaction"].sudo().search([("account_id", "=", box.id)])

    def chatter(self, record):
        messages = self.env["mail.message"].search([("model", "=", record._name), ("res_id", "=", record.id)])
        return messages.filtered("crm_mail_interaction_id")

    def rerun(self, *boxes):
        for box in boxes:
            box.sudo().write({"next_sync": fields.Datetime.now(), "sync_lease_until": False})
        self.Account._cron_sync()

    def test_the_cron_syncs_a_graph_mailbox_into_the_contacts_chatter(self):
        self.deliver(raw_email("bea@customer.example", ALICE[0], subject="Order over Graph"))
        self.deliver(raw_email(ALICE[0], "bea@customer.example", subject="Quote over Graph"), folder="sentitems")
        self.deliver(raw_email("friend@elsewhere.example", ALICE[0], subject="Not for the CRM"))
        self.Account._cron_sync()

        logged = self.logged(self.box)
        self.assertEqual(sorted(logged.mapped("subject")), ["Order over Graph", "Quote over Graph"])
        self.assertEqual(logged.filtered(lambda i: i.subject == "Quote over Graph").direction, "sent")
        self.assertEqual(self.chatter(self.customer).crm_mail_interaction_id, logged)
        self.assertIn(self.opportunity, logged.lead_ids)
        self.assertIn("Hello", logged[0].body or "", "the body came through $value")
        self.assertEqual(self.microsoft.mail.value_requests, 2, "only the matching messages were downloaded")
        self.assertEqual((self.box.state, self.box.sync_progress), ("connected", 100.0))
        self.assertIn("$deltatoken=", self.box.sudo().sync_state)
        self.assertTrue(
            all(path.startswith("/v1.0/me/") for _m, path, _q in self.microsoft.requests if "mailFolders" in path),
            "a salesperson's mailbox is read as the signed-in user, never by address",
        )

        # Nothing new costs one delta round per folder; a new mail is logged once;
        # an expired delta state (410) reads the window again and logs nothing twice.
        self.rerun(self.box)
        self.deliver(raw_email("bea@customer.example", ALICE[0], subject="Follow-up"))
        self.microsoft.mail.forget_delta_states()
        self.rerun(self.box)
        self.assertEqual(
            sorted(self.logged(self.box).mapped("subject")), ["Follow-up", "Order over Graph", "Quote over Graph"]
        )
        self.assertEqual(self.box.state, "connected")

    def test_idle_graph_mailboxes_are_polled_together_and_marked_synced_without_a_full_sync(self):
        company_box = self.Account.create(self.graph_values(COMPANY_BOX, user_id=False))
        company_box.sudo().state = "connected"
        boxes = self.box | company_box
        self.deliver(raw_email("bea@customer.example", ALICE[0], subject="Order over Graph"))
        self.deliver(raw_email("bea@customer.example", COMPANY_BOX, subject="To sales@"), mailbox=COMPANY_BOX)
        self.rerun(*boxes)
        self.assertEqual(self.logged(self.box).mapped("subject"), ["Order over Graph"])
        self.assertEqual(self.logged(company_box).mapped("subject"), ["To sales@"])
        an_hour_ago = fields.Datetime.now() - timedelta(hours=1)
        boxes.sudo().write({"last_sync": an_hour_ago})

        Account = type(self.Account)
        original_sync = Account._sync
        full_syncs = []

        def counting_sync(account, deadline, token):
            full_syncs.append(account.email)
            return original_sync(account, deadline, token)

        self.microsoft.requests.clear()
        self.microsoft.mail.page_sizes.clear()
        bodies = self.microsoft.mail.value_requests
        with patch.object(Account, "_sync", counting_sync):
            self.rerun(*boxes)
            self.assertEqual(full_syncs, [], "nothing new: no full sync")
            paths = [path for _method, path, _query in self.microsoft.requests]
            self.assertEqual(len([path for path in paths if path.endswith("/messages/delta")]), 4, "one per folder")
            self.assertEqual(self.microsoft.mail.page_sizes, [graph_sync.PROBE_PAGE_SIZE] * 4, "the idle poll's")
            self.assertFalse([path for path in paths if "$value" in path or "$batch" in path], "no message read")
            self.assertEqual(self.microsoft.mail.value_requests, bodies)
            for box in boxes:
                self.assertGreater(box.last_sync, an_hour_ago, "marked synced")
                self.assertEqual(box.state, "connected")

            # A new message: that mailbox alone is synced in full, and the message is logged.
            self.deliver(raw_email("bea@customer.example", ALICE[0], subject="Follow-up"))
            self.rerun(*boxes)
            self.assertEqual(full_syncs, [ALICE[0]])
        self.assertEqual(sorted(self.logged(self.box).mapped("subject")), ["Follow-up", "Order over Graph"])

    def test_a_worker_killed_between_a_batch_and_its_commit_logs_every_message_exactly_once(self):
        for number in range(7):
            self.deliver(raw_email("bea@customer.example", ALICE[0], subject=f"Mail {number}"))
        Account = type(self.Account)
        original_ingest = Account._ingest
        batches = []

        def dying_ingest(account, batch):
            logged = original_ingest(account, batch)
            batches.append(len(batch.records))
            if len(batches) == 2:  # the second page is logged, the worker dies before its commit
                raise Killed()
            return logged

        # Not assertRaises: its savepoint would be released by the sync's own "commits".
        batch_size = patch("odoo.addons.crm_mail_sync.models.crm_mail_account_sync.BATCH_SIZE", 3)
        with batch_size, patch.object(Account, "_ingest", dying_ingest), contextlib.suppress(Killed):
            self.Account._cron_sync()
        self.assertEqual(batches, [3, 3], "the worker died after the second page")
        self.transactions.rollback()  # what the dead worker had not committed is gone
        self.assertEqual(len(self.logged(self.box)), 3, "the first page was committed with its nextLink")

        with batch_size:
            self.rerun(self.box)
        subjects = sorted(self.logged(self.box).mapped("subject"))
        self.assertEqual(subjects, [f"Mail {n}" for n in range(7)])
        self.assertEqual(len(self.chatter(self.customer)), 7)

    def test_a_company_wide_mailbox_reads_with_the_app_registration(self):
        company_box = self.Account.create(self.graph_values(COMPANY_BOX, user_id=False))
        self.microsoft.graph_app_permissions.discard("Mail.Read")
        action = company_box.action_test_connection()
        self.assertEqual(action["params"]["type"], "danger")
        self.assertIn("application permission Mail.Read", company_box.last_error)

        self.microsoft.graph_app_permissions.add("Mail.Read")
        self.assertEqual(company_box.action_test_connection()["params"]["type"], "success")
        self.deliver(raw_email("bea@customer.example", COMPANY_BOX, subject="To sales@"), mailbox=COMPANY_BOX)
        self.rerun(company_box)
        self.assertEqual(self.logged(company_box).mapped("subject"), ["To sales@"])
        self.assertTrue(any(path.startswith(f"/v1.0/users/{COMPANY_BOX}/") for _m, path, _q in self.microsoft.requests))

    def test_a_refused_consent_is_an_actionable_error_on_the_mailbox(self):
        self.microsoft.mail.consent = False
        self.Account._cron_sync()
        self.assertEqual(self.box.state, "error")
        self.assertIn("delegated permission Mail.Read", self.box.last_error)
        self.assertEqual(self.box.sync_failures, 1)

    def test_a_salesperson_cannot_read_tokens_nor_use_the_app_registration(self):
        colleague_box = self.Account.with_user(self.colleague).create(self.graph_values("cleo@example.com"))
        for user in (self.colleague, self.salesman):
            with self.assertRaises(AccessError):
                self.box.with_user(user).read(["oauth_refresh_token_secret"])
            with self.assertRaises(AccessError):
                self.box.with_user(user).read(["oauth_access_token_secret"])
        with self.assertRaises(AccessError):
            self.box.with_user(self.colleague).read(["email"])  # a colleague's mailbox is not even visible
        self.microsoft.requests.clear()
        with self.assertRaisesRegex(UserError, "Sign in with Microsoft"):
            colleague_box._graph_settings()
        grants = [form.get("grant_type") for method, _path, form in self.microsoft.requests if method == "POST"]
        self.assertNotIn("client_credentials", grants, "an app token could read any mailbox of the tenant")

    def test_the_wizard_offers_graph_for_microsoft_365_and_keeps_imap_available(self):
        Wizard = self.env["crm.mail.setup.wizard"]
        wizard = Wizard.create({"email": TENANT_BOX, "company_wide": True})
        wizard.action_detect()  # *.onmicrosoft.com: Microsoft 365 without asking DNS
        self.assertEqual((wizard.provider_id.code, wizard.offers_graph), ("microsoft365", True))
        self.assertEqual(wizard.read_through, "graph", "Graph is the recommended way in")
        wizard.action_connect_graph_app()
        self.assertEqual(wizard.step, "done")
        self.assertEqual((wizard.account_id.kind, wizard.account_id.state), ("graph", "connected"))
        self.assertFalse(wizard.account_id.user_id)

        # A salesperson signs in with Microsoft, which then asks Graph's Mail.Read.
        wizard = Wizard.with_user(self.salesman).create({"email": "sam@contoso.onmicrosoft.com"})
        wizard.action_detect()
        with self.assertRaises(AccessError):
            wizard.action_connect_graph_app()
        self.assertEqual(wizard.action_sign_in_microsoft()["type"], "ir.actions.act_url")
        account = self.Account.with_user(self.salesman).search([("email", "=", "sam@contoso.onmicrosoft.com")])
        self.assertEqual(account.kind, "graph")
        self.assertEqual(account._microsoft_sign_in_scopes(), oauth.MICROSOFT_GRAPH_MAIL_SCOPES)

        # IMAP stays a choice.
        wizard = Wizard.with_user(self.salesman).create({"email": "sam2@contoso.onmicrosoft.com"})
        wizard.action_detect()
        wizard.read_through = "imap"
        wizard.action_sign_in_microsoft()
        account = self.Account.with_user(self.salesman).search([("email", "=", "sam2@contoso.onmicrosoft.com")])
        self.assertEqual(account.kind, "imap")
        self.assertEqual(account._microsoft_sign_in_scopes(), oauth.MICROSOFT_MAIL_SCOPES)
