"""The sync against a hostile world: mail no parser or database accepts as it
is, dropped connections, huge messages, cron time limits and lost leases.
Real Dovecot; the cron's commits are savepoints (see test_mailbox_sync)."""

import contextlib
import threading
import time
from types import SimpleNamespace
from unittest.mock import patch

from odoo import fields
from odoo.exceptions import AccessError
from odoo.tests import tagged
from odoo.tools import mute_logger

from odoo.addons.crm_mail_sync.mailsync import errors as engine_errors
from odoo.addons.crm_mail_sync.mailsync import message as message_module
from odoo.addons.crm_mail_sync.mailsync.imap_sync import Batch, MailboxSync
from odoo.addons.crm_mail_sync.mailsync.read_ahead import THREAD_NAME
from odoo.addons.crm_mail_sync.mailsync.testing import ALICE, BOB
from odoo.addons.crm_mail_sync.mailsync.testing.dovecot import DovecotServer
from odoo.addons.crm_mail_sync.mailsync.testing.proxy import CuttingProxy
from odoo.addons.crm_mail_sync.models import crm_mail_account_sync as sync_module

from .common import Killed, MailSyncCase, Transactions
from .mail_samples import raw_email

CUSTOMER = "bea@customer.example"


def hostile_corpus():
    """Messages from the customer that break naive readers, each a kind seen
    in real mailboxes: ``[(label, raw bytes)]``."""
    head = f"From: Bea <{CUSTOMER}>\r\nTo: {ALICE[0]}\r\n".encode()
    long_id = "<" + "x" * 6000 + "@mail.example>"
    return [
        ("far date", head + b"Subject: Far date\r\nDate: Fri, 31 Dec 9999 23:59:59 -1200\r\n\r\nHello\r\n"),
        ("encoded NUL subject", head + b"Subject: =?utf-8?q?a=00b?=\r\nMessage-ID: <nul-subject@x>\r\n\r\nHi\r\n"),
        (
            "encoded NUL name",
            b"From: =?utf-8?q?Bea=00Buyer?= <" + CUSTOMER.encode() + b">\r\nTo: " + ALICE[0].encode() + b"\r\n"
            b"Subject: NUL name\r\nMessage-ID: <nul-name@x>\r\n\r\nHi\r\n",
        ),
        ("NUL in body", head + b"Subject: NUL body\r\nMessage-ID: <nul-body@x>\r\n\r\nHello\x00world\r\n"),
        (
            "NUL in file name",
            head + b"Subject: NUL file\r\nMessage-ID: <nul-file@x>\r\nMIME-Version: 1.0\r\n"
            b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nSee file\r\n'
            b"--b\r\nContent-Type: application/pdf\r\n"
            b'Content-Disposition: attachment; filename="=?utf-8?q?q=00.pdf?="\r\n'
            b"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--b--\r\n",
        ),
        ("long Message-ID", head + b"Subject: Long id\r\nMessage-ID: " + long_id.encode() + b"\r\n\r\nHi\r\n"),
        (
            "multipart without boundary",
            head + b"Subject: No boundary\r\nMessage-ID: <nob@x>\r\nMIME-Version: 1.0\r\n"
            b"Content-Type: multipart/mixed\r\n\r\nThanks for the meeting today.\r\n",
        ),
        (
            "deep nesting",
            head
            + b"Subject: Deep\r\nMessage-ID: <deep@x>\r\nMIME-Version: 1.0\r\n"
            + b"".join(b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (n, n) for n in range(300))
            + b"Content-Type: text/plain\r\n\r\ndeep\r\n",
        ),
        ("8-bit garbage headers", head + b"Subject: \xff\xfe\x80 price\r\nMessage-ID: <garbage@x>\r\n\r\n\xff\r\n"),
    ]


@tagged("post_install", "-at_install")
class TestSyncResilience(MailSyncCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.customer = cls.env["res.partner"].create({"name": "Bea Buyer", "email": CUSTOMER})
        cls.box = cls.Account.create(cls.imap_values(user_id=cls.salesman.id))
        cls.box.sudo().state = "connected"

    def setUp(self):
        super().setUp()
        self.dovecot.clear(ALICE[0])
        self.transactions = Transactions.patch(self)

    def deliver(self, *raws, folder="INBOX"):
        for raw in raws:
            self.dovecot.append(ALICE[0], folder, raw)

    def logged(self):
        return self.env["crm.mail.interaction"].sudo().search([("account_id", "=", self.box.id)])

    def run_cron(self):
        self.box.sudo().next_sync = fields.Datetime.now()
        self.Account._cron_sync()

    def server_flags(self):
        client = self.dovecot.client(ALICE[0])
        try:
            client.select_folder("INBOX", readonly=True)
            return {uid: data[b"FLAGS"] for uid, data in client.fetch(client.search(["ALL"]), ["FLAGS"]).items()}
        finally:
            client.logout()

    def test_a_hostile_corpus_never_stops_the_mailbox_and_each_message_is_logged_once_or_listed(self):
        corpus = hostile_corpus()
        ordinary = [raw_email(CUSTOMER, ALICE[0], subject=f"Ordinary {n}") for n in range(3)]
        self.deliver(*[raw for _label, raw in corpus], *ordinary)
        flags_before = self.server_flags()

        for _run in range(2):
            with mute_logger("odoo.sql_db"):  # a message PostgreSQL refuses is reported there: expected
                self.run_cron()
            self.assertEqual(self.box.state, "connected", self.box.last_error)
            logged = self.logged()
            skipped = self.box.skipped_message_ids
            self.assertEqual(len(logged) + len(skipped), len(corpus) + len(ordinary), "every message accounted for")
            self.assertEqual(len(set(logged.mapped("message_key"))), len(logged), "none logged twice")
            for n in range(3):
                self.assertIn(f"Ordinary {n}", logged.mapped("subject"), "mail after the hostile ones is logged")
            self.assertEqual(self.box.sync_progress, 100.0)
            self.assertEqual(self.box.sync_failures, 0)
        for interaction in logged:
            for value in (interaction.subject, interaction.sender, interaction.body, interaction.message_id):
                self.assertNotIn("\x00", value or "")
            self.assertLessEqual(len((interaction.message_key or "").encode()), 2000)
        self.assertEqual(self.server_flags(), flags_before, "the sync changed no flag on the server")

    def test_a_message_that_cannot_be_logged_is_listed_and_retry_logs_it(self):
        self.deliver(
            raw_email(CUSTOMER, ALICE[0], subject="Before"),
            raw_email(CUSTOMER, ALICE[0], subject="Poison", message_id="<poison@x>"),
            raw_email(CUSTOMER, ALICE[0], subject="After"),
        )
        Interaction = type(self.env["crm.mail.interaction"])
        original_log = Interaction._log

        def refusing_log(model, account, items, **kwargs):
            if any(content.headers.subject == "Poison" for content, _partners, _leads in items):
                raise ValueError("A string literal cannot contain NUL (0x00) characters.")
            return original_log(model, account, items, **kwargs)

        with patch.object(Interaction, "_log", refusing_log):
            self.run_cron()
        self.assertEqual(self.box.state, "connected")
        self.assertEqual(sorted(self.logged().mapped("subject")), ["After", "Before"])
        skipped = self.box.skipped_message_ids
        self.assertEqual(self.box.skipped_message_count, 1)
        self.assertEqual((skipped.subject, skipped.message_id, skipped.folder), ("Poison", "<poison@x>", "INBOX"))
        self.assertIn("NUL (0x00)", skipped.reason)
        self.assertTrue(skipped.uid and skipped.uidvalidity and skipped.size > 0)

        # The salesperson sees it on their mailbox; a colleague neither sees nor retries it.
        mine = self.env["crm.mail.skipped.message"].with_user(self.salesman).search([])
        self.assertEqual(mine, skipped)
        self.assertFalse(self.env["crm.mail.skipped.message"].with_user(self.colleague).search([]))
        with self.assertRaises(AccessError):
            skipped.with_user(self.colleague).action_retry()

        # A later run does not try it again by itself, nor log anything twice.
        self.run_cron()
        self.assertEqual(len(self.logged()), 2)

        result = skipped.with_user(self.salesman).action_retry()
        self.assertEqual(result["params"]["type"], "success")
        self.assertFalse(skipped.exists(), "a message logged on retry leaves the list")
        self.assertEqual(sorted(self.logged().mapped("subject")), ["After", "Before", "Poison"])
        self.assertEqual(self.box.skipped_message_count, 0)

    def test_a_retry_that_still_fails_keeps_the_message_listed_with_its_reason(self):
        self.deliver(raw_email(CUSTOMER, ALICE[0], subject="Poison"))
        Interaction = type(self.env["crm.mail.interaction"])
        with patch.object(Interaction, "_log", side_effect=ValueError("cannot be stored")):
            self.run_cron()
            skipped = self.box.skipped_message_ids
            result = skipped.with_user(self.salesman).action_retry()
        self.assertEqual(result["params"]["type"], "warning")
        self.assertEqual(skipped.attempts, 2)
        self.dovecot.clear(ALICE[0])
        skipped.with_user(self.salesman).action_retry()
        self.assertIn("no longer in the folder INBOX", skipped.reason)

    def test_a_message_above_the_size_limit_is_logged_from_its_headers_without_downloading_it(self):
        self.env["ir.config_parameter"].sudo().set_param("crm_mail_sync.max_message_mb", "0.05")
        big = raw_email(
            CUSTOMER, ALICE[0], subject="Catalogue", attachments=[("catalogue.pdf", "application/pdf", b"%" * 200_000)]
        )
        small = raw_email(CUSTOMER, ALICE[0], subject="Small")
        self.deliver(big, small)
        fetched = []
        original = MailboxSync._iter_bodies

        def recording(sync, name, uids, chunk):
            fetched.extend(uids)
            return original(sync, name, uids, chunk)

        with patch.object(MailboxSync, "_iter_bodies", recording):
            self.run_cron()
        by_subject = {interaction.subject: interaction for interaction in self.logged()}
        self.assertEqual(set(by_subject), {"Catalogue", "Small"})
        self.assertIn("larger than the 0.05 MB size limit", by_subject["Catalogue"].body)
        self.assertFalse(by_subject["Catalogue"].attachment_ids)
        client = self.dovecot.client(ALICE[0])
        try:
            client.select_folder("INBOX", readonly=True)
            small_uid = client.search(["SUBJECT", "Small"])
        finally:
            client.logout()
        self.assertEqual(fetched, small_uid, "only the small message was downloaded")

    def test_a_message_with_a_thousand_attachments_is_logged_with_all_of_them(self):
        files = [(f"invoice-{n:04d}.pdf", "application/pdf", b"%%PDF-1.4 invoice %d\n" % n * 40) for n in range(1000)]
        self.deliver(raw_email(CUSTOMER, ALICE[0], subject="Every invoice of the year", attachments=files))
        created = []
        Attachment = type(self.env["ir.attachment"])
        original = Attachment.create

        def counting(records, vals_list):
            created.append(len(vals_list))
            return original(records, vals_list)

        with patch.object(Attachment, "create", counting):
            self.run_cron()
        interaction = self.logged()
        self.assertEqual(interaction.subject, "Every invoice of the year")
        attachments = interaction.attachment_ids
        self.assertEqual(len(attachments), 1000)
        self.assertEqual(
            sorted(attachments.mapped("name")), [f"invoice-{n:04d}.pdf" for n in range(1000)], "every file, once"
        )
        by_name = {attachment.name: attachment for attachment in attachments}
        self.assertEqual(by_name["invoice-0999.pdf"].raw, b"%PDF-1.4 invoice 999\n" * 40)
        self.assertEqual(by_name["invoice-0999.pdf"].mimetype, "application/pdf")
        # Shown on the contact's chatter entry with all of them.
        entry = interaction.mail_message_ids.filtered(lambda message: message.model == "res.partner")
        self.assertEqual(entry.res_id, self.customer.id)
        self.assertEqual(len(entry.attachment_ids), 1000)
        # Stored in groups (memory bounded by a group, not by the message).
        self.assertEqual(sum(created), 1000)
        self.assertLessEqual(max(created), 100)
        self.assertEqual((self.box.state, self.box.skipped_message_count), ("connected", 0))

    def test_bodies_are_downloaded_a_few_at_a_time(self):
        self.deliver(*[raw_email(CUSTOMER, ALICE[0], subject=f"Mail {n}") for n in range(12)])
        sizes = []
        original = MailboxSync._iter_bodies

        def recording(sync, name, uids, chunk):
            sizes.append(len(uids))
            return original(sync, name, uids, chunk)

        with patch.object(MailboxSync, "_iter_bodies", recording), patch.object(sync_module, "BODY_CHUNK_MESSAGES", 5):
            self.run_cron()
        self.assertEqual(len(self.logged()), 12)
        self.assertEqual(sizes, [5, 5, 2])

    def test_a_dropped_connection_is_resumed_within_the_same_run(self):
        self.deliver(*[raw_email(CUSTOMER, ALICE[0], subject=f"Mail {n}") for n in range(7)])
        original = MailboxSync._fetch_headers
        calls = []

        def dropping(sync, name, role, uids):
            calls.append(len(uids))
            if len(calls) in (2, 3):  # the second batch's connection drops, twice
                raise engine_errors.ConnectionLost("IMAP", "127.0.0.1", 143, detail="socket error: EOF")
            return original(sync, name, role, uids)

        with (
            patch.object(MailboxSync, "_fetch_headers", dropping),
            patch.object(sync_module, "BATCH_SIZE", 3),
            self.assertNoLogs("odoo.addons.crm_mail_sync", "WARNING"),
        ):
            self.Account._cron_sync()
        self.assertEqual((self.box.state, self.box.sync_failures), ("connected", 0))
        self.assertEqual(sorted(self.logged().mapped("subject")), [f"Mail {n}" for n in range(7)])
        self.assertEqual(self.box.sync_progress, 100.0)

    # -- bodies read ahead (issue 14) ----------------------------------------
    def read_ahead_threads(self):
        return [thread for thread in threading.enumerate() if thread.name.startswith(THREAD_NAME)]

    def test_the_next_chunk_is_downloaded_while_one_is_logged_and_only_the_cron_logs(self):
        self.deliver(*[raw_email(CUSTOMER, ALICE[0], subject=f"Mail {n}") for n in range(12)])
        Interaction = type(self.env["crm.mail.interaction"])
        original_log, original_fetch = Interaction._log, Batch.fetch_bodies
        downloads, logs = [], []
        second_downloaded = threading.Event()

        def fetching(batch, uids):
            bodies = original_fetch(batch, uids)
            downloads.append((len(uids), threading.current_thread().name))
            if len(downloads) == 2:
                second_downloaded.set()
            return bodies

        def logging(model, account, items, **kwargs):
            logs.append((len(items), threading.current_thread()))
            if len(logs) == 1:
                # Without read-ahead the second chunk would wait for this log to end.
                self.assertTrue(second_downloaded.wait(10), "the next chunk is downloaded during the log")
            return original_log(model, account, items, **kwargs)

        with (
            patch.object(Batch, "fetch_bodies", fetching),
            patch.object(Interaction, "_log", logging),
            patch.object(sync_module, "BODY_CHUNK_MESSAGES", 5),
        ):
            self.run_cron()
        self.assertEqual(sorted(self.logged().mapped("subject")), sorted(f"Mail {n}" for n in range(12)))
        self.assertEqual([size for size, _thread in downloads], [5, 5, 2])
        self.assertTrue(all(name.startswith(THREAD_NAME) for _size, name in downloads))
        self.assertEqual(
            logs, [(5, threading.current_thread()), (5, threading.current_thread()), (2, threading.current_thread())]
        )
        self.assertFalse(self.read_ahead_threads(), "no thread outlives the sync")

    def test_a_worker_killed_while_a_chunk_is_read_ahead_logs_every_message_exactly_once(self):
        self.deliver(*[raw_email(CUSTOMER, ALICE[0], subject=f"Mail {n}") for n in range(10)])
        Interaction = type(self.env["crm.mail.interaction"])
        original_log = Interaction._log
        calls = []

        def dying_log(model, account, items, **kwargs):
            calls.append(len(items))
            if len(calls) == 3:  # the first chunk of the second batch; its second chunk is read ahead
                original_log(model, account, items[:1], **kwargs)
                raise Killed()
            return original_log(model, account, items, **kwargs)

        with (
            patch.object(sync_module, "BATCH_SIZE", 4),
            patch.object(sync_module, "BODY_CHUNK_MESSAGES", 2),
            patch.object(Interaction, "_log", dying_log),
            contextlib.suppress(Killed),
        ):
            self.run_cron()
        self.assertEqual(calls, [2, 2, 2], "the worker died in the second batch")
        self.assertFalse(self.read_ahead_threads(), "the read-ahead stopped with the worker")
        self.transactions.rollback()  # what the dead worker had not committed is gone
        self.assertEqual(len(self.logged()), 4, "the first batch was committed")

        self.box.sudo().sync_lease_until = False
        with patch.object(sync_module, "BATCH_SIZE", 4), patch.object(sync_module, "BODY_CHUNK_MESSAGES", 2):
            self.run_cron()
        self.assertEqual(sorted(self.logged().mapped("subject")), sorted(f"Mail {n}" for n in range(10)))
        self.assertEqual((self.box.state, self.box.messages_logged), ("connected", 10))

    def test_a_connection_dropped_during_a_read_ahead_is_resumed_within_the_same_run(self):
        self.deliver(*[raw_email(CUSTOMER, ALICE[0], subject=f"Mail {n}") for n in range(7)])
        original = MailboxSync._iter_bodies
        calls = []

        def dropping(sync, name, uids, chunk):
            calls.append(threading.current_thread().name)
            if len(calls) == 2:  # the second chunk, read ahead while the first is logged
                raise engine_errors.ConnectionLost("IMAP", "127.0.0.1", 143, detail="socket error: EOF")
            return original(sync, name, uids, chunk)

        with (
            patch.object(MailboxSync, "_iter_bodies", dropping),
            patch.object(sync_module, "BODY_CHUNK_MESSAGES", 3),
            self.assertNoLogs("odoo.addons.crm_mail_sync", "WARNING"),
        ):
            self.run_cron()
        self.assertTrue(calls[1].startswith(THREAD_NAME))
        self.assertEqual((self.box.state, self.box.sync_failures), ("connected", 0))
        self.assertEqual(sorted(self.logged().mapped("subject")), [f"Mail {n}" for n in range(7)])
        self.assertFalse(self.read_ahead_threads())

    def test_a_message_the_parser_fails_on_while_read_ahead_is_listed_and_costs_only_itself(self):
        self.deliver(*[raw_email(CUSTOMER, ALICE[0], subject=f"Mail {n}") for n in range(3)])
        self.deliver(raw_email(CUSTOMER, ALICE[0], subject="Parser bug", message_id="<parser-bug@x>"))
        original = message_module.parse_message

        def failing(raw, **kwargs):
            if b"Subject: Parser bug" in raw:
                raise RecursionError("maximum recursion depth exceeded")
            return original(raw, **kwargs)

        with (
            patch.object(message_module, "parse_message", failing),
            patch.object(sync_module, "BODY_CHUNK_MESSAGES", 2),
            mute_logger("odoo.addons.crm_mail_sync.models.crm_mail_account_sync"),
        ):
            self.run_cron()
        self.assertEqual(sorted(self.logged().mapped("subject")), ["Mail 0", "Mail 1", "Mail 2"])
        skipped = self.box.skipped_message_ids
        self.assertEqual((skipped.subject, skipped.message_id), ("Parser bug", "<parser-bug@x>"))
        self.assertIn("RecursionError", skipped.reason)
        self.assertEqual(self.box.state, "connected")

    def test_a_connection_that_keeps_dropping_says_so_and_is_no_sign_in_failure(self):
        self.deliver(raw_email(CUSTOMER, ALICE[0], subject="Hello"))

        def dropping(*_args):
            raise engine_errors.ConnectionLost("IMAP", "127.0.0.1", 143, detail="socket error: EOF")

        with (
            patch.object(MailboxSync, "_fetch_headers", dropping),
            self.assertNoLogs("odoo.addons.crm_mail_sync", "WARNING"),
        ):
            for _run in range(sync_module.PAUSE_AFTER_AUTH_FAILURES + 1):
                self.run_cron()
        self.assertEqual(self.box.state, "error")
        self.assertIn("was lost several times", self.box.last_error)
        self.assertNotIn("Unexpected error", self.box.last_error)
        self.assertFalse(self.box.sync_paused, "a network problem never pauses the mailbox")

    def test_the_time_budget_stays_under_the_cron_time_limit(self):
        cases = [
            ({"limit_time_real_cron": 60, "limit_time_real": 120}, 30, 120),
            ({"limit_time_real_cron": -1, "limit_time_real": 120}, 60, 180),
            ({"limit_time_real_cron": 0, "limit_time_real": 0}, sync_module.DEFAULT_BUDGET_SECONDS, 15 * 60),
            ({"limit_time_real_cron": 3600, "limit_time_real": 120}, sync_module.DEFAULT_BUDGET_SECONDS, 3660),
        ]
        for options, budget, lease in cases:
            with patch.dict(sync_module.config.options, options):
                self.assertEqual(sync_module.time_budget(), budget, options)
                self.assertLess(sync_module.time_budget(), sync_module.cron_time_limit() or float("inf"))
                self.assertEqual(sync_module.lease_duration().total_seconds(), lease, options)

    def test_a_run_that_runs_out_of_time_with_mailboxes_due_runs_again_at_once(self):
        """Issue 14: more due mailboxes than one run can reach are not left for
        the next interval (they would wait two): the cron is triggered again now."""
        other = self.Account.create(self.imap_values(login=BOB[0], password=BOB[1], user_id=self.colleague.id))
        other.sudo().state = "connected"
        (self.box | other).sudo().write({"next_sync": fields.Datetime.now()})
        cron = self.env.ref("crm_mail_sync.ir_cron_mail_sync")
        Trigger = self.env["ir.cron.trigger"].sudo()
        before = Trigger.search([("cron_id", "=", cron.id)])
        clock = [1000.0]
        Account = type(self.env["crm.mail.account"])
        original = Account._sync

        def slow_sync(account, deadline, token):
            original(account, deadline, token)
            clock[0] += 10_000  # this mailbox took the whole budget

        with (
            patch.object(sync_module, "time", SimpleNamespace(monotonic=lambda: clock[0])),
            patch.object(sync_module, "POLL_BATCH", 1),
            patch.object(Account, "_sync", slow_sync),
        ):
            self.Account._cron_sync()
        synced = (self.box | other).filtered("last_sync")
        self.assertEqual(len(synced), 1, "the budget allowed one mailbox")
        self.assertFalse(synced.sudo().sync_lease_token, "released")
        new = Trigger.search([("cron_id", "=", cron.id)]) - before
        self.assertEqual(len(new), 1, "the cron runs again at once")
        self.assertLessEqual(new.call_at, fields.Datetime.now())
        # The next run reaches the other mailbox; nothing left: no new trigger.
        self.Account._cron_sync()
        self.assertTrue(all((self.box | other).mapped("last_sync")))
        self.assertEqual(Trigger.search([("cron_id", "=", cron.id)]) - before, new)

    def test_a_worker_whose_lease_was_taken_over_stops_without_writing(self):
        self.deliver(raw_email(CUSTOMER, ALICE[0], subject="Hello"))
        accounts, token = self.Account._claim_due_accounts(5)
        self.assertIn(self.box, accounts)
        # The lease ran out and another worker claimed the mailbox.
        self.env.cr.execute("UPDATE crm_mail_account SET sync_lease_token = 'other' WHERE id = %s", [self.box.id])
        self.transactions.commit()
        self.box.invalidate_recordset()
        state_before = self.box.sudo().sync_state
        self.box._sync(time.monotonic() + 60, token)
        self.assertFalse(self.logged(), "nothing committed by the worker that lost its lease")
        self.assertEqual(self.box.sudo().sync_state, state_before)
        self.assertEqual(self.box.sudo().sync_lease_token, "other", "the new owner's lease is left alone")

    def test_leases_are_freed_on_every_exit_path(self):
        Account = type(self.env["crm.mail.account"])
        crashed = False
        with patch.object(Account, "_poll_unchanged", side_effect=RuntimeError("worker crashed")):
            try:  # not assertRaises: its savepoint would be released by the sync's own "commits"
                self.Account._cron_sync()
            except RuntimeError:
                crashed = True
        self.assertTrue(crashed)
        self.assertFalse(self.box.sudo().sync_lease_until)
        self.assertFalse(self.box.sudo().sync_lease_token)


@tagged("post_install", "-at_install")
class TestSentFolderChoice(MailSyncCase):
    """A server without special-use flags and two folders named like a sent
    folder (a migrated mailbox): the user is told and picks one."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        folders = {"Sent Items": None, "Sent Messages": None, "Customers": None, "Customers/Acme/Sent": None}
        cls.dovecot = cls.enterClassContext(DovecotServer(users=dict([ALICE]), folders=folders))
        cls.env["res.partner"].create({"name": "Bea Buyer", "email": CUSTOMER})
        cls.box = cls.Account.create(cls.imap_values(user_id=cls.salesman.id))
        cls.box.sudo().state = "connected"

    def setUp(self):
        super().setUp()
        self.transactions = Transactions.patch(self)

    def test_no_unique_sent_folder_is_said_and_the_users_choice_is_synced(self):
        self.dovecot.append(ALICE[0], "Sent Items", raw_email(ALICE[0], CUSTOMER, subject="Our offer"))
        self.dovecot.append(ALICE[0], "Customers/Acme/Sent", raw_email(ALICE[0], CUSTOMER, subject="Filed copy"))
        self.Account._cron_sync()
        box = self.box.with_user(self.salesman)
        self.assertTrue(box.sent_folder_missing)
        self.assertFalse(self.env["crm.mail.interaction"].sudo().search([("account_id", "=", self.box.id)]))
        folders = self.env["crm.mail.folder"].with_user(self.salesman).search([("account_id", "=", self.box.id)])
        self.assertEqual(
            folders.filtered("is_sent_candidate").mapped("name"), ["Sent Items", "Sent Messages"], "offered first"
        )
        self.assertIn("Customers/Acme/Sent", folders.mapped("name"))
        self.assertFalse(self.env["crm.mail.folder"].with_user(self.colleague).search([]), "a colleague sees none")

        box.sent_folder_id = folders.filtered(lambda folder: folder.name == "Sent Items")
        self.box.sudo().next_sync = fields.Datetime.now()
        self.Account._cron_sync()
        logged = self.env["crm.mail.interaction"].sudo().search([("account_id", "=", self.box.id)])
        self.assertEqual(logged.mapped("subject"), ["Our offer"])
        self.assertEqual(logged.direction, "sent")
        self.assertFalse(self.box.sent_folder_missing)


@tagged("post_install", "-at_install")
class TestSyncThroughACuttingProxy(MailSyncCase):
    """The real cron, the real Dovecot, and between them a proxy that cuts
    every connection after some bytes (a flaky network, a NAT that drops
    long connections)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["res.partner"].create({"name": "Bea Buyer", "email": CUSTOMER})

    def setUp(self):
        super().setUp()
        self.dovecot.clear(ALICE[0])
        self.transactions = Transactions.patch(self)

    def mailbox_behind(self, proxy):
        box = self.Account.create(self.imap_values(user_id=self.salesman.id, imap_port=proxy.port))
        box.sudo().state = "connected"
        return box

    def logged(self, box):
        return self.env["crm.mail.interaction"].sudo().search([("account_id", "=", box.id)])

    def test_a_few_cuts_are_worked_through_in_one_run(self):
        body = "Please quote 500 chairs.\n" * 200
        self.deliver_many(40, body)
        with CuttingProxy(self.dovecot.host, self.dovecot.port, cut_after_bytes=(40_000, 60_000), seed=7) as proxy:
            box = self.mailbox_behind(proxy)
            with patch.object(sync_module, "BATCH_SIZE", 5), self.assertNoLogs("odoo.addons.crm_mail_sync", "WARNING"):
                self.Account._cron_sync()
        self.assertGreaterEqual(proxy.cuts, 2, "the proxy did cut the sync")
        self.assertEqual((box.state, box.sync_failures, box.sync_progress), ("connected", 0, 100.0))
        logged = self.logged(box)
        self.assertEqual(len(logged), 40)
        self.assertEqual(len(set(logged.mapped("message_key"))), 40, "each message exactly once")

    def test_a_connection_cut_every_time_says_connection_lost_and_a_later_run_ends_at_100(self):
        self.deliver_many(10, "Hello\n" * 2000)
        with CuttingProxy(self.dovecot.host, self.dovecot.port, cut_after_bytes=(3_000, 3_000), seed=1) as proxy:
            box = self.mailbox_behind(proxy)
            with self.assertNoLogs("odoo.addons.crm_mail_sync", "WARNING"):
                self.Account._cron_sync()
            self.assertEqual(box.state, "error")
            self.assertIn("was lost several times", box.last_error)
            self.assertNotIn("nexpected", box.last_error)
        box.write({"imap_port": self.dovecot.port, "imap_password": ALICE[1]})
        box.sudo().next_sync = fields.Datetime.now()
        self.Account._cron_sync()
        self.assertEqual((box.state, box.sync_progress), ("connected", 100.0))
        self.assertEqual(len(self.logged(box)), 10)

    def deliver_many(self, count, body):
        for n in range(count):
            self.dovecot.append(ALICE[0], "INBOX", raw_email(CUSTOMER, ALICE[0], subject=f"Mail {n}", body=body))
