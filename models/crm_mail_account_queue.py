"""Company email logging: one mailbox everyone Bccs or forwards mail to.

A mailbox of kind ``queue`` (administrators only) is read by the same sync
as the others (``_sync_session`` in crm_mail_account_sync.py), through its
own reader (:mod:`mailsync.queue`): every message of its queue folder is
logged, the batch committed, and only then moved to the storage folder (or
to the "Not logged" folder, with the reason in ``crm.mail.skipped.message``).
A crash between the commit and the move leaves the message in the queue:
the next run logs nothing twice (one entry per owner and message identity)
and moves it.

Who an email belongs to: the internal user whose address (or alias: the
address of a connected mailbox, or a From address of their outgoing server)
is its sender (sent mail) or one of its To/Cc recipients (received mail);
several users: one entry each; none: one company-wide entry. A forward
addressed to the logging address by a user logs the forwarded original
(:mod:`mailsync.forwarded`), with its own sender and date, for that user.
"""

import contextlib
import dataclasses
import logging

import psycopg2

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError

from ..mailsync import errors as engine_errors
from ..mailsync import forwarded, imap, message
from ..mailsync.addresses import normalize
from ..mailsync.queue import (
    DEFAULT_NOT_LOGGED,
    DEFAULT_QUEUE,
    DEFAULT_STORAGE,
    NOT_LOGGED,
    STORAGE,
    QueueFolders,
    QueueSetupError,
    check_setup,
    create_folders,
    open_queue,
)
from ..tools import mail_network_policy, messages
from ..tools.messages import describe
from .crm_mail_account_sync import (
    BATCH_SIZE,
    BODY_CHUNK_BYTES,
    BODY_CHUNK_MESSAGES,
    DEFAULT_MAX_ATTACHMENT_MB,
    DEFAULT_MAX_MESSAGE_MB,
)

_logger = logging.getLogger(__name__)

QUEUE_FIELDS = frozenset(
    {"queue_folder", "queue_storage_folder", "queue_not_logged_folder", "queue_enabled", "queue_report"}
)


class _Disabled:
    """The reader of a logging mailbox that is not enabled: nothing to read."""

    listing = None

    def batches(self):
        return iter(())


class CrmMailAccountQueue(models.Model):
    _inherit = "crm.mail.account"

    kind = fields.Selection(
        selection_add=[("queue", "Company logging (IMAP)")],
        ondelete={"queue": "cascade"},
    )
    queue_folder = fields.Char(
        default=DEFAULT_QUEUE,
        help="The folder of the logging mailbox where the mail to log arrives (the inbox: INBOX).",
    )
    queue_storage_folder = fields.Char(
        "Storage Folder",
        default=DEFAULT_STORAGE,
        help="Where each email goes once it is logged (or has nothing to log).",
    )
    queue_not_logged_folder = fields.Char(
        "Not Logged Folder",
        default=DEFAULT_NOT_LOGGED,
        help="Where an email that cannot be logged goes; the reason is listed under Not Logged.",
    )
    queue_enabled = fields.Boolean(
        "Enabled", default=False, help="Process the queue folder at every sync. Validate the setup first."
    )
    queue_report = fields.Text("Setup Check", readonly=True, copy=False)

    @api.model
    def _admin_only_fields(self):
        return super()._admin_only_fields() | QUEUE_FIELDS

    def _check_admin_only_fields(self, vals_list, creating):
        """A salesperson chooses how their own mailbox is read (IMAP, Graph),
        never that it is a company logging mailbox, nor changes one."""
        super()._check_admin_only_fields(vals_list, creating)
        if mail_network_policy.is_administrator(self.env):
            return
        if any(vals.get("kind") == "queue" for vals in vals_list) or (
            not creating and "kind" in {name for vals in vals_list for name in vals} and "queue" in self.mapped("kind")
        ):
            raise AccessError(
                self.env._(
                    "Only an administrator can set “%(field)s” (%(name)s) of a connected mailbox. "
                    "Use the “Connect a Mailbox” assistant to connect your own.",
                    field=self._fields["kind"].string,
                    name="kind",
                )
            )

    @api.constrains("kind", "user_id")
    def _check_queue_owner(self):
        for account in self:
            if account.kind == "queue" and account.user_id:
                raise ValidationError(
                    self.env._(
                        "A company logging mailbox belongs to the company: leave its owner empty (%(email)s).",
                        email=account.email,
                    )
                )

    @api.constrains("kind", "queue_folder", "queue_storage_folder", "queue_not_logged_folder")
    def _check_queue_folders(self):
        for account in self.filtered(lambda a: a.kind == "queue"):
            folders = account._queue_folders()
            names = [folders.queue, folders.storage, folders.not_logged]
            if not all(name.strip() for name in names):
                raise ValidationError(self.env._("Enter the queue, storage and “Not logged” folders."))

    def write(self, vals):
        result = super().write(vals)
        if vals.get("queue_enabled"):
            for account in self.filtered(lambda a: a.kind == "queue"):
                problems = account._queue_check()
                if problems:
                    raise UserError(
                        self.env._("The logging mailbox cannot be enabled yet:")
                        + "\n"
                        + "\n".join(f"- {line}" for line in problems)
                    )
                account.sudo().write({"state": "connected", "last_error": False, "queue_report": False})
        return result

    # -- setup -----------------------------------------------------------
    def _queue_folders(self):
        self.ensure_one()
        return QueueFolders(
            (self.queue_folder or DEFAULT_QUEUE).strip(),
            (self.queue_storage_folder or DEFAULT_STORAGE).strip(),
            (self.queue_not_logged_folder or DEFAULT_NOT_LOGGED).strip(),
        )

    def _check_queue_admin(self):
        if not mail_network_policy.is_administrator(self.env):
            raise AccessError(self.env._("Only an administrator can set up the company logging mailbox."))
        if any(account.kind != "queue" for account in self):
            raise UserError(self.env._("This is not a company logging mailbox."))

    def _queue_problem_texts(self, problems):
        """What is missing and what to do, one sentence per problem, in the
        current user's language."""
        return messages.describe_queue_problems(self.env, problems)

    def _queue_check(self):
        """Sign in and check the folders and the server's ability to move:
        the list of problems as sentences (empty: ready)."""
        self.ensure_one()
        try:
            with imap.connect(self._imap_settings()) as session:
                problems = check_setup(session, self._queue_folders())
        except engine_errors.MailConnectionError as error:
            return [describe(self.env, error)]
        except UserError as error:  # e.g. no encryption key, sign-in expired
            return [error.args[0]]
        return self._queue_problem_texts(problems)

    def action_validate_setup(self):
        """*Validate setup*: signs in, checks the three folders and that the
        server can move messages; says exactly what is missing, with what to
        do, and keeps it on the form."""
        self.ensure_one()
        self._check_queue_admin()
        problems = self._queue_check()
        if problems:
            report = "\n".join(f"- {line}" for line in problems)
            self.sudo().write({"queue_report": report})
            return self._queue_notify(self.env._("The setup is not complete:") + "\n" + report, "warning")
        self.sudo().write({"queue_report": False, "state": "connected", "last_error": False})
        message_text = self.env._(
            "The setup is complete: %(queue)s is processed into %(storage)s.",
            queue=self._queue_folders().queue,
            storage=self._queue_folders().storage,
        )
        if not self.queue_enabled:
            message_text += " " + self.env._("Switch on “Enabled” to start logging.")
        return self._queue_notify(message_text, "success")

    def _queue_notify(self, text, kind):
        """A notification, and the form shown again (its setup check is new)."""
        action = self._notify(text, kind)
        action["params"]["next"] = {"type": "ir.actions.client", "tag": "soft_reload"}
        return action

    def action_create_queue_folders(self):
        """Create the storage and "Not logged" folders where missing, then
        validate the setup again."""
        self.ensure_one()
        self._check_queue_admin()
        folders = self._queue_folders()
        try:
            with imap.connect(self._imap_settings()) as session:
                create_folders(session, [folders.storage, folders.not_logged])
        except engine_errors.MailConnectionError as error:
            return self._queue_notify(describe(self.env, error), "danger")
        return self.action_validate_setup()

    # -- reading the queue -------------------------------------------------
    @contextlib.contextmanager
    def _mail_reader(self, state):
        if self.kind != "queue":
            with super()._mail_reader(state) as reader:
                yield reader
            return
        if not self.queue_enabled:
            yield _Disabled()
            return
        with imap.connect(self._imap_settings()) as session:
            try:
                with open_queue(
                    session, self._queue_folders(), batch_size=BATCH_SIZE, on_moved=self._queue_moved
                ) as reader:
                    yield reader
            except QueueSetupError as error:
                raise UserError(
                    self.env._("The company logging mailbox is not set up completely:")
                    + " "
                    + " ".join(self._queue_problem_texts(error.problems))
                ) from None

    def _queue_moved(self, batch):
        """After a batch was moved: the emails not logged are listed where
        they are now (folder, UIDVALIDITY, UID from COPYUID), so that *Retry*
        finds them."""
        uidvalidity, uids = batch.moved.get(NOT_LOGGED, (0, {}))
        if not uids:
            return
        folder = batch.state.folders.get(batch.folder)
        Skipped = self.env["crm.mail.skipped.message"].sudo()
        entries = Skipped.search(
            [
                ("account_id", "=", self.id),
                ("folder", "=", batch.folder),
                ("uidvalidity", "=", str(folder.uidvalidity if folder else 0)),
                ("uid", "in", [str(uid) for uid in uids]),
            ]
        )
        for entry in entries:
            entry.write(
                {
                    "folder": self._queue_folders().not_logged,
                    "uidvalidity": str(uidvalidity),
                    "uid": str(uids[int(entry.uid)]),
                }
            )

    # -- logging ------------------------------------------------------------
    def _matching_scope(self):
        """A logging mailbox: every internal user's address is the company's,
        never a customer's."""
        scope = super()._matching_scope()
        if self.kind != "queue":
            return scope
        internal = frozenset(self._queue_internal_addresses())
        return dataclasses.replace(scope, own_addresses=scope.own_addresses | internal)

    def _queue_internal_addresses(self):
        """``{matching key: res.users}`` of the active internal users of the
        mailbox's company: their email, the addresses of their connected
        mailboxes and the From addresses (aliases) of their outgoing server."""
        self.ensure_one()
        users = (
            self.env["res.users"]
            .sudo()
            .search([("share", "=", False), ("company_ids", "in", self.company_id.ids), ("email", "!=", False)])
        )
        found = {}
        for user in users:
            found.setdefault(normalize(user.email), user)
        accounts = self.env["crm.mail.account"].sudo().search([("user_id", "in", users.ids)])
        for account in accounts:
            found.setdefault(normalize(account.email), account.user_id)
            server = account._own_outgoing_server()
            for address in server._parse_from_filter(server.from_filter) if server else ():
                if "@" in address:
                    found.setdefault(normalize(address), account.user_id)
        found.pop(normalize(self.email), None)
        found.pop(None, None)
        found.pop("", None)
        return found

    def _queue_plan(self, content, internal):
        """``[(owner, content to log)]`` for one message of the queue: see the
        module's docstring. ``owner`` is a ``res.users`` record (empty: the
        company's)."""
        headers = content.headers
        users = self.env["res.users"]
        sender = headers.sender[0][1] if headers.sender else None
        sender_user = internal.get(sender) if sender else None
        addressed = {key for _name, key in (*headers.to, *headers.cc)}
        if sender_user and normalize(self.email) in addressed:
            limit = self._size_limit("crm_mail_sync.max_attachment_mb", DEFAULT_MAX_ATTACHMENT_MB)
            found = forwarded.original(content, max_attachment_bytes=limit, fallback_date=headers.date)
            if found:
                return [(sender_user, found.content)]
        owners = users
        if sender_user:
            owners |= sender_user
        for key in addressed:
            if key in internal:
                owners |= internal[key]
        if not owners:
            return [(users, content)]
        return [(owner, content) for owner in owners]

    def _ingest(self, batch):
        """A logging mailbox's batch: every message is logged (for each of
        its owners) or found to concern no contact, and then goes to the
        storage folder; one that cannot be logged goes to "Not logged" and
        is listed with the reason. Returns the new interactions."""
        if self.kind != "queue":
            return super()._ingest(batch)
        self.ensure_one()
        Interaction = self.env["crm.mail.interaction"].sudo()
        folder = batch.state.folders.get(batch.folder)
        uidvalidity = folder.uidvalidity if folder else 0
        internal = self._queue_internal_addresses()
        max_message = self._size_limit("crm_mail_sync.max_message_mb", DEFAULT_MAX_MESSAGE_MB)
        limit = self._size_limit("crm_mail_sync.max_attachment_mb", DEFAULT_MAX_ATTACHMENT_MB)
        logged = Interaction.browse()
        small = []
        for record in batch.records:
            if record.size > max_message:
                headers = message.parse_headers(record.raw_headers)
                content = self._oversized_content(headers, record.size, max_message)
                logged |= self._queue_log(batch, uidvalidity, record, content, internal)
            else:
                small.append(record)
        chunk, chunk_bytes = [], 0
        for index, record in enumerate(small):
            chunk.append(record)
            chunk_bytes += record.size
            if len(chunk) < BODY_CHUNK_MESSAGES and chunk_bytes < BODY_CHUNK_BYTES and index < len(small) - 1:
                continue
            for uid, raw in batch.iter_bodies([item.uid for item in chunk]):
                record = next(item for item in chunk if item.uid == uid)
                try:
                    content = message.parse_message(raw, max_attachment_bytes=limit)
                except Exception as error:  # noqa: BLE001 - the parser promises not to; never block the queue
                    self._skip(batch.folder, uidvalidity, record, error)
                    batch.destinations[record.uid] = NOT_LOGGED
                    continue
                logged |= self._queue_log(batch, uidvalidity, record, content, internal)
            chunk, chunk_bytes = [], 0
        return logged

    def _queue_log(self, batch, uidvalidity, record, content, internal):
        """Log one queue message for each of its owners, in a savepoint; say
        where it goes once the batch is committed."""
        new, ok = self._queue_log_one(batch.folder, uidvalidity, record, content, internal)
        batch.destinations[record.uid] = STORAGE if ok else NOT_LOGGED
        return new

    def _queue_log_one(self, folder, uidvalidity, record, content, internal):
        """``(new interactions, logged or nothing to log)``: one message, in
        a savepoint; one that cannot be logged is listed as skipped."""
        Interaction = self.env["crm.mail.interaction"].sudo()
        try:
            with self.env.cr.savepoint():
                new = Interaction.browse()
                plan = self._queue_plan(content, internal)
                matches = Interaction._match(self, [item.headers for _owner, item in plan])
                by_headers = {id(headers): (partners, leads) for headers, partners, leads in matches}
                for owner, item in plan:
                    if id(item.headers) in by_headers:
                        partners, leads = by_headers[id(item.headers)]
                        new |= Interaction._log(self, [(item, partners, leads)], owner=owner)
        except (psycopg2.OperationalError, psycopg2.InterfaceError):
            raise
        except Exception as error:  # noqa: BLE001 - mail from strangers: isolate, record, go on
            self._skip(folder, uidvalidity, record, error, content.headers)
            return Interaction.browse(), False
        return new, True

    def _log_isolated(self, folder, uidvalidity, items, role=None):
        """*Retry* of a logging mailbox's message: logged as the queue logs
        it (owners, forwards), not for the mailbox's (empty) owner; the
        direction follows each owner's address, not the queue folder."""
        if self.kind != "queue":
            return super()._log_isolated(folder, uidvalidity, items, role=role)
        internal = self._queue_internal_addresses()
        logged, skipped = self.env["crm.mail.interaction"].sudo().browse(), []
        for record, content, _partners, _leads in items:
            new, ok = self._queue_log_one(folder, uidvalidity, record, content, internal)
            logged |= new
            if not ok:
                skipped.append(record)
        return logged, skipped


class ResUsersLoggingAddress(models.Model):
    _inherit = "res.users"

    crm_mail_logging_address = fields.Char(
        "Email Logging Address",
        compute="_compute_crm_mail_logging_address",
        help="Bcc or forward an email to this address to log it on the CRM.",
    )

    @property
    def SELF_READABLE_FIELDS(self):
        return [*super().SELF_READABLE_FIELDS, "crm_mail_logging_address"]

    def _compute_crm_mail_logging_address(self):
        accounts = (
            self.env["crm.mail.account"]
            .sudo()
            .search([("kind", "=", "queue"), ("queue_enabled", "=", True)], order="id")
        )
        for user in self:
            companies = user.sudo().company_ids
            addresses = [account.email for account in accounts if account.company_id in companies]
            user.crm_mail_logging_address = ", ".join(addresses) or False
