import contextlib
import datetime
import faulthandler
import threading
from unittest.mock import patch

from odoo import SUPERUSER_ID, api, fields, sql_db
from odoo.orm.environments import Transaction
from odoo.tests import TransactionCase, tagged

from odoo.addons.crm_mail_sync.mailsync.testing import ALICE, BOB
from odoo.addons.crm_mail_sync.models import crm_mail_account_sync as sync_module

from .common import Killed, MailSyncCase, Transactions
from .mail_samples import raw_email


@tagged("post_install", "-at_install")
class TestMailboxSync(MailSyncCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.customer = cls.env["res.partner"].create({"name": "Bea Buyer", "email": "bea@customer.example"})
        cls.opportunity = cls.env["crm.lead"].create(
            {"name": "Chairs", "type": "opportunity", "partner_id": cls.customer.id}
        )
        cls.alice_box = cls.Account.create(cls.imap_values(user_id=cls.salesman.id))
        cls.bob_box = cls.Account.create(cls.imap_values(BOB[0], BOB[1], user_id=cls.colleague.id))
        (cls.alice_box | cls.bob_box).sudo().state = "connected"

    def setUp(self):
        super().setUp()
        for login in (ALICE[0], BOB[0]):
            self.dovecot.clear(login)
        self.transactions = Transactions.patch(self)

    def deliver(self, login, *raws, folder="INBOX"):
        for raw in raws:
            self.dovecot.append(login, folder, raw)

    def logged(self, account):
        return self.env["crm.mail.interaction"].sudo().search([("account_id", "=", account.id)])

    def test_the_cron_syncs_every_connected_mailbox(self):
        self.deliver(ALICE[0], raw_email("bea@customer.example", ALICE[0], subject="Alice's order"))
        self.deliver(
            BOB[0],
            raw_email(BOB[0], "bea@customer.example", subject="Bob's quote", message_id="<bob-1@x>"),
            folder="Sent",
        )
        self.deliver(BOB[0], raw_email("friend@elsewhere.example", BOB[0], subject="Not for the CRM"))
        self.Account._cron_sync()
        self.assertEqual(self.logged(self.alice_box).mapped("subject"), ["Alice's order"])
        self.assertEqual(self.logged(self.bob_box).mapped("subject"), ["Bob's quote"])
        self.assertEqual(self.logged(self.bob_box).direction, "sent")
        for box in (self.alice_box, self.bob_box):
            self.assertEqual((box.state, box.sync_failures, box.sync_progress), ("connected", 0, 100.0))
            self.assertTrue(box.last_sync and box.next_sync > box.last_sync)
        self.assertEqual(self.alice_box.messages_logged, 1)
        self.assertIn(self.opportunity, self.logged(self.alice_box).lead_ids)

        # Nothing new: a second run logs nothing; a new mail is picked up once.
        self.Account._cron_sync()
        (self.alice_box | self.bob_box).sudo().next_sync = fields.Datetime.now()
        self.deliver(ALICE[0], raw_email("bea@customer.example", ALICE[0], subject="Follow-up"))
        self.Account._cron_sync()
        self.assertEqual(sorted(self.logged(self.alice_box).mapped("subject")), ["Alice's order", "Follow-up"])

    def test_an_idle_mailbox_is_only_polled(self):
        self.deliver(ALICE[0], raw_email("bea@customer.example", ALICE[0], subject="First"))
        self.Account._cron_sync()
        boxes = self.alice_box | self.bob_box
        synced_at = self.alice_box.last_sync
        boxes.sudo().next_sync = fields.Datetime.now()
        MailboxSync = sync_module.MailboxSync
        with patch.object(MailboxSync, "batches", autospec=True, side_effect=MailboxSync.batches) as batches:
            self.Account._cron_sync()
            self.assertEqual(batches.call_count, 0, "nothing new: no folder was even examined")
            self.assertGreaterEqual(self.alice_box.last_sync, synced_at)
            self.assertFalse(any(boxes.sudo().mapped("sync_lease_until")), "leases released")
            boxes.sudo().next_sync = fields.Datetime.now()
            self.deliver(ALICE[0], raw_email("bea@customer.example", ALICE[0], subject="Second"))
            self.Account._cron_sync()
            self.assertEqual(batches.call_count, 1, "only the mailbox with new mail is synced")
        self.assertEqual(sorted(self.logged(self.alice_box).mapped("subject")), ["First", "Second"])

    def test_a_sync_killed_mid_batch_then_rerun_logs_every_message_exactly_once(self):
        raws = [raw_email("bea@customer.example", ALICE[0], subject=f"Mail {n}") for n in range(7)]
        self.deliver(ALICE[0], *raws)
        Interaction = type(self.env["crm.mail.interaction"])
        original_log = Interaction._log
        calls = []

        def dying_log(model, account, items, **kwargs):
            calls.append(len(items))
            if len(calls) == 2:  # the worker dies half-way through the second batch
                original_log(model, account, items[:1], **kwargs)
                raise Killed()
            return original_log(model, account, items, **kwargs)

        # Not assertRaises: its savepoint would be released by the sync's own "commits".
        with (
            patch("odoo.addons.crm_mail_sync.models.crm_mail_account_sync.BATCH_SIZE", 3),
            patch.object(Interaction, "_log", dying_log),
            contextlib.suppress(Killed),
        ):
            self.Account._cron_sync()
        self.assertEqual(len(calls), 2, "the worker died in the second batch")
        self.transactions.rollback()  # what the dead worker had not committed is gone
        self.assertEqual(len(self.logged(self.alice_box)), 3, "the first batch was committed")

        self.alice_box.sudo().write({"next_sync": fields.Datetime.now(), "sync_lease_until": False})
        with patch("odoo.addons.crm_mail_sync.models.crm_mail_account_sync.BATCH_SIZE", 3):
            self.Account._cron_sync()
        subjects = sorted(self.logged(self.alice_box).mapped("subject"))
        self.assertEqual(subjects, [f"Mail {n}" for n in range(7)])
        self.assertEqual(self.alice_box.state, "connected")

    def test_a_rerun_from_an_old_state_duplicates_nothing(self):
        self.deliver(ALICE[0], *[raw_email("bea@customer.example", ALICE[0], subject=f"Mail {n}") for n in range(3)])
        self.Account._cron_sync()
        self.alice_box.sudo().write({"sync_state": False, "next_sync": fields.Datetime.now()})  # state lost
        self.Account._cron_sync()
        self.assertEqual(len(self.logged(self.alice_box)), 3)

    def test_a_failing_mailbox_gets_an_actionable_error_and_backs_off_while_the_other_syncs(self):
        self.alice_box.imap_password = "wrong-password"
        self.deliver(BOB[0], raw_email("bea@customer.example", BOB[0], subject="For Bob"))
        self.Account._cron_sync()
        self.assertEqual(self.alice_box.state, "error")
        self.assertIn("rejected the user name or password", self.alice_box.last_error)
        self.assertEqual(self.alice_box.sync_failures, 1)
        first_delay = self.alice_box.next_sync - fields.Datetime.now()
        self.assertEqual(self.logged(self.bob_box).mapped("subject"), ["For Bob"])

        self.alice_box.sudo().next_sync = fields.Datetime.now()
        self.Account._cron_sync()
        self.assertEqual(self.alice_box.sync_failures, 2)
        self.assertGreater(self.alice_box.next_sync - fields.Datetime.now(), first_delay, "exponential backoff")

    def test_repeated_sign_in_failures_pause_the_mailbox_and_tell_its_owner(self):
        self.alice_box.imap_password = "wrong-password"
        for _attempt in range(5):
            self.alice_box.sudo().next_sync = fields.Datetime.now()
            self.Account._cron_sync()
        self.assertTrue(self.alice_box.sync_paused)
        mail = self.env["mail.mail"].sudo().search([("recipient_ids", "in", self.salesman.partner_id.ids)])
        self.assertEqual(len(mail), 1)
        self.assertIn("paused", mail.subject)
        self.assertIn("rejected the user name or password", mail.body_html)
        self.alice_box.sudo().next_sync = fields.Datetime.now()
        self.Account._cron_sync()
        self.assertEqual(self.alice_box.sync_failures, 5, "a paused mailbox is left alone")

        self.alice_box.imap_password = ALICE[1]
        with patch.object(type(self.env["ir.cron"]), "_trigger") as trigger:
            self.alice_box.with_user(self.salesman).action_sync_now()
        trigger.assert_called_once()
        self.Account._cron_sync()
        self.assertEqual((self.alice_box.state, self.alice_box.sync_paused), ("connected", False))

    def test_the_initial_window_and_progress(self):
        self.alice_box.sudo().sync_window_days = 10
        self.Account._cron_sync()
        self.assertEqual(self.alice_box.sync_since, fields.Date.today() - datetime.timedelta(days=10))
        self.assertEqual(self.alice_box.sync_progress, 100.0)


@tagged("post_install", "-at_install")
class TestConcurrentWorkers(TransactionCase):
    """Two cron workers at once, on real separate transactions (so this class
    writes nothing in the test's own transaction, which they could wait on)."""

    def cursor(self):
        # Real connections: in tests, registry.cursor() shares the test's own.
        # The registry is given, not looked up: the test run holds its lock.
        cr = sql_db.db_connect(self.env.cr.dbname).cursor()
        cr.transaction = Transaction(self.registry)
        return cr

    def test_two_workers_never_claim_the_same_mailbox(self):
        with self.cursor() as cr:
            accounts = api.Environment(cr, SUPERUSER_ID, {})["crm.mail.account"].create(
                [
                    {"email": f"worker{n}@example.com", "imap_host": "h", "imap_login": "x", "user_id": False}
                    for n in range(4)
                ]
            )
            accounts.write({"state": "connected"})
            ids = accounts.ids
        claimed, barrier = [], threading.Barrier(2)

        def worker():
            with self.cursor() as cr:
                Account = api.Environment(cr, SUPERUSER_ID, {})["crm.mail.account"]
                barrier.wait(10)
                for _n in range(3):  # outside a cron run, _commit() commits this cursor
                    claimed.extend(Account._claim_due_accounts()[0].ids)

        try:
            threads = [threading.Thread(target=worker) for _n in range(2)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(30)
                if thread.is_alive():
                    faulthandler.dump_traceback()
            mine = [account_id for account_id in claimed if account_id in ids]
            self.assertEqual(sorted(mine), sorted(ids), "each mailbox claimed exactly once")
        finally:
            with self.cursor() as cr:
                api.Environment(cr, SUPERUSER_ID, {})["crm.mail.account"].browse(ids).unlink()
