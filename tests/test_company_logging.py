"""Company email logging (issue 16) against a real Dovecot: a logging mailbox
whose queue folder is processed into a storage folder; Bcc'd sent mail,
received mail, forwards (attachment and inline), no match, poison, a worker
killed between the log and the move, Validate setup, administrators only.
The cron's commits are savepoints (see tests/common.py)."""

from unittest.mock import patch

from odoo.exceptions import AccessError, UserError
from odoo.tests import HttpCase, tagged

from odoo.addons.crm_mail_sync.mailsync import message as engine_message
from odoo.addons.crm_mail_sync.mailsync import queue as engine_queue
from odoo.addons.crm_mail_sync.mailsync.testing import ALICE, BOB
from odoo.addons.crm_mail_sync.mailsync.testing.dovecot import DovecotServer

from .common import IMAP_TAG, TOUR_TAG, Killed, MailSyncCase, Transactions, load_language, use_encryption_key
from .mail_samples import raw_email

LOG = ("log@example.com", "log-Pa55word")
CUSTOMER = "bea@customer.example"
FOLDERS = ("INBOX", "Logged", "Not logged")


@tagged("post_install", "-at_install")
class TestCompanyLogging(MailSyncCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.dovecot.add_user(*LOG)
        cls.customer = cls.env["res.partner"].create({"name": "Bea Buyer", "email": CUSTOMER})
        cls.opportunity = cls.env["crm.lead"].create(
            {"name": "Chairs", "type": "opportunity", "partner_id": cls.customer.id}
        )
        cls.box = cls.Account.create(
            cls.imap_values(
                *LOG,
                kind="queue",
                user_id=False,
                sharing="everyone",
                queue_storage_folder="Logged",
                queue_not_logged_folder="Not logged",
            )
        )

    def setUp(self):
        super().setUp()
        self.dovecot.clear(LOG[0])
        self.dovecot.clear(ALICE[0])
        client = self.dovecot.client(LOG[0])
        for name in FOLDERS[1:]:
            if not client.folder_exists(name):
                client.create_folder(name)
        client.logout()
        self.box.sudo().write({"state": "connected", "queue_enabled": True, "next_sync": False})
        self.transactions = Transactions.patch(self)

    # -- helpers ---------------------------------------------------------
    def queue(self, *raws):
        for raw in raws:
            self.dovecot.append(LOG[0], "INBOX", raw)

    def run_cron(self):
        self.box.sudo().next_sync = False
        self.Account._cron_sync()

    def folders(self, login=LOG[0]):
        """``{folder: sorted subjects}`` on the server."""
        client = self.dovecot.client(login)
        found = {}
        try:
            for name in FOLDERS:
                if not client.folder_exists(name):
                    continue
                client.select_folder(name, readonly=True)
                uids = client.search(["ALL"])
                data = client.fetch(uids, [b"BODY.PEEK[HEADER]"]) if uids else {}
                found[name] = sorted(
                    engine_message.parse_headers(item[b"BODY[HEADER]"]).subject for item in data.values()
                )
        finally:
            client.logout()
        return found

    def logged(self):
        return self.env["crm.mail.interaction"].sudo().search([("account_id", "=", self.box.id)], order="id")

    # -- who it belongs to ---------------------------------------------------
    def test_bccd_sent_mail_is_logged_for_its_sender_and_stored(self):
        self.queue(raw_email(ALICE[0], CUSTOMER, subject="Our quote"))
        self.run_cron()
        entry = self.logged()
        self.assertEqual((entry.subject, entry.owner_id, entry.direction), ("Our quote", self.salesman, "sent"))
        self.assertIn(self.opportunity, entry.lead_ids)
        self.assertIn(self.customer, entry.partner_ids)
        self.assertEqual(self.folders(), {"INBOX": [], "Logged": ["Our quote"], "Not logged": []})
        self.assertEqual((self.box.state, self.box.messages_logged), ("connected", 1))

    def test_received_mail_gives_one_entry_per_recipient_colleague(self):
        self.queue(raw_email(f"Bea Buyer <{CUSTOMER}>", ALICE[0], cc=[BOB[0]], subject="Question"))
        self.run_cron()
        entries = self.logged()
        self.assertEqual(entries.owner_id, self.salesman | self.colleague)
        self.assertEqual(set(entries.mapped("direction")), {"received"})
        self.assertEqual(len(set(entries.mapped("message_key"))), 1, "the same message for both")
        # The salesperson sees their entry under the usual sharing rules.
        mine = self.env["crm.mail.interaction"].with_user(self.salesman).search([("account_id", "=", self.box.id)])
        self.assertTrue(mine)

    def test_mail_without_a_colleague_is_company_wide(self):
        self.queue(raw_email(CUSTOMER, "purchasing@elsewhere.example", subject="Copied by a rule"))
        self.run_cron()
        entry = self.logged()
        self.assertEqual((entry.subject, entry.owner_id.id, entry.sharing), ("Copied by a rule", False, "everyone"))

    def test_mail_already_logged_from_a_personal_mailbox_stays_one_entry(self):
        personal = self.Account.create(self.imap_values(user_id=self.salesman.id))
        personal.sudo().state = "connected"
        raw = raw_email(CUSTOMER, ALICE[0], subject="Seen twice", message_id="<twice@customer.example>")
        self.dovecot.append(ALICE[0], "INBOX", raw)
        self.queue(raw)
        self.Account._cron_sync()
        entries = self.env["crm.mail.interaction"].sudo().search([("message_key", "=", "<twice@customer.example>")])
        self.assertEqual((len(entries), entries.owner_id), (1, self.salesman))
        self.assertEqual(len(entries.mail_message_ids.filtered(lambda m: m.model == "res.partner")), 1)
        self.assertEqual(self.folders()["Logged"], ["Seen twice"])

    def test_a_message_for_no_contact_is_moved_to_storage_too(self):
        self.queue(raw_email(ALICE[0], "friend@elsewhere.example", subject="Lunch?"))
        self.run_cron()
        self.assertFalse(self.logged())
        self.assertEqual(self.folders(), {"INBOX": [], "Logged": ["Lunch?"], "Not logged": []})

    # -- forwards ----------------------------------------------------------------
    def test_a_forward_as_attachment_logs_the_original_for_the_forwarder(self):
        original = raw_email(f"Bea Buyer <{CUSTOMER}>", "someone@example.com", subject="Chairs please")
        forward = (
            (
                f"From: {ALICE[0]}\r\nTo: {LOG[0]}\r\nSubject: Fwd: Chairs please\r\n"
                "Message-ID: <fwd-1@example.com>\r\nDate: Tue, 24 Nov 2026 09:00:00 +0000\r\nMIME-Version: 1.0\r\n"
                "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nFYI\r\n"
                "--b\r\nContent-Type: message/rfc822\r\n\r\n"
            ).encode()
            + original
            + b"\r\n--b--\r\n"
        )
        self.queue(forward)
        self.run_cron()
        entry = self.logged()
        self.assertEqual(
            (entry.subject, entry.owner_id, entry.direction, entry.sender),
            ("Chairs please", self.salesman, "received", f"Bea Buyer <{CUSTOMER}>"),
        )
        self.assertEqual(str(entry.date), "2026-11-20 09:30:00", "the original's date")
        self.assertEqual(self.folders()["Logged"], ["Fwd: Chairs please"])

    def test_an_inline_forward_logs_the_original_for_the_forwarder(self):
        body = (
            "Please log this.\n\n---------- Forwarded message ---------\n"
            f"From: Bea Buyer <{CUSTOMER}>\nDate: Mon, Nov 16, 2026 at 2:05 PM\nSubject: Chairs\n"
            f"To: Bob <{BOB[0]}>\n\nWe need 40 chairs.\n"
        )
        self.queue(raw_email(ALICE[0], LOG[0], subject="Fwd: Chairs", body=body))
        self.run_cron()
        entry = self.logged()
        self.assertEqual(
            (entry.subject, entry.owner_id, entry.sender), ("Chairs", self.salesman, f"Bea Buyer <{CUSTOMER}>")
        )
        self.assertEqual(str(entry.date), "2026-11-16 14:05:00")
        self.assertIn("We need 40 chairs.", entry.body)
        self.assertIn(self.opportunity, entry.lead_ids)

    # -- what cannot be logged, and crashes -----------------------------------------
    def poisoned_log(self):
        Interaction = type(self.env["crm.mail.interaction"])
        original_log = Interaction._log

        def refusing_log(model, account, items, **kwargs):
            if any(content.headers.subject == "Poison" for content, _partners, _leads in items):
                raise ValueError("A string literal cannot contain NUL (0x00) characters.")
            return original_log(model, account, items, **kwargs)

        return patch.object(Interaction, "_log", refusing_log)

    def test_a_poison_message_goes_to_not_logged_with_its_reason_and_retry_finds_it(self):
        self.queue(
            raw_email(CUSTOMER, ALICE[0], subject="Before"),
            raw_email(CUSTOMER, ALICE[0], subject="Poison", message_id="<poison@x>"),
            raw_email(CUSTOMER, ALICE[0], subject="After"),
        )
        with self.poisoned_log():
            self.run_cron()
        self.assertEqual(self.folders(), {"INBOX": [], "Logged": ["After", "Before"], "Not logged": ["Poison"]})
        skipped = self.box.skipped_message_ids
        self.assertEqual((skipped.subject, skipped.folder), ("Poison", "Not logged"))
        self.assertIn("NUL (0x00)", skipped.reason)
        # Where it is now: Retry reads it there and logs it.
        skipped.action_retry()
        self.assertFalse(skipped.exists())
        retried = self.logged().filtered(lambda entry: entry.subject == "Poison")
        self.assertEqual(retried.owner_id, self.salesman, "logged for its owner, as the queue would have")

    def test_a_worker_killed_between_the_log_and_the_move_logs_once_and_loses_nothing(self):
        subjects = [f"Order {n}" for n in range(1, 6)]
        self.queue(*(raw_email(CUSTOMER, ALICE[0], subject=subject) for subject in subjects))
        self.queue(raw_email(CUSTOMER, ALICE[0], subject="Poison"))
        killed = False
        with self.poisoned_log(), patch.object(engine_queue.QueueReader, "move_pending", side_effect=Killed()):
            try:
                self.run_cron()
            except Killed:  # not assertRaises: its savepoint would outlive the cron's "commits"
                killed = True
        self.assertTrue(killed)
        self.assertEqual(len(self.logged()), 5, "the batch was logged and committed")
        self.assertEqual(len(self.folders()["INBOX"]), 6, "but nothing was moved")
        with self.poisoned_log():
            self.run_cron()
        self.assertEqual(sorted(self.logged().mapped("subject")), subjects, "each logged once")
        found = self.folders()
        self.assertEqual(found, {"INBOX": [], "Logged": subjects, "Not logged": ["Poison"]})
        self.assertEqual(len(self.box.skipped_message_ids), 1)

    def test_a_disabled_logging_mailbox_touches_nothing(self):
        self.box.sudo().queue_enabled = False
        self.queue(raw_email(CUSTOMER, ALICE[0], subject="Waiting"))
        self.run_cron()
        self.assertFalse(self.logged())
        self.assertEqual(self.folders()["INBOX"], ["Waiting"])

    # -- setup -------------------------------------------------------------------
    def test_validate_setup_lists_a_missing_folder_and_creates_it(self):
        self.box.sudo().write({"queue_enabled": False, "queue_storage_folder": "Archive/CRM"})
        result = self.box.action_validate_setup()
        self.assertEqual(result["params"]["type"], "warning")
        self.assertIn("The storage folder “Archive/CRM” does not exist yet", self.box.queue_report)
        self.assertIn("Create Missing Folders", self.box.queue_report)
        with self.assertRaises(UserError):
            self.box.queue_enabled = True
        result = self.box.action_create_queue_folders()
        self.assertEqual(result["params"]["type"], "success")
        self.assertFalse(self.box.queue_report)
        self.box.queue_enabled = True

    def test_validate_setup_reports_a_server_without_move_in_the_admins_language(self):
        with DovecotServer(users=dict([LOG]), extra_config="imap_capability = IMAP4rev1 LITERAL+") as bare:
            self.allow_ports(bare.port)
            client = bare.client(LOG[0])
            for name in FOLDERS[1:]:
                client.create_folder(name)
            client.logout()
            box = self.Account.create(
                self.imap_values(*LOG, kind="queue", user_id=False, imap_port=bare.port, email="log2@example.com")
            )
            box.action_validate_setup()
            self.assertIn("neither IMAP MOVE (RFC 6851) nor UIDPLUS (RFC 4315)", box.queue_report)
            self.assertNotIn("folder", box.queue_report.lower())
            for lang, words in (("fr_FR", "ni IMAP MOVE"), ("es_ES", "ni IMAP MOVE")):
                self.env["res.lang"]._activate_lang(lang)
                self.env["ir.module.module"]._load_module_terms(["crm_mail_sync"], [lang])
                box.with_context(lang=lang).action_validate_setup()
                self.assertIn(words, box.queue_report)
            # Processing refuses too, without touching the queue.
            bare.append(LOG[0], "INBOX", raw_email(CUSTOMER, ALICE[0], subject="Stays"))
            box.sudo().write({"state": "connected"})
            box.sudo().queue_enabled = False
            with patch.object(type(box), "_queue_check", return_value=[]):
                box.queue_enabled = True
            box.sudo().next_sync = False
            self.Account._cron_sync()
            self.assertEqual(box.state, "error")
            self.assertIn("neither IMAP MOVE", box.last_error)

    # -- administrators only ---------------------------------------------------------
    def test_only_administrators_set_it_up_and_salespeople_see_the_address(self):
        Account = self.Account.with_user(self.salesman)
        self.assertFalse(Account.search([("kind", "=", "queue")]), "not even visible")
        with self.assertRaises(AccessError):
            Account.create(self.imap_values(kind="queue", user_id=self.salesman.id))
        own = Account.create(self.imap_values(user_id=self.salesman.id))
        with self.assertRaises(AccessError):
            own.write({"kind": "queue"})
        with self.assertRaises(AccessError):
            own.write({"queue_storage_folder": "Elsewhere"})
        with self.assertRaises(AccessError):
            self.box.with_user(self.salesman).action_validate_setup()
        self.assertEqual(self.salesman.with_user(self.salesman).crm_mail_logging_address, LOG[0])
        self.box.sudo().queue_enabled = False
        self.salesman.invalidate_recordset(["crm_mail_logging_address"])
        self.assertFalse(self.salesman.with_user(self.salesman).crm_mail_logging_address)


@tagged("post_install", "-at_install", IMAP_TAG, TOUR_TAG)
class TestCompanyLoggingTour(HttpCase):
    """An administrator working in Spanish, a real Dovecot, an encryption key."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.dovecot = cls.enterClassContext(DovecotServer(users=dict([LOG])))
        use_encryption_key(cls)
        load_language(cls.env, "es_ES")
        admin = cls.env.ref("base.user_admin")
        admin.lang = "es_ES"
        Default = cls.env["ir.default"]
        for name, value in (
            ("imap_host", cls.dovecot.host),
            ("imap_port", cls.dovecot.port),
            ("imap_security", "none"),
        ):
            Default.set("crm.mail.account", name, value, user_id=admin.id)
        params = cls.env["ir.config_parameter"].sudo()
        params.set_param("crm_mail_sync.allowed_ports", str(cls.dovecot.port))

    def test_an_administrator_sets_up_company_logging_in_spanish(self):
        self.start_tour("/odoo/crm-email-logging", "crm_mail_sync_company_logging_es", login="admin")
        box = self.env["crm.mail.account"].search([("kind", "=", "queue")])
        self.assertEqual((box.email, box.queue_enabled, box.state, box.user_id.id), (LOG[0], True, "connected", False))
        client = self.dovecot.client(LOG[0])
        try:
            self.assertTrue(client.folder_exists("Archivo CRM") and client.folder_exists("Not logged"))
        finally:
            client.logout()
