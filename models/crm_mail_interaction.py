from collections import defaultdict
from functools import cache, partial

import psycopg2
from markupsafe import Markup

from odoo import api, fields, models
from odoo.exceptions import ConcurrencyError
from odoo.fields import Domain
from odoo.tools import SQL, escape_psql, format_datetime, plaintext2html
from odoo.tools.mimetypes import guess_mimetype

from ..mailsync import authentication, matching
from ..tools.remote_content import block_remote_content
from .crm_mail_interaction_share import DIRECTIONS, SHARING, SHARING_ORDER

#: Attachments of logged emails are created this many (or this many bytes) at a time.
ATTACHMENT_GROUP_SIZE = 100
ATTACHMENT_GROUP_BYTES = 8 * 1024 * 1024
SENDER_CHECKS = [
    (authentication.PASS, "Verified"),
    (authentication.FAIL, "Unverified sender"),
    (authentication.NONE, "Not checked"),
]


class LoggedConcurrently(ConcurrencyError):
    """Another transaction logged one of these emails since ours began: its
    row is invisible to our snapshot (REPEATABLE READ). Roll back and log
    again in a new transaction, which attaches the sharer to that email
    (the sync does; Odoo's request handler retries a ``ConcurrencyError``)."""


class CrmMailInteraction(models.Model):
    """One email from connected mailboxes, logged once per company: the
    message a contact's or an opportunity's page shows in its chatter and
    Emails list.

    The same message (same ``message_key``) synced from several colleagues'
    mailboxes is one logged email with several sharers
    (``crm.mail.interaction.share``: mailbox, owner, sharing, direction for
    that owner), one set of chatter entries and one copy of its attachments;
    ``UNIQUE(company, message_key)`` makes it so even when two workers log it
    at the same moment. Logging a message again from the same mailbox does
    nothing: that is what makes a re-run after a crash harmless.
    """

    _name = "crm.mail.interaction"
    _description = "Logged Email"
    _order = "date desc, id desc"
    _rec_name = "subject"

    subject = fields.Char(readonly=True)
    message_key = fields.Char(
        "Message Identity", required=True, readonly=True, help="Message-ID, or a hash of the message without one."
    )
    message_id = fields.Char("Message-ID", index="btree_not_null", readonly=True)
    thread_refs = fields.Text(
        "Thread", readonly=True, index="trigram", help="In-Reply-To and References of the message."
    )
    share_ids = fields.One2many("crm.mail.interaction.share", "interaction_id", "Sharers", readonly=True)
    owner_ids = fields.Many2many(
        "res.users",
        string="Shared By",
        compute="_compute_first_sharer",
        search="_search_owner_id",
        help="The owners of the mailboxes that share this email with you.",
    )
    owner_id = fields.Many2one(
        "res.users",
        "First Sharer",
        compute="_compute_first_sharer",
        search="_search_owner_id",
        help="The owner of the first mailbox that logged this email (see Shared By for all).",
    )
    account_id = fields.Many2one(
        "crm.mail.account",
        "First Mailbox",
        compute="_compute_first_sharer",
        search="_search_account_id",
        help="The first mailbox that logged this email; searching finds the emails any given mailbox shares.",
    )
    company_id = fields.Many2one("res.company", readonly=True)
    sharing = fields.Selection(
        SHARING,
        compute="_compute_sharers",
        store=True,
        readonly=True,
        help="The widest sharing among the mailboxes that logged this email.",
    )
    sole_owner_id = fields.Many2one(
        "res.users",
        "Sole Sharer",
        compute="_compute_sharers",
        store=True,
        readonly=True,
        help="The owner of every mailbox that shares this email, when they are one and the same user.",
    )
    direction = fields.Selection(
        DIRECTIONS,
        compute="_compute_sharers",
        store=True,
        readonly=True,
        help="Sent when a colleague sent it (for one of its sharers), else received.",
    )
    date = fields.Datetime(readonly=True, index=True)
    sender = fields.Char("From", readonly=True)
    sender_check = fields.Selection(
        SENDER_CHECKS,
        default=authentication.NONE,
        readonly=True,
        help="What the receiving mail server found when it checked the sender (DMARC, else SPF and DKIM): "
        "“Unverified sender” means the From may be forged.",
    )
    recipients = fields.Char("To", readonly=True)
    cc = fields.Char(readonly=True)
    # {"from": [[name, key]], "to": [...], "cc": [...]}: keys of mailsync.addresses.normalize (see _addresses).
    addresses = fields.Json(readonly=True, help="The From, To and Cc of the email: names and addresses.")
    body = fields.Html(readonly=True)
    body_display = fields.Html(
        "Content",
        compute="_compute_body_display",
        sanitize=False,
        help="The body with remote images and style sheets removed, unless “Show images” was clicked.",
    )
    has_remote_content = fields.Boolean(
        "Remote Content",
        readonly=True,
        help="The email loads images or style sheets from other servers (not shown until “Show images”).",
    )
    partner_ids = fields.Many2many(
        "res.partner",
        "crm_mail_interaction_res_partner_rel",
        "interaction_id",
        "partner_id",
        "Contacts",
        readonly=True,
    )
    lead_ids = fields.Many2many(
        "crm.lead",
        "crm_mail_interaction_crm_lead_rel",
        "interaction_id",
        "lead_id",
        "Opportunities",
        readonly=True,
    )
    attachment_ids = fields.Many2many("ir.attachment", string="Attachments", compute="_compute_attachment_ids")
    mail_message_ids = fields.One2many("mail.message", "crm_mail_interaction_id", "Chatter Entries", readonly=True)

    _company_message_unique = models.UniqueIndex(
        "(COALESCE(company_id, 0), message_key)", "This email is already logged in this company."
    )

    @api.model
    def _sharing_domain(self, user, company_ids=None):
        """Which logged emails ``user`` may see, as a domain on this model: the
        one definition of sharing, used by the record rules of this model and
        of ``mail.message`` (security/crm_mail_interaction_security.xml, through
        ``crm_mail_sharing_domain`` of ``ir.rule``'s evaluation context).

        An email is seen when *any* of its sharers lets ``user`` see it
        (``crm.mail.interaction.share._visible_domain``: private, team,
        everyone).

        With ``company_ids`` (list of ids), the email must also belong to one of
        these companies (or to none): record rules' subqueries run as
        superuser, so a rule on another model must say it itself.
        """
        domain = [("share_ids", "any", self.env["crm.mail.interaction.share"]._visible_domain(user))]
        if company_ids is not None:
            domain = ["&", "|", ("company_id", "=", False), ("company_id", "in", list(company_ids)), *domain]
        return domain

    @api.model
    def _message_visible_domain(self, user, company_ids):
        """Which ``mail.message`` rows ``user`` may see as far as logged email
        goes, as a domain on ``mail.message`` (its global record rule):
        every message that carries no logged email, and those whose email
        ``_sharing_domain(user, company_ids)`` lets them see.

        Written as plain SQL behind ``crm_mail_interaction_id IS NULL OR``, on
        columns of ``mail_message`` (the email's company, widest sharing and
        sole sharer, stored related fields): the message of an email shared
        by one user's mailboxes (the usual case), or shared with everyone, is
        decided on its own row; only an email several colleagues share looks
        at its sharers (``crm_mail_interaction_share``). The reader's
        teammates are read here, once per rule domain (``ir.rule`` caches it
        per user and companies; models/crm_team.py clears that cache when a
        membership or a team's archiving changes), and given to the query as
        a constant: a read of messages costs no extra query and planning it
        costs about what it costs without the addon. Ordinary chatter,
        Discuss and ``mail.message`` searches cost what they cost without the
        addon (bench/chatter.py measures it): ``('crm_mail_interaction_id',
        'any', _sharing_domain)`` cost every read of any message about twice,
        PostgreSQL planning the ORM's nested subqueries each time, and reading
        the teammates once per query cost every read two more queries
        (issue 13).
        """
        sharing = self._sharing_domain(user, company_ids)
        companies = sorted(company_ids or [])
        everyone = "everyone" if not user.share else "nobody"
        teammates = self.env["crm.mail.interaction.share"]._teammate_ids(user)

        @cache
        def clause(alias):
            # The SQL of _sharing_domain, written by hand: ORM-built subqueries
            # (joins, nested "any") cost more to plan than the read they guard.
            # test_security_boundary and test_interaction_log check both agree.
            # Built once per table alias: everything else in it is a constant.
            column = partial(SQL.identifier, alias)
            return SQL(
                """(%(email)s IS NULL OR (
                    (%(company)s IS NULL OR %(company)s = ANY(%(companies)s))
                    AND (%(sharing)s = %(everyone)s
                         OR (%(owner)s IS NOT NULL
                             AND (%(owner)s = %(uid)s OR (%(sharing)s = 'team' AND %(owner)s = ANY(%(teammates)s))))
                         OR (%(owner)s IS NULL AND EXISTS (
                             SELECT 1 FROM crm_mail_interaction_share sharer
                              WHERE sharer.interaction_id = %(email)s
                                AND (sharer.owner_id = %(uid)s OR sharer.sharing = %(everyone)s
                                     OR (sharer.sharing = 'team' AND sharer.owner_id = ANY(%(teammates)s))))))))""",
                email=column("crm_mail_interaction_id"),
                company=column("crm_mail_company_id"),
                owner=column("crm_mail_owner_id"),
                sharing=column("crm_mail_sharing"),
                teammates=teammates,
                companies=companies,
                uid=user.id,
                everyone=everyone,
            )

        def to_sql(model, alias, query):
            # The ORM cannot tell which columns this SQL reads: flush them
            # (a sharing changed on the email is recomputed onto its messages).
            # The query's environment, not this method's: rule domains are
            # cached across requests (and their cursors).
            model.flush_model(
                ["crm_mail_interaction_id", "crm_mail_owner_id", "crm_mail_sharing", "crm_mail_company_id"]
            )
            model.env["crm.mail.interaction.share"].flush_model(["interaction_id", "owner_id", "sharing"])
            return clause(alias)

        def predicate(message):
            email = message.sudo().crm_mail_interaction_id
            return not email or bool(email.filtered_domain(sharing))

        return Domain.custom(to_sql=to_sql, predicate=predicate)

    def _compute_attachment_ids(self):
        attachments = self.env["ir.attachment"].search([("res_model", "=", self._name), ("res_id", "in", self.ids)])
        by_interaction = attachments.grouped("res_id")
        for interaction in self:
            interaction.attachment_ids = by_interaction.get(interaction.id, attachments.browse())

    @api.depends("body")
    @api.depends_context("crm_mail_show_images")
    def _compute_body_display(self):
        show = self.env.context.get("crm_mail_show_images")
        for interaction in self:
            if show:
                interaction.body_display = interaction.body
            else:
                interaction.body_display = block_remote_content(interaction.body)[0]

    def _chatter_body(self):
        """``(body, blocked)``: the body of this email's chatter entries, its
        body without remote content (the From/To/date block is rendered when
        read, see ``_chatter_display``), and whether anything was removed.
        One HTML parse."""
        self.ensure_one()
        body, blocked = block_remote_content(self.body)
        if self.sender_check == authentication.FAIL:
            warning = Markup(
                '<p class="o_crm_mail_sync_unverified alert alert-danger small mb-1" role="alert">%s</p>'
            ) % self.env._(
                "Unverified sender: the receiving mail server could not confirm that this email comes from "
                "%(sender)s. Its From may be forged: check with the sender by other means before acting on it.",
                sender=self.sender or "",
            )
            body = warning + Markup(body or "")
        return body, blocked

    def _addresses(self, *kinds):
        """``[(display name, address key)]`` of this email's ``kinds``
        (``"from"``, ``"to"``, ``"cc"``), in order, de-duplicated: the
        addresses its headers gave when it was logged (keys from
        ``mailsync.addresses.normalize``), never parsed again from the
        displayed From/To/Cc."""
        self.ensure_one()
        stored = self.addresses or {}
        pairs, seen = [], set()
        for kind in kinds:
            for name, key in stored.get(kind, ()):
                if key not in seen:
                    seen.add(key)
                    pairs.append((name, key))
        return pairs

    @api.depends("share_ids.owner_id", "share_ids.account_id")
    @api.depends_context("uid")
    def _compute_first_sharer(self):
        # As the reader: the sharers they may see (a private sharer is not
        # named to those another sharer lets see the email).
        for interaction in self:
            shares = interaction.share_ids.sorted("id")
            if not self.env.su:
                shares = shares._filtered_access("read")
            interaction.owner_ids = shares.owner_id
            interaction.owner_id = shares[:1].owner_id
            interaction.account_id = shares.account_id[:1]

    @api.depends("share_ids.sharing", "share_ids.direction", "share_ids.owner_id")
    def _compute_sharers(self):
        for interaction in self:
            shares = interaction.sudo().share_ids
            owners = set(shares.mapped(lambda share: share.owner_id.id))
            interaction.sole_owner_id = owners.pop() if len(owners) == 1 else False
            interaction.sharing = max(shares.mapped("sharing") or ["private"], key=SHARING_ORDER.__getitem__)
            interaction.direction = matching.SENT if matching.SENT in shares.mapped("direction") else matching.RECEIVED

    def _search_owner_id(self, operator, value):
        return [("share_ids", "any", [("owner_id", operator, value)])]

    def _search_account_id(self, operator, value):
        return [("share_ids", "any", [("account_id", operator, value)])]

    def unlink(self):
        """Deleting a logged email as a user removes what *they* shared of it
        (their sharers); the email goes with its last sharer. The sync and
        administrators' code (superuser) delete the email itself."""
        self.check_access("unlink")
        if not self.env.su:
            mine = self.sudo().share_ids.filtered(lambda share: share.owner_id == self.env.user)
            mine.unlink()
            return True
        # Attachments belong to the logged email: they go with it.
        Attachment = self.env["ir.attachment"].sudo()
        Attachment.search([("res_model", "=", self._name), ("res_id", "in", self.ids)]).unlink()
        return super().unlink()

    def _delete_email(self):
        """Delete these emails whoever shares them (their chatter entries,
        sharers and attachments go too)."""
        return self.sudo().unlink()

    # -- matching --------------------------------------------------------
    @api.model
    def _match(self, account, items, scope=None):
        """For each message of ``items`` (``[(tag, headers)]``: ``headers`` a
        ``mailsync.message.Headers``, ``tag`` whatever the caller carries with
        it, e.g. its header record and UID), the contacts and open leads it
        concerns: ``[(tag, headers, partner ids, lead ids)]``, only for the
        messages that concern at least one: by address, and by thread (its
        In-Reply-To or References naming a logged email of a lead, or a
        message of Odoo's own on a lead or a contact). ``scope``: the
        mailbox's ``_matching_scope()``, computed once per batch by the
        caller (else here). A few indexed queries per batch, whatever its
        size."""
        scope = scope or account._matching_scope()
        headers_list = [headers for _tag, headers in items]
        keys = [matching.external_keys(headers, scope) for headers in headers_list]
        all_keys = sorted(set().union(*keys))
        thread_ids = sorted({ref for headers in headers_list for ref in headers.thread_ids()})
        if not all_keys and not thread_ids:
            return []
        for model in ("res.partner", "crm.mail.partner.email", "crm.lead", "crm.mail.interaction"):
            self.env[model].flush_model()
        company = account.company_id.id

        partners_by_key = self._partners_by_key(all_keys, company)
        partner_ids = sorted({pid for pids in partners_by_key.values() for pid in pids})
        leads_by_key, leads_by_partner = defaultdict(set), defaultdict(set)
        if all_keys:
            rows = self.env.execute_query(
                SQL(
                    """SELECT id, partner_id, mail_match_key FROM crm_lead
                        WHERE active AND won_status = 'pending'
                          AND (company_id IS NULL OR company_id = %(company)s)
                          AND (mail_match_key = ANY(%(keys)s) OR partner_id = ANY(%(partners)s))""",
                    keys=all_keys,
                    partners=partner_ids,
                    company=company,
                )
            )
            for lead_id, partner_id, key in rows:
                if key:
                    leads_by_key[key].add(lead_id)
                if partner_id:
                    leads_by_partner[partner_id].add(lead_id)

        leads_by_thread, partners_by_thread = defaultdict(set), defaultdict(set)
        if thread_ids:
            rows = self.env.execute_query(
                SQL(
                    """SELECT i.message_id, r.lead_id FROM crm_mail_interaction i
                         JOIN crm_mail_interaction_crm_lead_rel r ON r.interaction_id = i.id
                         JOIN crm_lead l ON l.id = r.lead_id AND l.active
                        WHERE i.message_id = ANY(%(refs)s)
                          AND (l.company_id IS NULL OR l.company_id = %(company)s)""",
                    refs=thread_ids,
                    company=company,
                )
            )
            for message_id, lead_id in rows:
                leads_by_thread[message_id].add(lead_id)
            # Odoo's own mail: sent from a chatter, or received through an
            # alias (issue 13). A reply in its thread is logged on its record,
            # whoever sent it.
            rows = self.env.execute_query(
                SQL(
                    """SELECT m.message_id, m.model, m.res_id FROM mail_message m
                         LEFT JOIN crm_lead l ON m.model = 'crm.lead' AND l.id = m.res_id
                         LEFT JOIN res_partner p ON m.model = 'res.partner' AND p.id = m.res_id
                        WHERE m.message_id = ANY(%(refs)s) AND m.crm_mail_interaction_id IS NULL
                          AND ((l.active AND (l.company_id IS NULL OR l.company_id = %(company)s))
                               OR (p.active AND (p.company_id IS NULL OR p.company_id = %(company)s)))""",
                    refs=thread_ids,
                    company=company,
                )
            )
            for message_id, model, res_id in rows:
                if model == "crm.lead":
                    leads_by_thread[message_id].add(res_id)
                else:
                    partners_by_thread[message_id].add(res_id)

        matches = []
        for (tag, headers), message_keys in zip(items, keys, strict=True):
            partners = {pid for key in message_keys for pid in partners_by_key.get(key, ())}
            leads = {lid for key in message_keys for lid in leads_by_key.get(key, ())}
            leads |= {lid for pid in partners for lid in leads_by_partner.get(pid, ())}
            leads |= {lid for ref in headers.thread_ids() for lid in leads_by_thread.get(ref, ())}
            partners |= {pid for ref in headers.thread_ids() for pid in partners_by_thread.get(ref, ())}
            if partners or leads:
                matches.append((tag, headers, sorted(partners), sorted(leads)))
        return matches

    @api.model
    def _partners_by_key(self, keys, company_id=None):
        """The one way from address keys to contacts: ``{key: {partner id}}``
        of the active contacts whose main or secondary address
        (``crm.mail.partner.email``) has one of ``keys``
        (``mailsync.addresses.normalize``), restricted to those of
        ``company_id`` or of no company when it is given. One query."""
        found = defaultdict(set)
        keys = sorted(set(filter(None, keys)))
        if not keys:
            return found
        self.env["res.partner"].flush_model(["mail_match_key", "active", "company_id"])
        self.env["crm.mail.partner.email"].flush_model(["email_key", "partner_id"])
        company = SQL("AND (p.company_id IS NULL OR p.company_id = %s)", company_id) if company_id else SQL()
        rows = self.env.execute_query(
            SQL(
                """SELECT p.mail_match_key, p.id FROM res_partner p
                    WHERE p.mail_match_key = ANY(%(keys)s) AND p.active %(company)s
                   UNION
                   SELECT e.email_key, p.id FROM crm_mail_partner_email e
                     JOIN res_partner p ON p.id = e.partner_id
                    WHERE e.email_key = ANY(%(keys)s) AND p.active %(company)s""",
                keys=keys,
                company=company,
            )
        )
        for key, partner_id in rows:
            found[key].add(partner_id)
        return found

    # -- logging ---------------------------------------------------------
    @api.model
    def _log(self, account, items, role=None, owner=None, scope=None):
        """Log ``[(content, partner ids, lead ids)]`` (``content`` a
        ``mailsync.message.Content``) as shared by this mailbox for its owner
        (or ``owner``, a ``res.users`` record, possibly empty for a
        company-wide entry: the company logging mailbox decides it per
        message). ``role``: the folder's (``"inbox"``, ``"sent"``, or None),
        which decides the direction for that owner (``scope``: the mailbox's
        ``_matching_scope()`` when the caller has it). A received message gets
        the receiving server's verdict on its sender
        (``mailsync.authentication``).

        A message the company already holds (same identity) is not logged
        again: the mailbox becomes one more sharer of that email (its
        content is not read: a headers-only ``content`` is enough), and the
        email gains the contacts and leads this mailbox found for it. A
        message this mailbox already shares is skipped.

        Returns the emails logged or shared by this call.

        :raises LoggedConcurrently: another transaction logged one of these
            messages since this one began (``UNIQUE(company, message_key)``);
            roll back and call again.
        """
        self = self.sudo()
        owner = account.user_id if owner is None else owner
        scope = scope or account._matching_scope()
        trusted = account._trusted_authserv_ids()
        keys = [content.headers.identity for content, _partners, _leads in items]
        existing = {
            email.message_key: email
            for email in self.with_context(active_test=False).search(
                [("company_id", "=", account.company_id.id), ("message_key", "in", keys)]
            )
        }
        vals_list, contents, joined, done = [], [], [], set()
        for content, partner_ids, lead_ids in items:
            headers = content.headers
            if headers.identity in done:
                continue
            done.add(headers.identity)
            direction = matching.direction(headers, scope, role)
            sharer = {
                "account_id": account.id,
                "owner_id": owner.id,
                "sharing": account.sharing,
                "direction": direction,
            }
            email = existing.get(headers.identity)
            if email:
                if not email.share_ids.filtered(lambda s: s.account_id == account and s.owner_id == owner):
                    joined.append((email, sharer, partner_ids, lead_ids))
                continue
            contents.append(content)
            check = authentication.NONE
            if direction == matching.RECEIVED:
                check = authentication.verdict(headers.authentication_results, trusted)
            vals_list.append(
                {
                    "subject": headers.subject,
                    "message_key": headers.identity,
                    "message_id": headers.message_id or False,
                    "thread_refs": " ".join(headers.thread_ids()) or False,
                    "company_id": account.company_id.id,
                    "share_ids": [fields.Command.create(sharer)],
                    "sender_check": check,
                    "date": headers.date.replace(tzinfo=None) if headers.date else fields.Datetime.now(),
                    "sender": _format_addresses(headers.sender),
                    "recipients": _format_addresses(headers.to),
                    "cc": _format_addresses(headers.cc),
                    "addresses": {"from": headers.sender, "to": headers.to, "cc": headers.cc},
                    "body": self._body_html(content),
                    "partner_ids": [fields.Command.set(partner_ids)],
                    "lead_ids": [fields.Command.set(lead_ids)],
                }
            )
        try:
            # One create per kind of record for the whole batch, once the
            # unique index has given this transaction these identities.
            with self.env.cr.savepoint():
                self._claim_identities(account.company_id.id, [vals["message_key"] for vals in vals_list])
                created = self.create(vals_list)
                self.env["crm.mail.interaction.share"].create(
                    [{**sharer, "interaction_id": email.id} for email, sharer, _p, _l in joined]
                )
                self.env.flush_all()
        except psycopg2.errors.SerializationFailure as error:
            raise LoggedConcurrently(str(error)) from None
        except psycopg2.errors.UniqueViolation as error:
            if error.diag.table_name in (self._table, "crm_mail_interaction_share"):
                raise LoggedConcurrently(str(error)) from None
            raise
        attachments = created._store_attachments(contents)
        created._post_in_chatters(attachments=attachments)
        for email, _sharer, partner_ids, lead_ids in joined:
            new_partners = set(partner_ids) - set(email.partner_ids.ids)
            new_leads = set(lead_ids) - set(email.lead_ids.ids)
            if new_partners or new_leads:
                email.write(
                    {
                        "partner_ids": [fields.Command.link(pid) for pid in sorted(new_partners)],
                        "lead_ids": [fields.Command.link(lid) for lid in sorted(new_leads)],
                    }
                )
                email._update_chatters()
        return created | self.browse([email.id for email, *_rest in joined])

    @api.model
    def _claim_identities(self, company_id, keys):
        """Reserve the message identities ``keys`` of ``company_id`` for this
        transaction, through the unique index on (company, message_key): a
        row is inserted for each and deleted at once (the index entry keeps
        any other transaction inserting the same identity waiting until this
        one ends; the ORM's create then inserts the real row). Done in SQL,
        so that the expected failure is not logged as a bad query.

        :raises LoggedConcurrently: another transaction logged one of them
            since this one began (it waited for that one to commit).
        """
        if not keys:
            return
        cr = self.env.cr
        try:
            with cr.savepoint(flush=False):
                cr.execute(
                    SQL(
                        """INSERT INTO crm_mail_interaction (message_key, company_id, create_uid, write_uid,
                                                             create_date, write_date)
                           SELECT key, %(company)s, %(uid)s, %(uid)s, %(now)s, %(now)s
                             FROM unnest(%(keys)s::varchar[]) AS key
                        RETURNING id""",
                        company=company_id or None,
                        uid=self.env.uid,
                        now=cr.now(),
                        keys=list(keys),
                    ),
                    log_exceptions=False,
                )
                claimed = [row[0] for row in cr.fetchall()]
                cr.execute(SQL("DELETE FROM crm_mail_interaction WHERE id = ANY(%s)", claimed))
        except (psycopg2.errors.UniqueViolation, psycopg2.errors.SerializationFailure) as error:
            raise LoggedConcurrently(str(error)) from None

    @api.model
    def _body_html(self, content):
        body = content.html or (plaintext2html(content.text) if content.text else "")
        if content.skipped:
            notes = Markup("").join(
                Markup("<li>%s</li>")
                % self.env._(
                    "%(name)s (%(size)s MB) was not stored: it is larger than the attachment size limit.",
                    name=skipped.filename or skipped.mimetype,
                    size=round(skipped.size / 1024 / 1024, 1),
                )
                for skipped in content.skipped
            )
            body = Markup("%s<ul class='text-muted'>%s</ul>") % (Markup(body), notes)
        return body

    def _store_attachments(self, contents):
        """The attachments of each interaction's ``content`` (same order),
        stored in groups of at most :data:`ATTACHMENT_GROUP_SIZE` files or
        :data:`ATTACHMENT_GROUP_BYTES` bytes, each group written and dropped
        from the ORM's cache before the next: a message with a thousand
        attachments costs a group's worth of memory in Odoo, not a thousand
        files' (issue 10). The bytes are handed over as they are (``raw``),
        not base64-encoded and decoded again.

        Their MIME type is guessed from their content (Odoo's
        ``guess_mimetype``), never taken from the sender; HTML, SVG and other
        XML are stored as ``text/plain`` (``attachments_mime_plainxml``), so
        the browser never renders them inline from Odoo's origin.

        Returns ``{interaction id: [attachment id]}`` (every interaction of
        ``self``), so that their chatter entries need not search them again."""
        Attachment = self.env["ir.attachment"].sudo().with_context(attachments_mime_plainxml=True)
        group, group_bytes = [], 0
        stored = {interaction.id: [] for interaction in self}

        def store():
            created = Attachment.create(group)
            for values, attachment_id in zip(group, created.ids, strict=True):
                stored[values["res_id"]].append(attachment_id)
            created.flush_recordset()
            created.invalidate_recordset()
            group.clear()

        for interaction, content in zip(self, contents, strict=True):
            for attachment in content.attachments:
                group.append(
                    {
                        "name": attachment.filename or self.env._("attachment"),
                        "mimetype": guess_mimetype(attachment.content, default="application/octet-stream"),
                        "raw": attachment.content,
                        "res_model": self._name,
                        "res_id": interaction.id,
                    }
                )
                group_bytes += len(attachment.content)
                if len(group) >= ATTACHMENT_GROUP_SIZE or group_bytes >= ATTACHMENT_GROUP_BYTES:
                    store()
                    group_bytes = 0
        if group:
            store()
        self.invalidate_recordset(["attachment_ids"])
        return stored

    def _post_in_chatters(self, records=None, attachments=None):
        """An email-style entry in the chatter of each contact and opportunity
        of each interaction (or only of ``records``: ``[(model, id)]``, for a
        single interaction). One create for all. ``attachments``:
        ``{interaction id: [attachment id]}`` when the caller has just stored
        them (else they are read).

        A record whose chatter already holds the email's Message-ID (Odoo
        sent it from there, or received it through an alias) gets no entry:
        one Message-ID is one entry per record.

        The pass that takes remote content out of the entries' body also
        records whether there was any (``has_remote_content``)."""
        note = self.env.ref("mail.mt_note").id
        authors = self._authors()
        held = self._held_by_odoo()
        if attachments:
            # What mail.message's create reads of them, in one query for all.
            self.env["ir.attachment"].browse([aid for ids in attachments.values() for aid in ids]).fetch(
                ["res_model", "res_id"]
            )
        vals_list, remote = [], self.browse()
        for interaction in self:
            body, blocked = interaction._chatter_body()
            if blocked and not interaction.has_remote_content:
                remote |= interaction
            attachment_ids = attachments[interaction.id] if attachments is not None else interaction.attachment_ids.ids
            targets = records
            if targets is None:
                targets = [("res.partner", pid) for pid in interaction.partner_ids.ids]
                targets += [("crm.lead", lid) for lid in interaction.lead_ids.ids]
            targets = [target for target in targets if (interaction.message_id, *target) not in held]
            values = {
                "message_type": "email",
                "subtype_id": note,
                "is_internal": True,
                "author_id": authors.get(interaction.id, False),
                "email_from": interaction.sender,
                "reply_to": interaction.sender,  # as sent; and spares mail's reply-to computation
                "subject": interaction.subject,
                "body": body,
                "date": interaction.date,
                "attachment_ids": [fields.Command.set(attachment_ids)],
                "crm_mail_interaction_id": interaction.id,
            }
            vals_list += [{**values, "model": model, "res_id": res_id} for model, res_id in targets]
        if remote:
            remote.write({"has_remote_content": True})
        if vals_list:
            self.env["mail.message"].sudo().create(vals_list)

    def _held_by_odoo(self):
        """``{(Message-ID, model, res_id)}``: the records whose chatter holds one
        of these emails' Message-IDs as Odoo's own message (not a logged
        email's entry): sent from Odoo, or received through an alias."""
        message_ids = sorted(set(filter(None, self.mapped("message_id"))))
        if not message_ids:
            return set()
        self.env["mail.message"].flush_model(["message_id", "model", "res_id", "crm_mail_interaction_id"])
        rows = self.env.execute_query(
            SQL(
                """SELECT message_id, model, res_id FROM mail_message
                    WHERE message_id = ANY(%s) AND model IN ('res.partner', 'crm.lead') AND res_id IS NOT NULL
                      AND crm_mail_interaction_id IS NULL""",
                message_ids,
            )
        )
        return set(rows)

    def _authors(self):
        """``{interaction id: author partner id}``: the colleague who sent it for
        sent mail, the sender's contact (main or secondary address) for
        received mail, no one for a received email whose sender failed the
        check (its From may be forged: the entry shows the From as written,
        as no contact's)."""
        keys = {}
        authors = {}
        for interaction in self:
            senders = interaction.share_ids.filtered(lambda s: s.direction == matching.SENT and s.owner_id)
            if interaction.direction == matching.SENT and senders:
                authors[interaction.id] = senders.sorted("id")[0].owner_id.partner_id.id
            elif interaction.sender_check == authentication.FAIL:
                authors[interaction.id] = False
            elif senders := interaction._addresses("from"):
                keys[interaction.id] = senders[0][1]
        if keys:
            by_key = self._partners_by_key(keys.values())
            for interaction in self.filtered(lambda i: i.id in keys):
                linked = by_key.get(keys[interaction.id], set()) & set(interaction.partner_ids.ids)
                authors[interaction.id] = min(linked) if linked else False
        return authors

    def _partner_of(self, key):
        """The linked contact with this address (main or secondary), if any."""
        return self._linked_partners([key]).get(key, self.env["res.partner"])[:1]

    def _linked_partners(self, keys):
        """``{key: res.partner}``: the contacts linked to these emails whose
        main or secondary address is one of ``keys`` (through
        ``_partners_by_key``, one query)."""
        by_key = self._partners_by_key(keys)
        linked = self.partner_ids
        return {key: linked.filtered(lambda partner, ids=ids: partner.id in ids) for key, ids in by_key.items()}

    def _chatter_display(self, user):
        """What the chatter shows around each of these emails' entries, for
        ``user``, rendered in their language, date format and time zone:
        ``{interaction id: dict}`` with

        - ``header``: ``[[label, value]]`` (From, To, Cc; empty ones left out),
        - ``date``: the email's date, formatted,
        - ``shared_by``: the sharers' names, ``sharing``: its label,
        - ``labels``: the translated labels of the block and its buttons,
        - ``can_open_email``, ``can_create_opportunity``: what ``user`` may do,
        - ``lead``: ``{"id", "name"}`` of the opportunity already linked
          (then *Open Opportunity* replaces *Create Opportunity*) or ``False``,
        - ``has_remote_content``: whether *Show images* applies.

        Only for emails ``user`` may read (others are left out)."""
        user = user.sudo(False) if user else self.env.user
        env = self.with_user(user).with_context(lang=user.lang, tz=user.tz).env
        readable = self.with_env(env)._filtered_access("read")
        if not readable:
            return {}
        _ = env._
        sharing_labels = dict(self._fields["sharing"]._description_selection(env))
        may_sell = user.has_group("sales_team.group_sale_salesman")
        labels = {
            "shared_by": _("Shared by"),
            "create_opportunity": _("Create Opportunity"),
            "open_opportunity": _("Open Opportunity"),
            "open_email": _("Open Email"),
            "show_images": _("Show images"),
            "images_blocked": _("Remote images are not shown, to protect your privacy."),
        }
        # "Shared by": the sharers that let ``user`` see the email (a private
        # sharer is not named to others), the widest of their sharings.
        Share = self.env["crm.mail.interaction.share"].sudo()
        shares = Share.search(
            [("interaction_id", "in", readable.ids), *Share._visible_domain(user)], order="interaction_id, id"
        )
        sharers, widest = defaultdict(dict), {}
        company_name = self.env.company.name
        for share in shares:
            email_id = share.interaction_id.id
            sharers[email_id][share.owner_id.name or share.company_id.name or company_name] = True
            if SHARING_ORDER[share.sharing] >= SHARING_ORDER.get(widest.get(email_id), -1):
                widest[email_id] = share.sharing
        result = {}
        for interaction in readable.sudo():
            leads = interaction.lead_ids.filtered(lambda lead: lead.active and lead.type == "opportunity")
            lead = leads.with_env(env)._filtered_access("read")[:1]
            lines = [(_("From:"), interaction.sender), (_("To:"), interaction.recipients), (_("Cc:"), interaction.cc)]
            result[interaction.id] = {
                "interaction_id": interaction.id,
                "header": [[label, value] for label, value in lines if value],
                "date": format_datetime(env, interaction.date, tz=user.tz or False) if interaction.date else "",
                "shared_by": ", ".join(sharers.get(interaction.id, {})),
                "sharing": sharing_labels.get(widest.get(interaction.id), ""),
                "labels": labels,
                "can_open_email": True,
                "can_create_opportunity": bool(may_sell and not lead),
                "lead": {"id": lead.id, "name": lead.display_name} if lead else False,
                "has_remote_content": interaction.has_remote_content,
            }
        return result

    def crm_mail_body_with_images(self):
        """The body of this email with its remote content, for *Show images*
        on one chatter entry (HTML as a str). Raises ``AccessError`` when the
        current user may not read the email."""
        self.ensure_one()
        self.check_access("read")
        return str(self.body or "")

    def action_show_images(self):
        """The email's form again, its remote images shown."""
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "res_model": self._name,
            "res_id": self.id,
            "views": [[False, "form"]],
            "target": "current",
            "context": {**self.env.context, "crm_mail_show_images": True},
        }

    def _update_chatters(self):
        """After links change (e.g. a new opportunity): an entry in every chatter."""
        for interaction in self:
            posted = {(message.model, message.res_id) for message in interaction.sudo().mail_message_ids}
            wanted = [("res.partner", pid) for pid in interaction.partner_ids.ids]
            wanted += [("crm.lead", lid) for lid in interaction.lead_ids.ids]
            missing = [record for record in wanted if record not in posted]
            if missing:
                interaction._post_in_chatters(missing)

    # -- conversation --------------------------------------------------
    def _customer_name_and_email(self):
        """Who the customer is in this email: the sender of a received email,
        the first contact (else first recipient) of a sent one."""
        self.ensure_one()
        if self.direction == matching.RECEIVED:
            candidates = self._addresses("from")
        else:
            candidates = self._addresses("to", "cc")
            linked = self._linked_partners([key for _name, key in candidates])
            candidates = [c for c in candidates if linked.get(c[1])] or candidates
        return candidates[0] if candidates else ("", "")

    def _thread(self):
        """The logged emails of the same conversations (by Message-ID,
        In-Reply-To and References), as the current user may see them."""
        ids = set()
        for interaction in self:
            ids.update(filter(None, [interaction.message_id, *(interaction.thread_refs or "").split()]))
        if not ids:
            return self.browse()
        domain = [("message_id", "in", sorted(ids))]
        for message_id in sorted(ids):
            # Escaped: a Message-ID comes from a stranger, and "<%>" must only
            # find "<%>", not every conversation.
            domain = ["|", ("thread_refs", "=ilike", f"%{escape_psql(message_id)}%"), *domain]
        return self.search(domain) - self

    def _thread_leads(self):
        """Open opportunities this conversation is already logged on."""
        leads = (self | self._thread()).lead_ids
        return leads.filtered(lambda lead: lead.active and lead.type == "opportunity")

    def action_create_opportunity(self):
        action = self.env["ir.actions.act_window"]._for_xml_id("crm_mail_sync.crm_mail_create_opportunity_action")
        action["context"] = {"active_model": self._name, "active_ids": self.ids}
        return action

    # -- UI --------------------------------------------------------------
    @api.model
    def _action_open(self, domain, record):
        action = self.env["ir.actions.act_window"]._for_xml_id("crm_mail_sync.crm_mail_interaction_action")
        action["domain"] = domain
        action["context"] = {"create": False}
        action["display_name"] = self.env._("Emails of %(record)s", record=record.display_name)
        return action


def _format_addresses(pairs):
    return ", ".join(f"{name} <{key}>" if name else key for name, key in pairs) or False
