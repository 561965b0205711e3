import datetime
import logging
import time

import psycopg2

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL

from ..mailsync import errors as engine_errors
from ..mailsync import imap, message
from ..mailsync.imap_sync import DEFAULT_WINDOW_DAYS, MailboxSync, SyncState, poll
from .mail_error_messages import describe

_logger = logging.getLogger(__name__)

DEFAULT_MAX_ATTACHMENT_MB = 25
BATCH_SIZE = 200
SYNC_INTERVAL = datetime.timedelta(minutes=5)
MAX_BACKOFF = datetime.timedelta(hours=6)
LEASE = datetime.timedelta(minutes=15)  # a worker killed mid-sync frees its mailbox after this
PAUSE_AFTER_AUTH_FAILURES = 5
DEFAULT_BUDGET_SECONDS = 240
POLL_BATCH = 32  # mailboxes claimed and idle-polled together


class CrmMailAccount(models.Model):
    """Syncing a mailbox: the cron claims due mailboxes one at a time, reads
    their new mail in batches (headers first, bodies only of the messages
    that concern a CRM record), and commits each batch with the folder state
    that produced it. Several Odoo workers or servers may run the cron at
    once: a mailbox is claimed with ``FOR UPDATE SKIP LOCKED`` and a lease,
    so it is never synced twice at the same time."""

    _inherit = "crm.mail.account"

    sync_state = fields.Text(copy=False, groups="base.group_system", help="Folder state of the sync (engine JSON).")
    sync_since = fields.Date(
        "Logged Since", copy=False, readonly=True, help="Mail older than this was not read at the first sync."
    )
    sync_window_days = fields.Integer(
        "Initial Sync (days)", default=DEFAULT_WINDOW_DAYS, help="How far back the first sync reads the mailbox."
    )
    last_sync = fields.Datetime("Last Successful Sync", copy=False, readonly=True)
    next_sync = fields.Datetime(copy=False, readonly=True, index=True)
    sync_lease_until = fields.Datetime(copy=False, readonly=True)
    sync_failures = fields.Integer(copy=False, readonly=True)
    sync_paused = fields.Boolean("Sync Paused", copy=False, readonly=True)
    sync_progress = fields.Float("Initial Sync (%)", copy=False, readonly=True)
    messages_logged = fields.Integer(copy=False, readonly=True)

    # -- the cron --------------------------------------------------------
    @api.model
    def _cron_sync(self, budget_seconds=None):
        """Sync due mailboxes until none is left or the time budget is spent.
        Mailboxes are claimed a few at a time; those already synced are first
        polled together (one STATUS per folder, in parallel) and only the ones
        with new mail are synced."""
        budget = budget_seconds or DEFAULT_BUDGET_SECONDS
        deadline = time.monotonic() + budget
        while time.monotonic() < deadline:
            accounts = self._claim_due_accounts(POLL_BATCH)
            if not accounts:
                break
            done = self.browse()
            try:
                unchanged = accounts._poll_unchanged()
                done |= unchanged
                for account in accounts - unchanged:
                    if time.monotonic() >= deadline:
                        break
                    account._sync(deadline)
                    done |= account
            finally:
                # Claimed but not reached in this run: free them for the next one.
                left = (accounts - done).exists()
                if left:
                    left.sudo().write({"sync_lease_until": False})
                    self._commit()

    def _poll_unchanged(self):
        """The mailboxes (of ``self``) with nothing new since their last sync,
        marked as synced now; the others are returned to the caller to sync."""
        jobs, candidates = [], self.browse()
        for account in self.sudo():
            if not (account.sync_state and account.last_sync and account.state == "connected"):
                continue
            try:
                settings = account._imap_settings()
            except UserError:
                continue  # the full sync reports it
            jobs.append((settings, SyncState.from_json(account.sync_state)))
            candidates |= account
        unchanged = self.browse()
        for account, changed in zip(candidates, poll(jobs), strict=True):
            if not changed:
                unchanged |= account
        if unchanged:
            now = fields.Datetime.now()
            unchanged.sudo().write({"last_sync": now, "next_sync": now + SYNC_INTERVAL, "sync_lease_until": False})
            self._commit(len(unchanged))
        return unchanged

    @api.model
    def _claim_due_accounts(self, limit=1):
        """Take up to ``limit`` due mailboxes: the row locks make the choice
        atomic between workers, the lease (committed at once) keeps them ours
        across the sync's own commits."""
        self.flush_model()
        for _attempt in range(10):
            now = fields.Datetime.now()
            try:
                # Odoo's transactions are REPEATABLE READ: a mailbox another
                # worker claimed since our snapshot cannot be locked: retry.
                self.env.cr.execute(
                    SQL(
                        """UPDATE crm_mail_account SET sync_lease_until = %(lease)s
                            WHERE id IN (
                                SELECT id FROM crm_mail_account
                                 WHERE active AND state IN ('connected', 'error')
                                   AND NOT coalesce(sync_paused, false)
                                   AND (next_sync IS NULL OR next_sync <= %(now)s)
                                   AND (sync_lease_until IS NULL OR sync_lease_until < %(now)s)
                                 ORDER BY next_sync NULLS FIRST, id
                                 LIMIT %(limit)s
                                 FOR NO KEY UPDATE SKIP LOCKED)
                        RETURNING id""",
                        lease=now + LEASE,
                        now=now,
                        limit=limit,
                    ),
                    log_exceptions=False,
                )
                rows = self.env.cr.fetchall()
            except psycopg2.errors.SerializationFailure:
                self._rollback()
                continue
            self._commit()
            accounts = self.browse(sorted(row[0] for row in rows))
            accounts.invalidate_recordset()
            return accounts
        return self.browse()

    def _commit(self, processed=0):
        """Commit the work done so far (and tell the cron's progress); return
        the time left to the cron run."""
        return self.env["ir.cron"]._commit_progress(processed)

    def _rollback(self):
        """Drop the uncommitted work (a half-done batch)."""
        self.env.cr.rollback()
        self.env.invalidate_all()

    def _sync(self, deadline):
        """Sync this claimed mailbox until done or ``deadline``; never raises."""
        self.ensure_one()
        account = self.sudo()
        try:
            state = SyncState.from_json(account.sync_state)
            if not account.sync_since:
                window = account.sync_window_days or DEFAULT_WINDOW_DAYS
                account.sync_since = fields.Date.context_today(account) - datetime.timedelta(days=window)
            finished = True
            with imap.connect(account._imap_settings()) as session:
                for batch in MailboxSync(session, state, since=account.sync_since, batch_size=BATCH_SIZE).batches():
                    logged = account._ingest([(r.uid, r.raw_headers) for r in batch.records], batch.fetch_bodies)
                    account.write(
                        {
                            "sync_state": batch.state.to_json(),
                            "sync_progress": round(batch.state.progress * 100, 1),
                            "messages_logged": account.messages_logged + len(logged),
                            "sync_lease_until": fields.Datetime.now() + LEASE,
                        }
                    )
                    remaining = account._commit(len(batch.records))
                    if time.monotonic() >= deadline or remaining <= 0:
                        finished = False  # the next run resumes from the committed state
                        break
        except engine_errors.MailConnectionError as error:
            account._sync_failed(describe(self.env, error), auth=isinstance(error, engine_errors.AuthenticationFailed))
            return
        except UserError as error:  # e.g. the Microsoft sign-in expired, or no encryption key
            account._sync_failed(error.args[0], auth=True)
            return
        except Exception:
            _logger.exception("Mailbox %s: unexpected error during sync", account.id)
            account._sync_failed(self.env._("Unexpected error during the sync; it will be retried."), auth=False)
            return
        now = fields.Datetime.now()
        account.write(
            {
                "state": "connected",
                "last_error": False,
                "last_sync": now,
                "sync_failures": 0,
                "next_sync": now if not finished else now + SYNC_INTERVAL,
                "sync_lease_until": False,
            }
        )
        account._commit()

    def _sync_failed(self, reason, auth):
        """Record an actionable error, back off exponentially; pause and tell the
        owner after repeated sign-in failures. The other mailboxes go on."""
        self.ensure_one()
        self._rollback()  # drop the half-done batch, keep what was committed
        failures = self.sync_failures + 1
        delay = min(SYNC_INTERVAL * (2 ** (failures - 1)), MAX_BACKOFF)
        pause = auth and failures >= PAUSE_AFTER_AUTH_FAILURES
        self.write(
            {
                "state": "error",
                "last_error": reason,
                "sync_failures": failures,
                "next_sync": fields.Datetime.now() + delay,
                "sync_paused": pause,
                "sync_lease_until": False,
            }
        )
        if pause:
            self._notify_paused(reason)
        self._commit()

    def _notify_paused(self, reason):
        owner = self.user_id
        recipient = owner.partner_id if owner else self.env.ref("base.user_admin").partner_id
        if not recipient.email:
            return
        lang = (owner or self.env.user).lang
        account = self.with_context(lang=lang)
        self.env["mail.mail"].sudo().create(
            {
                "subject": account.env._("Mail sync paused: %(email)s", email=self.email),
                "body_html": account.env._(
                    "<p>The sync of your mailbox %(email)s was paused after %(count)s failed sign-ins.</p>"
                    "<p>%(reason)s</p><p>Open the mailbox in Odoo, correct the sign-in and click "
                    "“Sync Now” to resume.</p>",
                    email=self.email,
                    count=self.sync_failures,
                    reason=reason,
                ),
                "recipient_ids": [(4, recipient.id)],
                "auto_delete": True,
            }
        )

    # -- buttons ---------------------------------------------------------
    def action_sync_now(self):
        """Queue this mailbox for the next run of the sync, right away."""
        self.sudo().write({"next_sync": fields.Datetime.now(), "sync_paused": False, "sync_failures": 0})
        self.env.ref("crm_mail_sync.ir_cron_mail_sync")._trigger()
        return self._notify(
            self.env._("The sync of %(email)s has started.", email=", ".join(self.mapped("email"))), "info"
        )

    def action_remove(self):
        """Remove the mailbox, offering to delete what it logged."""
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Remove Mailbox"),
            "res_model": "crm.mail.account.remove",
            "view_mode": "form",
            "target": "new",
            "context": {"default_account_id": self.id},
        }

    # -- logging a batch -------------------------------------------------
    def _ingest(self, header_blocks, fetch_bodies):
        """Log the messages of ``header_blocks`` (``[(uid, raw header bytes)]``)
        that match contacts or leads; ``fetch_bodies(uids)`` returns
        ``{uid: raw message bytes}`` for the matched ones only.

        Idempotent: a message already logged for the owner is neither fetched
        nor logged again. Returns the new interactions.
        """
        self.ensure_one()
        Interaction = self.env["crm.mail.interaction"].sudo()
        parsed = [(uid, message.parse_headers(raw)) for uid, raw in header_blocks]
        if not parsed:
            return Interaction.browse()
        known = set(
            Interaction.search(
                [("owner_key", "=", self.user_id.id or 0), ("message_key", "in", [h.identity for _uid, h in parsed])]
            ).mapped("message_key")
        )
        fresh = [(uid, headers) for uid, headers in parsed if headers.identity not in known]
        uid_of = {id(headers): uid for uid, headers in fresh}
        matches = Interaction._match(self, [headers for _uid, headers in fresh])
        if not matches:
            return Interaction.browse()
        bodies = fetch_bodies([uid_of[id(headers)] for headers, _partners, _leads in matches])
        limit = self._max_attachment_bytes()
        items = []
        for headers, partners, leads in matches:
            raw = bodies.get(uid_of[id(headers)])
            if raw is None:  # gone from the server between the two fetches
                continue
            items.append((message.parse_message(raw, max_attachment_bytes=limit), partners, leads))
        return Interaction._log(self, items)

    def _max_attachment_bytes(self):
        param = self.env["ir.config_parameter"].sudo().get_param("crm_mail_sync.max_attachment_mb")
        try:
            megabytes = float(param) if param else DEFAULT_MAX_ATTACHMENT_MB
        except ValueError:
            megabytes = DEFAULT_MAX_ATTACHMENT_MB
        return int(megabytes * 1024 * 1024)
