import contextlib
import json
from datetime import timedelta
from unittest.mock import patch

from odoo import fields
from odoo.exceptions import AccessError, ValidationError
from odoo.tests import HttpCase, tagged
from odoo.tests.common import JsonRpcException
from odoo.tools import mute_logger

from odoo.addons.crm_mail_sync.mailsync.testing import BOB

from .common import EWS_CLEO_LOGIN, EWS_SAM, EwsCase, Killed, Transactions, load_language
from .mail_samples import raw_email

SAM, SAM_LOGIN, SAM_PASSWORD = EWS_SAM
CLEO_LOGIN = EWS_CLEO_LOGIN


class EwsHelpers:
    """Delivering to the local Exchange server, reading what was logged."""

    def deliver(self, raw, folder="inbox", mailbox=SAM):
        return self.exchange.mail.add(mailbox, folder, raw)

    def logged(self, box):
        return self.env["crm.mail.interaction"].sudo().search([("account_id", "=", box.id)])

    def chatter(self, record):
        messages = self.env["mail.message"].search([("model", "=", record._name), ("res_id", "=", record.id)])
        return messages.filtered("crm_mail_interaction_id")

    def rerun(self, *boxes):
        for box in boxes:
            box.sudo().write({"next_sync": fields.Datetime.now(), "sync_lease_until": False})
        self.Account._cron_sync()


@tagged("post_install", "-at_install")
class TestEwsMailbox(EwsHelpers, EwsCase):
    """Exchange Server mailboxes read through EWS by exchangelib, unpatched,
    against the local EWS endpoint; set up through the wizard, synced by the cron."""

    def setUp(self):
        super().setUp()
        self.transactions = Transactions.patch(self)

    def test_the_wizard_connects_an_exchange_mailbox_the_cron_syncs_into_the_chatter(self):
        wizard = self.env["crm.mail.setup.wizard"].with_user(self.salesman).create({"email": SAM})
        wizard.action_detect()
        self.assertEqual((wizard.server_kind, wizard.ews_url), ("ews", self.exchange.ews_url), "found by Autodiscover")
        wizard.write({"imap_login": SAM_LOGIN, "password": "not-the-password"})
        wizard.action_test()
        self.assertEqual(wizard.step, "servers")
        self.assertIn("rejected the user name or password", wizard.imap_result)
        self.assertNotIn("not-the-password", wizard.imap_result)
        wizard.write({"password": SAM_PASSWORD})
        wizard.action_test()
        self.assertEqual(wizard.step, "sharing", wizard.imap_result)
        wizard.action_finish()
        self.assertEqual(wizard.step, "done")
        box = wizard.account_id
        self.assertEqual((box.kind, box.state, box.user_id), ("ews", "connected", self.salesman))
        self.assertEqual((box.ews_url, box.ews_username, box.ews_auth_type), (self.exchange.ews_url, SAM_LOGIN, "ntlm"))
        self.assertTrue(box.ews_password_set)
        self.assertFalse(box.smtp_server_id, "EWS mailboxes send through Odoo's own outgoing server")

        self.deliver(raw_email("bea@customer.example", SAM, subject="Order over EWS"))
        self.deliver(raw_email(SAM, "bea@customer.example", subject="Quote over EWS"), folder="sentitems")
        self.deliver(raw_email("friend@elsewhere.example", SAM, subject="Not for the CRM"))
        self.Account._cron_sync()

        logged = self.logged(box)
        self.assertEqual(sorted(logged.mapped("subject")), ["Order over EWS", "Quote over EWS"])
        self.assertEqual(logged.filtered(lambda i: i.subject == "Quote over EWS").direction, "sent")
        self.assertEqual(self.chatter(self.customer).crm_mail_interaction_id, logged)
        self.assertIn(self.opportunity, logged.lead_ids)
        self.assertIn("Hello", logged[0].body or "", "the body came from the MIME content")
        self.assertEqual(self.exchange.mail.mime_requests, 2, "only the matching messages were downloaded")
        self.assertEqual((box.state, box.sync_progress), ("connected", 100.0))

        # Nothing new costs one SyncFolderItems per folder; a new mail is logged once.
        self.exchange.calls.clear()
        self.rerun(box)
        self.assertEqual(self.exchange.operations(), ["SyncFolderItems", "SyncFolderItems"])
        self.deliver(raw_email("bea@customer.example", SAM, subject="Follow-up"))
        self.rerun(box)
        self.assertEqual(sorted(self.logged(box).mapped("subject")), ["Follow-up", "Order over EWS", "Quote over EWS"])

    def test_a_worker_killed_between_a_batch_and_its_commit_logs_every_message_exactly_once(self):
        box = self.Account.with_user(self.salesman).create(self.ews_values())
        box.sudo().state = "connected"
        for number in range(7):
            self.deliver(raw_email("bea@customer.example", SAM, subject=f"Mail {number}"))
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
        self.assertEqual(len(self.logged(box)), 3, "the first page was committed with its SyncState")

        with batch_size:
            self.rerun(box)
        self.assertEqual(sorted(self.logged(box).mapped("subject")), [f"Mail {n}" for n in range(7)])
        self.assertEqual(len(self.chatter(self.customer)), 7)

    def test_an_idle_exchange_mailbox_is_polled_and_marked_synced_without_a_full_sync(self):
        box = self.Account.with_user(self.salesman).create(self.ews_values())
        box.sudo().state = "connected"
        self.deliver(raw_email("bea@customer.example", SAM, subject="Order over EWS"))
        self.Account._cron_sync()
        self.assertEqual(self.logged(box).mapped("subject"), ["Order over EWS"])
        an_hour_ago = fields.Datetime.now() - timedelta(hours=1)
        box.sudo().last_sync = an_hour_ago

        Account = type(self.Account)
        original_sync = Account._sync
        full_syncs = []

        def counting_sync(account, deadline, token):
            full_syncs.append(account.email)
            return original_sync(account, deadline, token)

        self.exchange.calls.clear()
        mime = self.exchange.mail.mime_requests
        with patch.object(Account, "_sync", counting_sync):
            self.rerun(box)
            self.assertEqual(full_syncs, [], "nothing new: no full sync")
            self.assertEqual(self.exchange.operations(), ["SyncFolderItems", "SyncFolderItems"], "one per folder")
            self.assertEqual(self.exchange.mail.mime_requests, mime, "no GetItem, no MIME content")
            self.assertGreater(box.last_sync, an_hour_ago, "marked synced")

            self.deliver(raw_email("bea@customer.example", SAM, subject="Follow-up"))
            self.rerun(box)
            self.assertEqual(full_syncs, [SAM])
        self.assertEqual(sorted(self.logged(box).mapped("subject")), ["Follow-up", "Order over EWS"])

    def test_test_connection_says_what_to_do_in_the_users_language(self):
        # Cleo's account may not open Sam's mailbox.
        box = self.Account.create(self.ews_values(login=CLEO_LOGIN, password=BOB[1], user_id=self.salesman.id))
        action = box.action_test_connection()
        self.assertEqual(action["params"]["type"], "danger")
        self.assertIn("denied access to this mailbox", box.last_error)
        self.assertIn("full access", box.last_error)
        for lang, words in (("fr_FR", "accès complet"), ("es_ES", "acceso total")):
            load_language(self.env, lang, modules=("crm_mail_sync",))
            box.with_context(lang=lang).action_test_connection()
            self.assertIn(words, box.last_error, lang)

        self.exchange.grants[CLEO_LOGIN.lower()] = {SAM}
        self.assertEqual(box.action_test_connection()["params"]["type"], "success")
        self.assertEqual(box.state, "connected")

    def test_a_busy_server_is_waited_out_and_access_denied_is_an_error_on_the_mailbox(self):
        box = self.Account.with_user(self.salesman).create(self.ews_values())
        box.sudo().state = "connected"
        self.deliver(raw_email("bea@customer.example", SAM, subject="Busy"))
        self.exchange.mail.busy = [("SyncFolderItems", 200)]
        self.Account._cron_sync()
        self.assertEqual(self.logged(box).mapped("subject"), ["Busy"])

        box.sudo().write({"ews_username": CLEO_LOGIN, "ews_password": BOB[1]})
        box.sudo().state = "connected"
        self.deliver(raw_email("bea@customer.example", SAM, subject="Later"))
        self.rerun(box)
        self.assertEqual(box.state, "error")
        self.assertIn("denied access", box.last_error)
        self.assertEqual(box.sync_failures, 1)

    def test_retry_reads_a_skipped_message_again_by_its_item_id(self):
        box = self.Account.with_user(self.salesman).create(self.ews_values())
        box.sudo().state = "connected"
        self.deliver(raw_email("bea@customer.example", SAM, subject="Before"))
        self.deliver(raw_email("bea@customer.example", SAM, subject="Poison", message_id="<poison@x>"))
        Interaction = type(self.env["crm.mail.interaction"])
        original_log = Interaction._log

        def refusing_log(model, account, items, **kwargs):
            if any(content.headers.subject == "Poison" for content, _partners, _leads in items):
                raise ValueError("A string literal cannot contain NUL (0x00) characters.")
            return original_log(model, account, items, **kwargs)

        with patch.object(Interaction, "_log", refusing_log):
            self.Account._cron_sync()
        skipped = box.skipped_message_ids
        self.assertEqual((skipped.subject, skipped.folder, skipped.uidvalidity), ("Poison", "inbox", "1"))
        item_id = skipped.uid
        self.exchange.mail.mime_ids.clear()
        result = skipped.with_user(self.salesman).action_retry()
        self.assertEqual(result["params"]["type"], "success")
        self.assertEqual(self.exchange.mail.mime_ids, [item_id], "read again by its EWS item id")
        self.assertFalse(skipped.exists())
        self.assertEqual(sorted(self.logged(box).mapped("subject")), ["Before", "Poison"])

    def test_changing_the_ews_url_forgets_the_password(self):
        box = self.Account.with_user(self.salesman).create(self.ews_values())
        self.assertTrue(box.ews_password_set)
        box.with_user(self.salesman).write({"ews_url": "https://elsewhere.example/EWS/Exchange.asmx"})
        self.assertFalse(box.ews_password_set)
        with self.assertRaises(ValidationError):
            box.with_user(self.salesman).write({"ews_url": "http://mail.example.com/EWS/Exchange.asmx"})


@tagged("post_install", "-at_install")
class TestEwsPasswordBoundary(HttpCase, EwsHelpers, EwsCase):
    """A salesperson never reads another's EWS password, nor their own, over
    the ORM or JSON-RPC."""

    def test_the_ews_password_is_never_read_back(self):
        box = self.Account.with_user(self.salesman).create(self.ews_values())
        for user in (self.colleague, self.salesman):
            with self.assertRaises(AccessError):
                box.with_user(user).read(["ews_password_secret"])
        self.assertFalse(box.with_user(self.salesman).read(["ews_password"])[0]["ews_password"])
        with self.assertRaises(AccessError):
            box.with_user(self.colleague).read(["ews_username"])  # a colleague's mailbox is not even visible

        self.authenticate("cleo", "cleo")
        for names in (["ews_password_secret"], ["ews_password", "ews_username"]):
            with mute_logger("odoo.http"), self.assertRaises(JsonRpcException) as caught:
                self.make_jsonrpc_request(
                    "/web/dataset/call_kw/crm.mail.account/read",
                    {"model": "crm.mail.account", "method": "read", "args": [box.ids, names], "kwargs": {}},
                )
            self.assertIn("AccessError", str(caught.exception))
        self.authenticate("sam", "sam")
        found = self.make_jsonrpc_request(
            "/web/dataset/call_kw/crm.mail.account/read",
            {"model": "crm.mail.account", "method": "read", "args": [box.ids, ["ews_password", "ews_password_set"]]}
            | {"kwargs": {}},
        )
        self.assertEqual((found[0]["ews_password"], found[0]["ews_password_set"]), (False, True))
        self.assertNotIn(SAM_PASSWORD, json.dumps(found))
        self.assertNotIn(SAM_PASSWORD, box.sudo().ews_password_secret, "stored encrypted")
