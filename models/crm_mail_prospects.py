"""New prospects and what gets logged (issue 17): exclusion defaults per
mailbox, the contact creation policy, New Senders and the per-user blocklist.

The sync core calls two hooks of this file from ``_ingest``
(models/crm_mail_account_sync.py): :meth:`_exclude_by_rules` (header rules,
before matching) and :meth:`_after_match` (contacts by policy, then New
Senders, from the headers already fetched: no extra round trip). Calendar
invitations are left out once a body is downloaded: by the sync's
``_read_body`` on the read-ahead thread (``exclude_calendar`` read
beforehand, no ORM there), by :meth:`_excluded_whole` elsewhere.
"""

import dataclasses
import datetime
import logging

from markupsafe import Markup

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL

from ..mailsync import conversation, exclusions, imap, matching, message
from ..mailsync import errors as engine_errors
from ..mailsync.addresses import Exclusions
from ..mailsync.imap_sync import SyncState
from ..tools.messages import describe
from .crm_mail_account_sync import DEFAULT_MAX_ATTACHMENT_MB, _Retried

_logger = logging.getLogger(__name__)

POLICIES = [
    ("none", "Never"),
    ("sent", "From mail I send"),
    ("all", "From mail I send and receive"),
]
DEFAULT_NEW_SENDER_DAYS = 30
PREVIEW_CHARS = 600


def _default_rule(rule):
    def default(self):
        value = self.env["ir.config_parameter"].sudo().get_param("crm_mail_sync.default_exclusions")
        if value is False:
            return True
        return rule in value.replace(",", " ").split()

    return default


class CrmMailAccountProspects(models.Model):
    _inherit = "crm.mail.account"

    exclude_bulk = fields.Boolean(
        "Skip Bulk and Automated Mail",
        default=_default_rule(exclusions.BULK),
        help="Newsletters, mailing lists and automatic replies (List-Unsubscribe, List-Id, Precedence: bulk, "
        "Auto-Submitted) are not logged.",
    )
    exclude_role = fields.Boolean(
        "Skip No-Reply and Role Addresses",
        default=_default_rule(exclusions.ROLE),
        help="Addresses such as noreply@, info@, support@ are never treated as customers.",
    )
    exclude_calendar = fields.Boolean(
        "Skip Calendar Invitations",
        default=_default_rule(exclusions.CALENDAR),
        help="Meeting invitations and cancellations are not logged.",
    )
    new_senders_enabled = fields.Boolean(
        "Keep New Senders",
        default=True,
        help="List the received emails of senders who are neither a contact nor a lead, so that you can turn "
        "them into contacts or opportunities.",
    )
    contact_policy = fields.Selection(
        POLICIES,
        "Create Contacts",
        default="none",
        required=True,
        help="Create a contact for the people you write to (and who write to you) who are not contacts yet. "
        "Never for colleagues, your own addresses or excluded senders.",
    )
    business_only = fields.Boolean(
        "Business Addresses Only",
        default=True,
        help="Never create contacts for addresses of public email providers (gmail.com, outlook.com...).",
    )

    # -- rules -------------------------------------------------------------
    def _exclusion_rules(self):
        self.ensure_one()
        rules = {exclusions.BULK: self.exclude_bulk, exclusions.ROLE: self.exclude_role}
        rules[exclusions.CALENDAR] = self.exclude_calendar
        return tuple(rule for rule, on in rules.items() if on)

    def _matching_scope(self):
        """The core's scope, plus role addresses (when excluded) and the
        owner's blocklist."""
        scope = super()._matching_scope()
        extra = exclusions.role_exclusions() if self.exclude_role else []
        if self.user_id:
            extra += (
                self.env["crm.mail.blocked.sender"].sudo().search([("user_id", "=", self.user_id.id)]).mapped("entry")
            )
        if not extra:
            return scope
        return dataclasses.replace(scope, exclusions=scope.exclusions.union(Exclusions(extra)))

    def _exclude_by_rules(self, pending):
        """``pending`` (``[(record, headers)]``) without bulk mail, auto-replies
        and invitations told apart by their header block."""
        rules = self._exclusion_rules()
        if not rules:
            return pending
        return [
            (record, headers) for record, headers in pending if not exclusions.header_reason(record.raw_headers, rules)
        ]

    def _excluded_whole(self, raw):
        """Whether a downloaded message is a calendar invitation not to log."""
        return self.exclude_calendar and exclusions.is_calendar_invitation(raw)

    # -- after matching: contacts by policy, New Senders ---------------------
    def _after_match(self, batch, uidvalidity, fresh, matches, scope=None):
        """Messages of ``fresh`` (``[(record, headers)]``) that ``matches``
        left out: contacts are created by the mailbox's policy (their
        messages are returned as new matches, ``[(record, headers, partner
        ids, lead ids)]``); received mail from an outside sender that still
        matches nothing is listed in New Senders. ``scope``: the mailbox's
        matching scope, computed once for the batch by the caller."""
        matched = {record.uid for record, _headers, _partners, _leads in matches}
        unmatched = [(record, headers) for record, headers in fresh if record.uid not in matched]
        if not unmatched or not self.user_id:
            return []
        scope = scope or self._matching_scope()
        new_matches = []
        if self.contact_policy != "none":
            created = self._contacts_by_policy([headers for _record, headers in unmatched], scope, batch.role)
            if created:
                new_matches = self.env["crm.mail.interaction"].sudo()._match(self, unmatched, scope=scope)
                matched = {record.uid for record, _headers, _partners, _leads in new_matches}
                unmatched = [(record, headers) for record, headers in unmatched if record.uid not in matched]
        if self.new_senders_enabled and unmatched:
            self.env["crm.mail.new.sender"]._note(self, batch.folder, uidvalidity, unmatched, scope)
        return new_matches

    def _policy_candidates(self, headers_list, scope, role=None):
        """``{key: name}`` of the addresses the policy would make contacts of.
        ``role``: the folder's; a message in the inbox is received whatever
        its From says (``mailsync.matching.direction``)."""
        wanted = {}
        for headers in headers_list:
            way = matching.direction(headers, scope, role)
            if way == matching.SENT:
                people = [*headers.to, *headers.cc]
            elif self.contact_policy == "all":
                people = list(headers.sender[:1])
            else:
                people = []
            for name, key in people:
                if key and scope.is_external(key):
                    wanted.setdefault(key, name)
        if self.business_only and wanted:
            public = self._public_domains()
            wanted = {key: name for key, name in wanted.items() if key.rsplit("@", 1)[1] not in public}
        if wanted:
            colleagues = (
                self.env["res.users"]
                .sudo()
                .with_context(active_test=False)
                .search([("partner_id.mail_match_key", "in", sorted(wanted))])
                .partner_id.mapped("mail_match_key")
            )
            for key in colleagues:
                wanted.pop(key, None)
        return wanted

    def _public_domains(self):
        return self.env["crm.mail.provider"]._public_domains()

    def _contacts_by_policy(self, headers_list, scope, role=None):
        """Create (or bring back from the archive) a contact for each address
        the policy asks for; returns the contacts."""
        wanted = self._policy_candidates(headers_list, scope, role)
        if not wanted:
            return self.env["res.partner"]
        return self._find_or_create_contacts(wanted, self.env._("mail synced from %(email)s", email=self.email))

    def _find_or_create_contacts(self, wanted, origin):
        """``wanted``: ``{key: display name}``. An existing contact (main or
        secondary address, archived ones brought back) is reused; the others
        are created, in the company of their business domain when there is
        one, with a note saying where they came from (``origin``)."""
        Partner = self.env["res.partner"].sudo().with_context(active_test=False)
        company = self.company_id.id
        found = Partner.search(
            [
                ("mail_match_key", "in", sorted(wanted)),
                ("company_id", "in", [False, company]),
                ("is_company", "=", False),
            ]
        )
        found |= (
            self.env["crm.mail.partner.email"]
            .sudo()
            .with_context(active_test=False)
            .search([("email_key", "in", sorted(wanted))])
            .partner_id
        )
        archived = found.filtered(lambda partner: not partner.active)
        if archived:
            archived.active = True
        known = set(found.mapped("mail_match_key")) | set(found.secondary_email_ids.mapped("email_key"))
        Wizard = self.env["crm.mail.create.opportunity"].sudo()
        vals_list = [
            {
                "name": name or key,
                "email": key,
                "parent_id": Wizard._company_by_domain(key).id,
            }
            for key, name in wanted.items()
            if key not in known
        ]
        created = Partner.create(vals_list)
        for partner in created:
            partner.message_post(
                body=Markup("<p>%s</p>")
                % self.env._("Contact created by CRM Mail Sync from %(origin)s.", origin=origin),
                message_type="comment",
                subtype_xmlid="mail.mt_note",
            )
        return found | created

    # -- the mail exchanged with an address, read again ------------------------
    def _fetch_exchanged_with(self, address, wanted):
        """The messages exchanged with ``address`` that the mailbox still holds,
        in the synced folders since ``sync_since``; ``wanted`` (``{folder:
        [uid as text]}``) are read in any case. Same shape as
        :meth:`_fetch_again`. IMAP's; other kinds read ``wanted`` only.

        :raises mailsync.errors.MailConnectionError: the mailbox cannot be read
        """
        self.ensure_one()
        if self.kind != "imap":
            return self._fetch_again(wanted)
        folders = sorted(set(SyncState.from_json(self.sudo().sync_state).folders) | set(wanted))
        with imap.connect(self._imap_settings()) as session:
            found = conversation.fetch_exchanged_with(session, folders, address, since=self.sync_since)
        answer = {
            folder: (str(uidvalidity), {str(uid): raw for uid, raw in bodies.items()})
            for folder, (uidvalidity, bodies) in found.items()
        }
        missing = {
            folder: [uid for uid in uids if uid not in answer.get(folder, ("", {}))[1]]
            for folder, uids in wanted.items()
        }
        missing = {folder: uids for folder, uids in missing.items() if uids}
        if missing:
            for folder, (uidvalidity, bodies) in self._fetch_again(missing).items():
                answer.setdefault(folder, (uidvalidity, {}))[1].update(bodies)
        return answer

    def _log_fetched(self, found):
        """Log messages read again (``{folder: (uidvalidity, {uid: raw})}``)
        on what they match now; returns the new interactions."""
        self.ensure_one()
        account = self.sudo()
        Interaction = self.env["crm.mail.interaction"].sudo()
        limit = account._size_limit("crm_mail_sync.max_attachment_mb", DEFAULT_MAX_ATTACHMENT_MB)
        rules = account._exclusion_rules()
        logged = Interaction.browse()
        for folder, (uidvalidity, bodies) in found.items():
            contents = []
            for uid, raw in sorted(bodies.items()):
                if exclusions.header_reason(raw, rules) or account._excluded_whole(raw):
                    continue
                contents.append((_Retried(uid=uid, size=len(raw)), message.parse_message(raw, limit)))
            items = []
            pairs = [((record, content), content.headers) for record, content in contents]
            for (record, content), _headers, partners, leads in Interaction._match(account, pairs):
                items.append((record, content, partners, leads))
            new, _skipped = account._log_isolated(folder, uidvalidity, items)
            account.messages_logged += len(new)
            logged |= new
        return logged


class CrmMailNewSender(models.Model):
    """A received email from an outside sender who is neither a contact nor
    a lead: its headers only (the first lines are read on demand), for the
    mailbox's owner alone, kept for a limited time
    (``crm_mail_sync.new_senders_days``, default 30 days)."""

    _name = "crm.mail.new.sender"
    _description = "New Sender"
    _order = "date desc, id desc"
    _rec_name = "subject"

    user_id = fields.Many2one("res.users", "Owner", required=True, index=True, readonly=True, ondelete="cascade")
    account_id = fields.Many2one("crm.mail.account", "Mailbox", required=True, readonly=True, ondelete="cascade")
    sender_name = fields.Char("Name", readonly=True)
    email = fields.Char(required=True, index=True, readonly=True)
    domain = fields.Char(readonly=True, index=True)
    subject = fields.Char(readonly=True)
    date = fields.Datetime(readonly=True, index=True)
    message_key = fields.Char(required=True, readonly=True)
    folder = fields.Char(readonly=True)
    uid = fields.Char("UID", readonly=True)
    uidvalidity = fields.Char(readonly=True)
    preview = fields.Text("First Lines", readonly=True)

    _user_message_unique = models.Constraint("UNIQUE(user_id, message_key)", "This email is already listed.")

    @api.model
    def _note(self, account, folder, uidvalidity, unmatched, scope):
        """List the received mail of ``unmatched`` (``[(record, headers)]``)
        whose sender is outside (not a colleague, not excluded)."""
        rows = {}
        for record, headers in unmatched:
            if not headers.sender or matching.direction(headers, scope) != matching.RECEIVED:
                continue
            name, key = headers.sender[0]
            if not key or not scope.is_external(key) or headers.identity in rows:
                continue
            rows[headers.identity] = {
                "user_id": account.user_id.id,
                "account_id": account.id,
                "sender_name": name or False,
                "email": key,
                "domain": key.rsplit("@", 1)[1],
                "subject": headers.subject,
                "date": headers.date.replace(tzinfo=None) if headers.date else fields.Datetime.now(),
                "message_key": headers.identity,
                "folder": folder,
                "uid": str(record.uid),
                "uidvalidity": str(uidvalidity),
            }
        if not rows:
            return self.browse()
        Sender = self.sudo().with_context(active_test=False)
        known = set(
            Sender.search([("user_id", "=", account.user_id.id), ("message_key", "in", list(rows))]).mapped(
                "message_key"
            )
        )
        return Sender.create([values for key, values in rows.items() if key not in known])

    @api.autovacuum
    def _gc_old_entries(self):
        """Forget entries older than ``crm_mail_sync.new_senders_days`` days."""
        value = self.env["ir.config_parameter"].sudo().get_param("crm_mail_sync.new_senders_days")
        try:
            days = int(value) if value else DEFAULT_NEW_SENDER_DAYS
        except ValueError:
            days = DEFAULT_NEW_SENDER_DAYS
        limit = fields.Datetime.now() - datetime.timedelta(days=max(days, 1))
        self.sudo().search([("date", "<", limit)]).unlink()

    # -- actions -------------------------------------------------------------
    def _same_sender(self):
        """This owner's entries from the same addresses."""
        return self.search([("user_id", "in", self.user_id.ids), ("email", "in", self.mapped("email"))])

    def action_show_preview(self):
        """Read the first lines of the email from the mailbox."""
        for entry in self:
            found = entry._read_again(entry.account_id._fetch_again, {entry.folder: [entry.uid]})
            raw = found.get(entry.folder, ("", {}))[1].get(entry.uid)
            if raw is None:
                raise UserError(self.env._("This email is no longer in the folder %(folder)s.", folder=entry.folder))
            content = message.parse_message(raw)
            lines = (content.text or message.html_to_text(content.html or "")).strip()
            entry.sudo().preview = lines[:PREVIEW_CHARS] + ("…" if len(lines) > PREVIEW_CHARS else "")
        return True

    def _read_again(self, reader, *args):
        try:
            return reader(*args)
        except engine_errors.MailConnectionError as error:
            raise UserError(describe(self.env, error)) from None

    def _make_contact(self):
        """Find or create the contact of this entry's sender and log the mail
        exchanged with them that the mailbox holds; the entries of this
        sender leave the list. Returns ``(contact, interaction of this email)``."""
        self.ensure_one()
        # Its owner's (the entry leaves the list). No one writes an entry:
        # its mailbox, folder and UID say what is read here as superuser.
        self.check_access("unlink")
        account = self.account_id.sudo()
        contact = account._find_or_create_contacts(
            {self.email: self.sender_name}, self.env._("New Senders (%(email)s)", email=account.email)
        )[:1]
        same = self._same_sender()
        wanted = {}
        for entry in same:
            if entry.uid:
                wanted.setdefault(entry.folder, []).append(entry.uid)
        found = self._read_again(account._fetch_exchanged_with, self.email, wanted)
        account._log_fetched(found)
        Interaction = self.env["crm.mail.interaction"]
        interaction = Interaction.search(
            [("owner_id", "=", self.user_id.id), ("message_key", "=", self.message_key)], limit=1
        )
        same.sudo().unlink()
        return contact, interaction

    def action_create_opportunity(self):
        """The sender becomes a contact (found or created), their mail is
        logged, and the Create Opportunity wizard opens on this email."""
        self.ensure_one()
        email = self.email  # this entry is gone once the contact is made
        contact, interaction = self._make_contact()
        if not interaction:
            # Not an error: the contact is kept (an exception would roll it back).
            return {
                "type": "ir.actions.client",
                "tag": "display_notification",
                "params": {
                    "type": "warning",
                    "sticky": True,
                    "message": self.env._(
                        "The email from %(email)s could not be read again from the mailbox (moved or deleted?). "
                        "The contact %(name)s is ready: create the opportunity from it.",
                        email=email,
                        name=contact.display_name,
                    ),
                    "next": contact._get_records_action(context={}),
                },
            }
        return interaction.action_create_opportunity()

    def action_add_contact(self):
        """The sender becomes a contact (found or created), their mail is logged."""
        self.ensure_one()
        contact, _interaction = self._make_contact()
        return contact._get_records_action(context={})

    def action_ignore_sender(self):
        return self._ignore("address")

    def action_ignore_domain(self):
        return self._ignore("domain")

    def _ignore(self, kind):
        Blocked = self.env["crm.mail.blocked.sender"]
        for value in set(self.mapped("email")):
            Blocked._block(value, kind)
        return {"type": "ir.actions.client", "tag": "soft_reload"}


class CrmMailBlockedSender(models.Model):
    """A user's blocklist: an address, a domain, or a domain and its
    subdomains, never logged for this user. Blocking removes what was
    logged from it for this user; unblocking reads the mailbox's initial
    sync window again at the next sync (already logged mail is not logged
    twice)."""

    _name = "crm.mail.blocked.sender"
    _description = "Blocked Sender"
    _order = "entry"
    _rec_name = "entry"

    user_id = fields.Many2one(
        "res.users", required=True, index=True, default=lambda self: self.env.user, ondelete="cascade"
    )
    kind = fields.Selection(
        [("address", "This address"), ("domain", "This domain"), ("subdomains", "This domain and its subdomains")],
        "Block",
        required=True,
        default="address",
    )
    entry = fields.Char("Address or Domain", required=True)

    _user_entry_unique = models.Constraint("UNIQUE(user_id, entry)", "This sender is already blocked.")

    @api.model
    def _normalized(self, value, kind):
        entry = exclusions.Blocklist.entry(value, kind)
        if not entry:
            raise UserError(
                self.env._(
                    "“%(value)s” is not an email address or a domain: enter e.g. name@example.com or example.com.",
                    value=value,
                )
            )
        return entry

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            vals["entry"] = self._normalized(vals.get("entry"), vals.get("kind") or "address")
            if vals.get("user_id", self.env.user.id) != self.env.user.id and not self.env.is_superuser():
                vals["user_id"] = self.env.user.id  # one's own blocklist only
        blocked = super().create(vals_list)
        blocked._purge()
        return blocked

    def write(self, vals):
        if "entry" in vals or "kind" in vals:
            for entry in self:
                vals = {**vals, "entry": self._normalized(vals.get("entry", entry.entry), vals.get("kind", entry.kind))}
        vals.pop("user_id", None)
        result = super().write(vals)
        self._purge()
        return result

    def unlink(self):
        users = self.user_id
        result = super().unlink()
        self._read_window_again(users)
        return result

    @api.model
    def _block(self, value, kind):
        entry = self._normalized(value, kind)
        existing = self.search([("user_id", "=", self.env.user.id), ("entry", "=", entry)])
        return existing or self.create({"entry": value, "kind": kind})

    @api.model
    def _logged_from(self, user, entry):
        """The emails logged for ``user`` (a res.users) from (or only to)
        ``entry`` (a normalized blocklist entry): what blocking it removes."""
        rule = Exclusions([entry])
        needle = entry.lstrip("*.")
        candidates = (
            self.env["crm.mail.interaction"]
            .sudo()
            .search(
                [
                    ("owner_id", "=", user.id),
                    "|",
                    "|",
                    ("sender", "ilike", needle),
                    ("recipients", "ilike", needle),
                    ("cc", "ilike", needle),
                ]
            )
        )
        return candidates.filtered(lambda i, rule=rule: _blocked_interaction(i, rule))

    def _purge(self):
        """Remove what was logged from (or only to) these senders for their
        user, and their New Senders entries."""
        Sender = self.env["crm.mail.new.sender"].sudo()
        for blocked in self:
            rule = Exclusions([blocked.entry])
            needle = blocked.entry.lstrip("*.")
            doomed = self._logged_from(blocked.user_id, blocked.entry)
            # What this user shared of them: an email a colleague shares too
            # stays for them; one left without a sharer goes (with its entries).
            doomed.share_ids.filtered(lambda s, user=blocked.user_id: s.owner_id == user).unlink()
            Sender.search([("user_id", "=", blocked.user_id.id), ("email", "ilike", needle)]).filtered(
                lambda s, rule=rule: rule.matches(s.email)
            ).unlink()

    @api.model
    def _read_window_again(self, users):
        """The next sync of these users' mailboxes reads their initial sync
        window again (headers first; what is already logged is skipped)."""
        now = fields.Datetime.now()
        for account in self.env["crm.mail.account"].sudo().search([("user_id", "in", users.ids)]):
            window = account.sync_window_days or 30
            account.write(
                {
                    "sync_state": False,
                    "sync_since": fields.Date.context_today(account) - datetime.timedelta(days=window),
                    "next_sync": now,
                }
            )


def _blocked_interaction(interaction, rule):
    """A logged email from a blocked sender, or sent only to blocked people
    (its contacts' addresses, else all its recipients)."""
    if interaction.direction == matching.RECEIVED:
        senders = interaction._addresses("from")
        return bool(senders) and rule.matches(senders[0][1])
    customers = [key for key in interaction.partner_ids.mapped("mail_match_key") if key]
    if not customers:
        customers = [key for _name, key in interaction._addresses("to", "cc")]
    return bool(customers) and all(rule.matches(key) for key in customers)


def _wants_true(operator, value):
    """Whether a search on a boolean field asks for True (``=``, ``!=``,
    ``in``, ``not in``, as Odoo hands them to a search method)."""
    if operator in ("in", "not in"):
        values = [value] if value is None or isinstance(value, bool | int | str) else list(value)
        asked = True in values
        return asked if operator == "in" else not asked
    return bool(value) if operator == "=" else not value


class CrmMailInteractionFilters(models.Model):
    _inherit = "crm.mail.interaction"

    has_attachments = fields.Boolean(
        "With Attachments", compute="_compute_has_attachments", search="_search_has_attachments"
    )
    unanswered = fields.Boolean(
        compute="_compute_unanswered",
        search="_search_unanswered",
        help="Received, and no later sent reply in the conversation is logged.",
    )

    def _compute_has_attachments(self):
        for interaction in self:
            interaction.has_attachments = bool(interaction.attachment_ids)

    def _search_has_attachments(self, operator, value):
        self.env["ir.attachment"].flush_model(["res_model", "res_id"])
        rows = self.env.execute_query(
            SQL("SELECT DISTINCT res_id FROM ir_attachment WHERE res_model = %s AND res_id IS NOT NULL", self._name)
        )
        return [("id", "in" if _wants_true(operator, value) else "not in", [row[0] for row in rows])]

    def _unanswered_ids(self, ids=None):
        """Ids of received emails with no later sent email in their
        conversation: a sent email that refers to them (In-Reply-To,
        References), or that shares the first reference of their thread.
        Only replies the current user may see count (record rules): the
        filter tells nothing of a colleague's private mail."""
        self.flush_model(["direction", "date", "message_id", "thread_refs"])
        restrict = SQL("AND i.id = ANY(%s)", ids) if ids is not None else SQL()
        visible_replies = self._search([("direction", "=", "sent")]).subselect()
        rows = self.env.execute_query(
            SQL(
                """SELECT i.id FROM crm_mail_interaction i
                    WHERE i.direction = 'received' %s
                      AND NOT EXISTS (
                          SELECT 1 FROM crm_mail_interaction r
                           WHERE r.direction = 'sent' AND r.date >= i.date AND r.thread_refs IS NOT NULL
                             AND r.id IN %s
                             AND ((i.message_id IS NOT NULL AND strpos(r.thread_refs, i.message_id) > 0)
                                  OR (i.thread_refs IS NOT NULL
                                      AND split_part(i.thread_refs, ' ', 1) = split_part(r.thread_refs, ' ', 1))))""",
                restrict,
                visible_replies,
            )
        )
        return [row[0] for row in rows]

    @api.depends_context("uid")
    def _compute_unanswered(self):
        # The reader's: only the replies they may see count (one email may be
        # shared by a colleague who answered it privately).
        unanswered = set(self._unanswered_ids(self.ids))
        for interaction in self:
            interaction.unanswered = interaction.id in unanswered

    def _search_unanswered(self, operator, value):
        return [("id", "in" if _wants_true(operator, value) else "not in", self._unanswered_ids())]


class ResUsersBlockedSenders(models.Model):
    _inherit = "res.users"

    def action_open_my_blocked_senders(self):
        return self.env["ir.actions.act_window"]._for_xml_id("crm_mail_sync.crm_mail_blocked_sender_action")
