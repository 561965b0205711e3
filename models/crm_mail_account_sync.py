import contextlib
import datetime
import functools
import logging
import time
import uuid

import psycopg2

from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools import SQL, config

from ..mailsync import errors as engine_errors
from ..mailsync import exclusions, imap, imap_sync, message
from ..mailsync.imap_sync import (
    DEFAULT_WINDOW_DAYS,
    SENT,
    MailboxSync,
    SyncState,
    fetch_messages,
    find_sync_folders,
    sent_folder_candidates,
)
from ..mailsync.polling import poll_each
from ..mailsync.read_ahead import ReadAhead
from ..tools.messages import describe
from .crm_mail_interaction import LoggedConcurrently
from .crm_mail_secret_mixin import EncryptionKeyError

_logger = logging.getLogger(__name__)

DEFAULT_MAX_ATTACHMENT_MB = 25
DEFAULT_MAX_MESSAGE_MB = 50  # larger messages are logged from their headers, never downloaded
BATCH_SIZE = 200
# Bodies are downloaded and logged a few at a time: memory is bounded per
# message, not per batch.
BODY_CHUNK_MESSAGES = 25
BODY_CHUNK_BYTES = 20 * 1024 * 1024
SYNC_INTERVAL = datetime.timedelta(minutes=5)
MAX_BACKOFF = datetime.timedelta(hours=6)
LEASE_WITHOUT_TIME_LIMIT = datetime.timedelta(minutes=15)
PAUSE_AFTER_AUTH_FAILURES = 5
DEFAULT_BUDGET_SECONDS = 240
RECONNECTS = 3  # a dropped connection is resumed within the run, unless it drops this often in a row
POLL_BATCH = 32  # mailboxes claimed and idle-polled together
SKIP_REASON_MAX = 500
CONCURRENT_RETRIES = 3  # a batch is read again when another worker logged one of its messages meanwhile


def _read_body(raw, max_attachment_bytes, exclude_calendar):
    """A downloaded message as it is logged: its parsed content, or None for
    a calendar invitation not to log (issue 17). Runs on the read-ahead
    thread (see ``_read_bodies_ahead``): plain values only, no ORM."""
    if exclude_calendar and exclusions.is_calendar_invitation(raw):
        return None
    return message.parse_message(raw, max_attachment_bytes=max_attachment_bytes)


class LeaseLost(Exception):
    """Another worker holds the mailbox now (our lease expired): stop, write nothing."""


def cron_time_limit():
    """The hard real-time limit of a cron run in seconds (Odoo's
    ``limit_time_real_cron``, -1 meaning ``limit_time_real``), or 0 for none."""
    limit = config.get("limit_time_real_cron")
    if limit is None or limit < 0:
        limit = config.get("limit_time_real") or 0
    return max(limit or 0, 0)


def time_budget():
    """Seconds one cron run may spend syncing: half the hard limit (what is
    under way when the budget runs out must still finish before the limit)."""
    limit = cron_time_limit()
    return min(DEFAULT_BUDGET_SECONDS, max(limit / 2, 5)) if limit else DEFAULT_BUDGET_SECONDS


def lease_duration():
    """How long a claim holds: a worker killed at the time limit frees its
    mailboxes a minute after it, not 15 minutes later."""
    limit = cron_time_limit()
    return datetime.timedelta(seconds=limit + 60) if limit else LEASE_WITHOUT_TIME_LIMIT


class CrmMailAccountSync(models.Model):
    """Syncing a mailbox: the cron claims due mailboxes a few at a time, reads
    their new mail in batches (headers first, bodies only of the messages
    that concern a CRM record, a few at a time), and commits each batch with
    the folder state that produced it. Several Odoo workers or servers may
    run the cron at once: a mailbox is claimed with ``FOR UPDATE SKIP
    LOCKED`` and a lease (a token and an expiry, checked before every
    commit), so it is never synced twice at the same time.

    Mail comes from strangers: a message that cannot be logged is recorded
    as skipped (``crm.mail.skipped.message``) and the sync moves past it; it
    costs that message, never the mailbox."""

    _inherit = "crm.mail.account"

    kind = fields.Selection(
        [("imap", "IMAP")],
        "Read Through",
        default="imap",
        required=True,
        help="The protocol the sync reads this mailbox with.",
    )
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
    sync_lease_token = fields.Char(copy=False, readonly=True, groups="base.group_system")
    sync_failures = fields.Integer(copy=False, readonly=True)
    sync_paused = fields.Boolean(copy=False, readonly=True)
    sync_progress = fields.Float("Initial Sync (%)", copy=False, readonly=True)
    messages_logged = fields.Integer(copy=False, readonly=True)
    sent_folder_id = fields.Many2one(
        "crm.mail.folder",
        domain="[('account_id', '=', id)]",
        ondelete="set null",
        help="The folder where this mailbox keeps the mail you send. Empty: found by the server's "
        "marking or by its usual name in your language.",
    )
    sent_folder_missing = fields.Boolean(
        "No Sent Folder Found",
        copy=False,
        readonly=True,
        help="The last sync found no sent folder: the mail you send is not logged until you choose it.",
    )
    skipped_message_ids = fields.One2many("crm.mail.skipped.message", "account_id", "Emails Not Logged")
    skipped_message_count = fields.Integer("Not Logged", compute="_compute_skipped_message_count")

    @api.depends("skipped_message_ids")
    def _compute_skipped_message_count(self):
        counts = dict(
            self.env["crm.mail.skipped.message"]
            .sudo()
            ._read_group([("account_id", "in", self.ids)], ["account_id"], ["__count"])
        )
        for account in self:
            account.skipped_message_count = counts.get(account._origin, 0)

    # -- the cron --------------------------------------------------------
    @api.model
    def _cron_sync(self, budget_seconds=None):
        """Sync due mailboxes until none is left or the time budget (under the
        cron's hard time limit) is spent. Mailboxes are claimed a few at a
        time; those already synced are first polled together (one request per
        folder, in parallel, whatever the kind) and only the ones with new mail
        are synced.
        Every claimed mailbox is released on the way out, whatever happens.

        When the budget runs out with mailboxes still due, the cron is
        triggered again at once (Odoo runs it again as soon as this run ends,
        in this worker or another) rather than an interval later: a mailbox
        never waits more than the runs it takes to reach it (issue 14)."""
        budget = budget_seconds or time_budget()
        deadline = time.monotonic() + budget
        while time.monotonic() < deadline:
            accounts, token = self._claim_due_accounts(POLL_BATCH)
            if not accounts:
                break  # none due, or none claimable now (see _run_again_if_due)
            try:
                unchanged = accounts._poll_unchanged(token)
                for account in accounts - unchanged:
                    if time.monotonic() >= deadline:
                        break
                    account._sync(deadline, token)
            finally:
                self._release(accounts, token)
        self._run_again_if_due()

    @api.model
    def _run_again_if_due(self):
        """Trigger the sync cron now if a mailbox is still due and unclaimed:
        the budget ran out, or the claims kept colliding with other workers'."""
        self.flush_model()
        now = fields.Datetime.now()
        self.env.cr.execute(
            SQL(
                """SELECT 1 FROM crm_mail_account
                    WHERE active AND state IN ('connected', 'error') AND NOT coalesce(sync_paused, false)
                      AND (next_sync IS NULL OR next_sync <= %(now)s)
                      AND (sync_lease_until IS NULL OR sync_lease_until < %(now)s)
                    LIMIT 1""",
                now=now,
            )
        )
        if not self.env.cr.fetchone():
            return
        cron = self.env.ref("crm_mail_sync.ir_cron_mail_sync", raise_if_not_found=False)
        if cron:
            cron.sudo()._trigger()
            self._commit()

    @api.constrains("sent_folder_id")
    def _check_sent_folder_id(self):
        """The sent folder is one of this mailbox's own folders: the form only
        offers those, and the same holds for a write over RPC naming another
        mailbox's folder."""
        for account in self:
            if account.sent_folder_id and account.sent_folder_id.sudo().account_id != account:
                raise ValidationError(
                    self.env._(
                        "The sent folder must be one of this mailbox's folders (%(email)s).", email=account.email
                    )
                )

    def _release(self, accounts, token):
        """Free the leases of ``accounts`` that ``token`` still holds."""
        self._rollback()  # whatever was left half-done is not ours to commit
        self.env.cr.execute(
            SQL(
                """UPDATE crm_mail_account SET sync_lease_until = NULL, sync_lease_token = NULL
                    WHERE id = ANY(%s) AND sync_lease_token = %s""",
                accounts.ids,
                token,
            )
        )
        self._commit()
        accounts.invalidate_recordset(["sync_lease_until", "sync_lease_token"])

    def _poll_unchanged(self, token):
        """The mailboxes (of ``self``) with nothing new since their last sync,
        marked as synced now; the others are returned to the caller to sync.
        Every kind is polled together (:func:`mailsync.polling.poll_each`,
        threads): one STATUS per IMAP folder, one delta request per Graph
        folder, one SyncFolderItems per EWS folder (issue 15 item 4)."""
        probes, candidates = [], self.browse()
        for account in self.sudo():
            if not (account.sync_state and account.last_sync and account.state == "connected"):
                continue
            try:
                probe = account._idle_probe()
            except UserError:
                continue  # the full sync reports it
            if probe is not None:
                probes.append(probe)
                candidates |= account
        if probes:
            self._commit()  # what building the probes stored (a rotated refresh token) is kept
        unchanged = self.browse()
        for account, changed in zip(candidates, poll_each(probes), strict=True):
            if not changed:
                unchanged |= account
        if unchanged:
            now = fields.Datetime.now()
            unchanged._hold_lease(token)
            unchanged.sudo().write({"last_sync": now, "next_sync": now + SYNC_INTERVAL})
            self._commit(len(unchanged))
        return unchanged

    def _idle_probe(self):
        """How to ask whether this mailbox (synced before, connected) may have
        something new: a callable without arguments returning a bool, run on
        a thread of :func:`mailsync.polling.poll_each` (so it reads nothing
        from the ORM: everything is gathered here), or None when this kind
        has no idle poll (its full sync runs). IMAP here; Graph and EWS
        extend it.

        :raises UserError: the settings cannot be made (the full sync reports it)
        """
        self.ensure_one()
        if self.kind != "imap":
            return None
        return functools.partial(
            imap_sync.changed,
            self._imap_settings(),
            SyncState.from_json(self.sync_state),
            self.sent_folder_id.name or None,
        )

    @api.model
    def _claim_due_accounts(self, limit=1):
        """Take up to ``limit`` due mailboxes: ``(accounts, lease token)``. The
        row locks make the choice atomic between workers; the lease (committed
        at once) keeps them ours across the sync's own commits."""
        self.flush_model()
        token = uuid.uuid4().hex
        for _attempt in range(10):
            now = fields.Datetime.now()
            try:
                # Odoo's transactions are REPEATABLE READ: a mailbox another
                # worker claimed since our snapshot cannot be locked: retry.
                self.env.cr.execute(
                    SQL(
                        """UPDATE crm_mail_account
                              SET sync_lease_until = %(lease)s, sync_lease_token = %(token)s
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
                        lease=now + lease_duration(),
                        token=token,
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
            return accounts, token
        return self.browse(), token

    def _hold_lease(self, token):
        """Check, in the transaction about to be committed, that ``token``
        still holds these mailboxes, and extend the lease; raise
        :class:`LeaseLost` if another worker has taken one over."""
        try:
            self.env.cr.execute(
                SQL(
                    """UPDATE crm_mail_account SET sync_lease_until = %s
                        WHERE id = ANY(%s) AND sync_lease_token = %s RETURNING id""",
                    fields.Datetime.now() + lease_duration(),
                    self.ids,
                    token,
                ),
                log_exceptions=False,
            )
        except psycopg2.errors.SerializationFailure:
            raise LeaseLost() from None
        if len(self.env.cr.fetchall()) != len(self):
            raise LeaseLost()
        self.invalidate_recordset(["sync_lease_until"])

    def _commit(self, processed=0):
        """Commit the work done so far (and tell the cron's progress); return
        the time left to the cron run."""
        return self.env["ir.cron"]._commit_progress(processed)

    def _rollback(self):
        """Drop the uncommitted work (a half-done batch)."""
        self.env.cr.rollback()
        self.env.invalidate_all()

    def _sync(self, deadline, token):
        """Sync this claimed mailbox until done or ``deadline``; never raises.
        A dropped connection is resumed from the last committed batch, up to
        :data:`RECONNECTS` times, before it counts as a failure."""
        self.ensure_one()
        account = self.sudo()
        committed = [0]  # batches committed in this run, by _sync_session
        try:
            drops, progress_at_drop, races = 0, 0, 0
            while True:
                try:
                    finished = account._sync_session(deadline, token, committed)
                    break
                except LoggedConcurrently:
                    # Another worker logged one of the batch's messages (from a
                    # colleague's mailbox) since this transaction began: resume
                    # from the last commit, in a new transaction that sees it,
                    # where this mailbox joins that email as a sharer.
                    races += 1
                    if races > CONCURRENT_RETRIES:
                        raise
                    account._rollback()
                    _logger.info("Mailbox %s: a message was logged by another worker meanwhile; again.", account.id)
                except engine_errors.ConnectionLost as error:
                    # Drops with progress between them are a flaky network the
                    # sync works through; RECONNECTS drops in a row are not.
                    drops = drops + 1 if committed[0] == progress_at_drop else 1
                    progress_at_drop = committed[0]
                    if drops > RECONNECTS or time.monotonic() >= deadline:
                        raise
                    account._rollback()
                    _logger.info("Mailbox %s: %s Reconnecting.", account.id, error)
        except LeaseLost:
            account._rollback()
            _logger.info("Mailbox %s: taken over by another worker; this one stops.", account.id)
            return
        except engine_errors.MailConnectionError as error:
            account._sync_failed(describe(self.env, error), auth=error.counts_as_sign_in_failure)
            return
        except EncryptionKeyError as error:
            # The administrator's configuration, not the owner's sign-in:
            # shown once to administrators, the mailbox waits (no failure
            # counted, never paused, no email).
            account._rollback()
            _logger.warning("Mailbox %s not synced: %s", account.id, error.args[0])
            account.write({"next_sync": fields.Datetime.now() + SYNC_INTERVAL})
            account._commit()
            return
        except UserError as error:  # e.g. the Microsoft sign-in expired
            account._sync_failed(error.args[0], auth=True)
            return
        except Exception:
            _logger.exception("Mailbox %s: unexpected error during sync", account.id)
            account._sync_failed(self.env._("Unexpected error during the sync; it will be retried."), auth=False)
            return
        now = fields.Datetime.now()
        try:
            account._hold_lease(token)
        except LeaseLost:
            account._rollback()
            return
        account.write(
            {
                "state": "connected",
                "last_error": False,
                "last_sync": now,
                "sync_failures": 0,
                "next_sync": now if not finished else now + SYNC_INTERVAL,
            }
        )
        account._commit()

    def _sync_session(self, deadline, token, committed):
        """One connection's worth of sync, from the last committed state;
        returns whether the mailbox is done (False: time is up, resume later).
        ``committed[0]`` counts the batches committed."""
        state = SyncState.from_json(self.sync_state)
        if not self.sync_since:
            window = self.sync_window_days or DEFAULT_WINDOW_DAYS
            self.sync_since = fields.Date.context_today(self) - datetime.timedelta(days=window)
        with self._mail_reader(state) as reader:
            for batch in reader.batches():
                if reader.listing is not None:
                    self._folders_listed(reader.listing)
                    reader.listing = None
                logged = self._ingest(batch)
                self._hold_lease(token)
                self.write(
                    {
                        "sync_state": batch.state.to_json(),
                        "sync_progress": round(batch.state.progress * 100, 1),
                        "messages_logged": self.messages_logged + len(logged),
                    }
                )
                remaining = self._commit(len(batch.records))
                committed[0] += 1
                if time.monotonic() >= deadline or remaining <= 0:
                    return False  # the next run resumes from the committed state
        return True

    # -- the mailbox's protocol -------------------------------------------
    @contextlib.contextmanager
    def _mail_reader(self, state):
        """An open reader of this mailbox's new mail, from ``state`` (a
        ``mailsync.imap_sync.SyncState``), for the duration of the block.

        A reader has ``batches()``, yielding ``mailsync.imap_sync.Batch``-like
        objects (``folder``, ``role``, ``records`` with ``uid``,
        ``raw_headers`` and ``size``, ``state`` with ``to_json()``,
        ``progress`` and ``folders[folder].uidvalidity``, and
        ``fetch_bodies(uids)``), and ``listing``: the folders as last listed
        (``[mailsync.imap.Folder]``), or None. Each kind of mailbox
        (``kind``) provides its own; this is IMAP's.

        :raises mailsync.errors.MailConnectionError: the mailbox cannot be read
        """
        self.ensure_one()
        with imap.connect(self._imap_settings()) as session:
            yield MailboxSync(
                session, state, since=self.sync_since, batch_size=BATCH_SIZE, sent_folder=self.sent_folder_id.name
            )

    def _fetch_again(self, wanted):
        """Whole messages read again for *Retry*: ``wanted`` is ``{folder:
        [uid, ...]}`` (UIDs as text, as stored), the answer ``{folder:
        (uidvalidity as text, {uid as text: raw bytes})}``; a message no
        longer there is absent. IMAP's; other kinds provide their own.

        :raises mailsync.errors.MailConnectionError: the mailbox cannot be read
        """
        self.ensure_one()
        found = {}
        with imap.connect(self._imap_settings()) as session:
            for folder, uids in wanted.items():
                uidvalidity, bodies = fetch_messages(session, folder, [int(uid) for uid in uids])
                found[folder] = (str(uidvalidity), {str(uid): raw for uid, raw in bodies.items()})
        return found

    def _folders_listed(self, folders):
        """Keep the folder list the form offers, and say when no sent folder
        can be told apart (none, or several alike): the user picks it."""
        self.env["crm.mail.folder"]._refresh(self, folders, sent_folder_candidates(folders))
        missing = SENT not in find_sync_folders(folders, self.sent_folder_id.name)
        if self.sent_folder_missing != missing:
            self.sent_folder_missing = missing

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
        """Queue this mailbox for the next run of the sync, right away (its
        owner or an administrator: the same access as editing it)."""
        self.check_access("write")
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

    def action_view_skipped_messages(self):
        """The emails of this mailbox that could not be logged, with *Retry*."""
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("crm_mail_sync.crm_mail_skipped_message_action")
        action["domain"] = [("account_id", "=", self.id)]
        action["context"] = {"create": False}
        return action

    # -- logging a batch -------------------------------------------------
    def _ingest(self, batch):
        """Log the messages of ``batch`` (a ``mailsync.imap_sync.Batch``) that
        match contacts or leads, downloading their bodies a few at a time.

        Idempotent: a message this mailbox already shares is neither fetched
        nor logged again; one a colleague's mailbox logged is not fetched
        either, this mailbox becomes one more sharer of it. A message larger
        than the size limit (decided by its RFC822.SIZE, before any download)
        is logged from its headers with a note; one that cannot be logged is
        recorded as skipped and does not stop the batch. Each message's header
        record (UID, size) travels with its headers, and the matching scope
        is computed once for the batch. Returns the new interactions.
        """
        self.ensure_one()
        Interaction = self.env["crm.mail.interaction"].sudo()
        folder = batch.state.folders.get(batch.folder)
        uidvalidity = folder.uidvalidity if folder else 0
        pending = []
        for record in batch.records:
            try:
                pending.append((record, message.parse_headers(record.raw_headers)))
            except Exception as error:  # noqa: BLE001 - see _log_chunk
                self._skip(batch.folder, uidvalidity, record, error)
        if not pending:
            return Interaction.browse()
        held = Interaction.with_context(active_test=False).search(
            [
                ("company_id", "=", self.company_id.id),
                ("message_key", "in", [headers.identity for _record, headers in pending]),
            ]
        )
        known = set(held.share_ids.filtered(lambda s: s.account_id == self).interaction_id.mapped("message_key"))
        in_company = set(held.mapped("message_key"))  # logged by a colleague: this mailbox only joins it
        fresh = [(record, headers) for record, headers in pending if headers.identity not in known]
        fresh = self._exclude_by_rules(fresh)  # issue 17: bulk, auto-replies, invitations (crm_mail_prospects.py)
        scope = self._matching_scope()
        max_message = self._size_limit("crm_mail_sync.max_message_mb", DEFAULT_MAX_MESSAGE_MB)
        matches = Interaction._match(self, fresh, scope=scope)
        # issue 17: contacts by policy, New Senders
        matches += self._after_match(batch, uidvalidity, fresh, matches, scope)
        # The plan, in the order of the matches: messages logged from their
        # headers alone, and chunks of messages whose bodies are downloaded.
        steps, chunk, chunk_bytes = [], [], 0
        for record, headers, partners, leads in matches:
            content = None
            if headers.identity in in_company:
                # One copy per company: its body is not downloaded again.
                content = message.Content(headers=headers)
            elif record.size > max_message:
                content = self._oversized_content(headers, record.size, max_message)
            if content is not None:
                steps.append((None, [(record, content, partners, leads)]))
                continue
            chunk.append((record, headers, partners, leads))
            chunk_bytes += record.size
            if len(chunk) >= BODY_CHUNK_MESSAGES or chunk_bytes >= BODY_CHUNK_BYTES:
                steps.append((chunk, None))
                chunk, chunk_bytes = [], 0
        if chunk:
            steps.append((chunk, None))
        logged = Interaction.browse()
        # While a chunk is logged here, the next one is downloaded and parsed
        # by the engine (issue 14); the thread is gone when the block is left.
        with self._read_bodies_ahead(batch, [chunk for chunk, _items in steps if chunk]) as bodies:
            for chunk, items in steps:
                if chunk:
                    logged |= self._log_chunk(batch, uidvalidity, chunk, scope, bodies=bodies.take())
                else:
                    logged |= self._log_isolated(batch.folder, uidvalidity, items, role=batch.role, scope=scope)[0]
        return logged

    def _read_bodies_ahead(self, batch, chunks):
        """A ``mailsync.read_ahead.ReadAhead`` of the bodies of ``chunks``
        (``[[(record, headers, partner ids, lead ids)]]``) of ``batch``, each
        downloaded and parsed one chunk ahead of the logging: on the reader's
        thread for a batch that offers it (``read_ahead``: IMAP), else here,
        a chunk when it is taken. The chunk being logged and the one read
        ahead hold at most :data:`BODY_CHUNK_BYTES` together (a larger chunk
        is downloaded alone, when its turn comes).

        What runs on the other thread reads nothing from Odoo: the limits are
        read here."""
        read = functools.partial(
            _read_body,
            max_attachment_bytes=self._size_limit("crm_mail_sync.max_attachment_mb", DEFAULT_MAX_ATTACHMENT_MB),
            exclude_calendar=bool(self.exclude_calendar),
        )
        plan = [
            ([record.uid for record, *_rest in chunk], sum(record.size for record, *_rest in chunk)) for chunk in chunks
        ]
        if hasattr(batch, "read_ahead"):
            return batch.read_ahead(plan, read=read, max_bytes=BODY_CHUNK_BYTES)
        return ReadAhead(batch.fetch_bodies, plan, read=read, background=False)

    def _log_chunk(self, batch, uidvalidity, chunk, scope=None, bodies=None):
        """Log ``chunk`` (``[(record, headers, partner ids, lead ids)]``) from
        ``bodies``, its ``mailsync.read_ahead.ChunkBodies`` (None: downloaded
        and parsed now). A message gone from the server, or a calendar
        invitation (issue 17), is left out; one that could not be read is
        recorded as skipped."""
        if not chunk:
            return self.env["crm.mail.interaction"]
        if bodies is None:
            with self._read_bodies_ahead(batch, [chunk]) as reader:
                bodies = reader.take()
        items = []
        for record, headers, partners, leads in chunk:
            if record.uid in bodies.failed:
                self._skip(batch.folder, uidvalidity, record, bodies.failed.pop(record.uid), headers)
                continue
            content = bodies.read.pop(record.uid, None)
            if content is not None:
                items.append((record, content, partners, leads))
        del bodies
        return self._log_isolated(batch.folder, uidvalidity, items, role=batch.role, scope=scope)[0]

    def _log_isolated(self, folder, uidvalidity, items, role=None, scope=None):
        """Log ``items`` (``[(record, content, partner ids, lead ids)]``, where
        a record has ``uid`` and ``size``) in one go; if that fails, one by
        one, so that a message that cannot be logged is recorded as skipped
        and costs only itself. Database connection and serialization failures
        are not the message's fault: they propagate. ``role``: the folder's
        (``"inbox"``, ``"sent"``), which decides the direction; ``scope``: the
        mailbox's matching scope, when the caller computed it for the batch.

        Returns ``(new interactions, records skipped)``."""
        Interaction = self.env["crm.mail.interaction"].sudo()
        if not items:
            return Interaction.browse(), []
        try:
            with self.env.cr.savepoint():
                return Interaction._log(self, [item[1:] for item in items], role=role, scope=scope), []
        except (psycopg2.OperationalError, psycopg2.InterfaceError, LoggedConcurrently):
            raise
        except Exception as error:  # noqa: BLE001 - mail from strangers: isolate, record, go on
            if len(items) > 1:
                logged, skipped = Interaction.browse(), []
                for item in items:
                    one_logged, one_skipped = self._log_isolated(folder, uidvalidity, [item], role=role, scope=scope)
                    logged |= one_logged
                    skipped += one_skipped
                return logged, skipped
            record, content = items[0][:2]
            self._skip(folder, uidvalidity, record, error, content.headers)
            return Interaction.browse(), [record]

    def _skip(self, folder, uidvalidity, record, error, headers=None):
        reason = self.env._(
            "This email could not be logged: %(error)s",
            error=f"{type(error).__name__}: {error}"[:SKIP_REASON_MAX],
        )
        _logger.info(
            "Mailbox %s: message UID %s of folder %r not logged (%s)",
            self.id,
            record.uid,
            folder,
            type(error).__name__,
            exc_info=True,
        )
        self.env["crm.mail.skipped.message"]._record(
            self, folder, uidvalidity, record.uid, reason, headers=headers, size=record.size
        )

    def _oversized_content(self, headers, size, limit):
        note = self.env._(
            "This email (%(size)s MB) is larger than the %(limit)s MB size limit: it was logged "
            "without its body and attachments.",
            size=round(size / 1024 / 1024, 1),
            limit=round(limit / 1024 / 1024, 2),
        )
        return message.Content(headers=headers, text=note)

    def _size_limit(self, param, default_mb):
        """A size limit in bytes from a system parameter given in MB."""
        value = self.env["ir.config_parameter"].sudo().get_param(param)
        try:
            megabytes = float(value) if value else default_mb
        except ValueError:
            megabytes = default_mb
        return int(megabytes * 1024 * 1024)

    def _retry_skipped(self, skipped):
        """Read ``skipped`` (``crm.mail.skipped.message`` of this mailbox)
        again from the server and log them: ``(logged or no longer needing
        it, still failing)``. Entries that succeed are removed; the others
        keep their new reason."""
        self.ensure_one()
        account = self.sudo()
        Interaction = self.env["crm.mail.interaction"].sudo()
        limit = self._size_limit("crm_mail_sync.max_attachment_mb", DEFAULT_MAX_ATTACHMENT_MB)
        done = failed = 0
        by_folder = skipped.grouped("folder")
        try:
            found = account._fetch_again({folder: entries.mapped("uid") for folder, entries in by_folder.items()})
        except engine_errors.MailConnectionError as error:
            raise UserError(describe(self.env, error)) from None
        folder_states = SyncState.from_json(account.sync_state).folders if account.sync_state else {}
        for folder, entries in by_folder.items():
            uidvalidity, bodies = found.get(folder, ("", {}))
            role = folder_states[folder].role if folder in folder_states else None
            for entry in entries:
                raw = bodies.get(entry.uid) if uidvalidity == entry.uidvalidity else None
                if raw is None:
                    entry.write(
                        {
                            "reason": self.env._("This email is no longer in the folder %(folder)s.", folder=folder),
                            "attempts": entry.attempts + 1,
                        }
                    )
                    failed += 1
                    continue
                record = _Retried(uid=entry.uid, size=len(raw))
                try:
                    content = message.parse_message(raw, max_attachment_bytes=limit)
                except Exception as error:  # noqa: BLE001 - see _log_chunk
                    account._skip(folder, uidvalidity, record, error)
                    failed += 1
                    continue
                matches = Interaction._match(account, [(record, content.headers)])
                logged, still = Interaction.browse(), []
                if matches:
                    _record, _headers, partners, leads = matches[0]
                    logged, still = account._log_isolated(
                        folder, uidvalidity, [(record, content, partners, leads)], role=role
                    )
                if still:
                    failed += 1
                else:
                    account.messages_logged += len(logged)
                    entry.unlink()
                    done += 1
        return done, failed


class _Retried:
    """A message read again by UID, as the logging steps expect a record."""

    __slots__ = ("size", "uid")

    def __init__(self, uid, size):
        self.uid, self.size = uid, size
