from collections import defaultdict
from functools import partial

from markupsafe import Markup

from odoo import api, fields, models
from odoo.fields import Domain
from odoo.tools import SQL, escape_psql, format_datetime, plaintext2html
from odoo.tools.mimetypes import guess_mimetype

from ..mailsync import authentication, matching
from ..mailsync.addresses import normalize, parse_header_addresses
from ..tools.remote_content import block_remote_content
from .crm_mail_provider import SHARING_READER_SELECTION

DIRECTIONS = [(matching.RECEIVED, "Received"), (matching.SENT, "Sent")]
#: Attachments of logged emails are created this many (or this many bytes) at a time.
ATTACHMENT_GROUP_SIZE = 100
ATTACHMENT_GROUP_BYTES = 8 * 1024 * 1024
SENDER_CHECKS = [
    (authentication.PASS, "Verified"),
    (authentication.FAIL, "Unverified sender"),
    (authentication.NONE, "Not checked"),
]


class CrmMailInteraction(models.Model):
    """One email from a connected mailbox, logged for one owner: the message a
    contact's or an opportunity's page shows in its chatter and Emails list.

    The same message synced from two colleagues' mailboxes gives one entry
    per owner (``UNIQUE(owner_key, message_key)``), each shared as its
    mailbox is. Logging the same message twice for an owner does nothing:
    that is what makes a re-run after a crash harmless.
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
    owner_id = fields.Many2one("res.users", "Shared By", index=True, readonly=True, ondelete="cascade")
    owner_key = fields.Integer(compute="_compute_owner_key", store=True, readonly=True)
    account_id = fields.Many2one("crm.mail.account", "Mailbox", index=True, readonly=True, ondelete="set null")
    company_id = fields.Many2one("res.company", readonly=True)
    sharing = fields.Selection(
        SHARING_READER_SELECTION,
        required=True,
        default="private",
        readonly=True,
    )
    direction = fields.Selection(DIRECTIONS, required=True, readonly=True)
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
    body = fields.Html(readonly=True)
    body_display = fields.Html(
        "Content",
        compute="_compute_body_display",
        sanitize=False,
        help="The body with remote images and style sheets removed, unless “Show images” was clicked.",
    )
    has_remote_content = fields.Boolean(
        "Remote Content", compute="_compute_has_remote_content", store=True, readonly=True
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

    _owner_message_unique = models.Constraint(
        "UNIQUE(owner_key, message_key)", "This email is already logged for this user."
    )

    @api.model
    def _sharing_domain(self, user, company_ids=None):
        """Which logged emails ``user`` may see, as a domain on this model: the
        one definition of sharing, used by the record rules of this model and
        of ``mail.message`` (security/crm_mail_interaction_security.xml, through
        ``crm_mail_sharing_domain`` of ``ir.rule``'s evaluation context).

        - private: the owner only;
        - team: the owner and the users of an *active* membership of a sales
          team in which the owner too has an *active* membership (an archived
          membership, or an archived team, gives nothing);
        - everyone: every internal user (never a portal user).

        With ``company_ids`` (list of ids), the email must also belong to one of
        these companies (or to none): record rules' subqueries run as
        superuser, so a rule on another model must say it itself.
        """
        active_team = [("active", "=", True), ("crm_team_id.active", "=", True)]
        teammates = [
            *active_team,
            ("crm_team_id.crm_team_member_ids", "any", [("active", "=", True), ("user_id", "=", user.id)]),
        ]
        domain = [
            "|",
            "|",
            ("owner_id", "=", user.id),
            ("sharing", "=", "everyone" if not user.share else "nobody"),
            "&",
            ("sharing", "=", "team"),
            ("owner_id.crm_team_member_ids", "any", teammates),
        ]
        if company_ids is not None:
            domain = ["&", "|", ("company_id", "=", False), ("company_id", "in", list(company_ids)), *domain]
        return domain

    @api.model
    def _message_visible_domain(self, user, company_ids):
        """Which ``mail.message`` rows ``user`` may see as far as logged email
        goes, as a domain on ``mail.message`` (its global record rule):
        every message that carries no logged email, and those whose email
        ``_sharing_domain(user, company_ids)`` lets them see.

        Written as plain SQL on columns of ``mail_message`` (the email's owner,
        sharing and company, stored related fields) behind
        ``crm_mail_interaction_id IS NULL OR``, with the reader's teammates
        computed once per query: no join, no per-row subquery, and a query as
        cheap to plan as without the addon, so ordinary
        chatter, Discuss and ``mail.message`` searches cost what they cost
        without it (bench/chatter.py measures it). ``('crm_mail_interaction_id',
        'any', _sharing_domain)`` cost every read of any message about twice:
        PostgreSQL planned the ORM's nested subqueries each time (issue 13).
        """
        sharing = self._sharing_domain(user, company_ids)
        companies = sorted(company_ids or [])
        everyone = "everyone" if not user.share else "nobody"

        def to_sql(model, alias, query):
            # The SQL of _sharing_domain, written by hand: ORM-built subqueries
            # (joins, nested "any") cost more to plan than the read they guard.
            # test_security_boundary and test_interaction_log check both agree.
            # The ORM cannot tell which columns this SQL reads: flush them
            # (a sharing changed on the email is recomputed onto its messages).
            model.flush_model(
                ["crm_mail_interaction_id", "crm_mail_owner_id", "crm_mail_sharing", "crm_mail_company_id"]
            )
            self.env["crm.team.member"].flush_model(["user_id", "crm_team_id", "active"])
            self.env["crm.team"].flush_model(["active"])
            message_email = SQL.identifier(alias, "crm_mail_interaction_id")
            column = partial(SQL.identifier, alias)
            return SQL(
                """(%(email)s IS NULL OR (
                    (%(company)s IS NULL OR %(company)s = ANY(%(companies)s))
                    AND (%(owner)s = %(uid)s OR %(sharing)s = %(everyone)s
                         OR (%(sharing)s = 'team' AND %(owner)s = ANY(ARRAY(
                             SELECT owner.user_id
                               FROM crm_team_member owner
                               JOIN crm_team team ON team.id = owner.crm_team_id AND team.active
                               JOIN crm_team_member me ON me.crm_team_id = team.id AND me.active
                                                      AND me.user_id = %(uid)s
                              WHERE owner.active))))))""",
                email=message_email,
                company=column("crm_mail_company_id"),
                owner=column("crm_mail_owner_id"),
                sharing=column("crm_mail_sharing"),
                companies=companies,
                uid=user.id,
                everyone=everyone,
            )

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
    def _compute_has_remote_content(self):
        for interaction in self:
            interaction.has_remote_content = block_remote_content(interaction.body)[1]

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
        """The body of this email's chatter entries: its body without remote
        content (the From/To/date block is rendered when read, see
        ``_chatter_display``)."""
        self.ensure_one()
        body = block_remote_content(self.body)[0]
        if self.sender_check == authentication.FAIL:
            warning = Markup(
                '<p class="o_crm_mail_sync_unverified alert alert-danger small mb-1" role="alert">%s</p>'
            ) % self.env._(
                "Unverified sender: the receiving mail server could not confirm that this email comes from "
                "%(sender)s. Its From may be forged: check with the sender by other means before acting on it.",
                sender=self.sender or "",
            )
            body = warning + Markup(body or "")
        return body

    @api.depends("owner_id")
    def _compute_owner_key(self):
        for interaction in self:
            interaction.owner_key = interaction.owner_id.id or 0

    def unlink(self):
        # Attachments belong to the logged email: they go with it.
        self.check_access("unlink")
        Attachment = self.env["ir.attachment"].sudo()
        Attachment.search([("res_model", "=", self._name), ("res_id", "in", self.ids)]).unlink()
        return super().unlink()

    # -- matching --------------------------------------------------------
    @api.model
    def _match(self, account, headers_list):
        """For each message (``mailsync.message.Headers``), the contacts and open
        leads it concerns: ``[(headers, partner ids, lead ids)]``, only for the
        messages that concern at least one. A few indexed queries per batch,
        whatever its size."""
        scope = account._matching_scope()
        keys = [matching.external_keys(headers, scope) for headers in headers_list]
        all_keys = sorted(set().union(*keys))
        thread_ids = sorted({ref for headers in headers_list for ref in headers.thread_ids()})
        if not all_keys and not thread_ids:
            return []
        for model in ("res.partner", "crm.mail.partner.email", "crm.lead", "crm.mail.interaction"):
            self.env[model].flush_model()
        company = account.company_id.id

        partners_by_key = defaultdict(set)
        if all_keys:
            rows = self.env.execute_query(
                SQL(
                    """SELECT mail_match_key, id FROM res_partner
                        WHERE mail_match_key = ANY(%(keys)s) AND active
                          AND (company_id IS NULL OR company_id = %(company)s)
                       UNION
                       SELECT e.email_key, p.id FROM crm_mail_partner_email e
                         JOIN res_partner p ON p.id = e.partner_id
                        WHERE e.email_key = ANY(%(keys)s) AND p.active
                          AND (p.company_id IS NULL OR p.company_id = %(company)s)""",
                    keys=all_keys,
                    company=company,
                )
            )
            for key, partner_id in rows:
                partners_by_key[key].add(partner_id)

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

        leads_by_thread = defaultdict(set)
        if thread_ids:
            rows = self.env.execute_query(
                SQL(
                    """SELECT i.message_id, r.lead_id FROM crm_mail_interaction i
                         JOIN crm_mail_interaction_crm_lead_rel r ON r.interaction_id = i.id
                         JOIN crm_lead l ON l.id = r.lead_id AND l.active
                        WHERE i.message_id = ANY(%s)""",
                    thread_ids,
                )
            )
            for message_id, lead_id in rows:
                leads_by_thread[message_id].add(lead_id)

        matches = []
        for headers, message_keys in zip(headers_list, keys, strict=True):
            partners = {pid for key in message_keys for pid in partners_by_key.get(key, ())}
            leads = {lid for key in message_keys for lid in leads_by_key.get(key, ())}
            leads |= {lid for pid in partners for lid in leads_by_partner.get(pid, ())}
            leads |= {lid for ref in headers.thread_ids() for lid in leads_by_thread.get(ref, ())}
            if partners or leads:
                matches.append((headers, sorted(partners), sorted(leads)))
        return matches

    # -- logging ---------------------------------------------------------
    @api.model
    def _log(self, account, items, role=None, owner=None):
        """Log ``[(content, partner ids, lead ids)]`` (``content`` a
        ``mailsync.message.Content``) for the mailbox's owner (or ``owner``, a
        ``res.users`` record, possibly empty for a company-wide entry: the
        company logging mailbox decides it per message); messages already
        logged for that owner are skipped. ``role``: the folder's
        (``"inbox"``, ``"sent"``, or None), which decides the direction. A
        received message gets the receiving server's verdict on its sender
        (``mailsync.authentication``). Returns the new interactions."""
        self = self.sudo()
        owner = account.user_id if owner is None else owner
        scope = account._matching_scope()
        trusted = account._trusted_authserv_ids()
        keys = [content.headers.identity for content, _partners, _leads in items]
        done = set(
            self.with_context(active_test=False)
            .search([("owner_key", "=", owner.id or 0), ("message_key", "in", keys)])
            .mapped("message_key")
        )
        vals_list, contents = [], []
        for content, partner_ids, lead_ids in items:
            headers = content.headers
            if headers.identity in done:
                continue
            done.add(headers.identity)
            contents.append(content)
            direction = matching.direction(headers, scope, role)
            check = authentication.NONE
            if direction == matching.RECEIVED:
                check = authentication.verdict(headers.authentication_results, trusted)
            vals_list.append(
                {
                    "subject": headers.subject,
                    "message_key": headers.identity,
                    "message_id": headers.message_id or False,
                    "thread_refs": " ".join(headers.thread_ids()) or False,
                    "owner_id": owner.id,
                    "account_id": account.id,
                    "company_id": account.company_id.id,
                    "sharing": account.sharing,
                    "direction": direction,
                    "sender_check": check,
                    "date": headers.date.replace(tzinfo=None) if headers.date else fields.Datetime.now(),
                    "sender": _format_addresses(headers.sender),
                    "recipients": _format_addresses(headers.to),
                    "cc": _format_addresses(headers.cc),
                    "body": self._body_html(content),
                    "partner_ids": [fields.Command.set(partner_ids)],
                    "lead_ids": [fields.Command.set(lead_ids)],
                }
            )
        # One create per kind of record for the whole batch.
        created = self.create(vals_list)
        created._store_attachments(contents)
        created._post_in_chatters()
        return created

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
        the browser never renders them inline from Odoo's origin."""
        Attachment = self.env["ir.attachment"].sudo().with_context(attachments_mime_plainxml=True)
        group, group_bytes = [], 0

        def store():
            created = Attachment.create(group)
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

    def _post_in_chatters(self, records=None):
        """An email-style entry in the chatter of each contact and opportunity
        of each interaction (or only of ``records``: ``[(model, id)]``, for a
        single interaction). One create for all."""
        note = self.env.ref("mail.mt_note").id
        authors = self._authors()
        vals_list = []
        for interaction in self:
            targets = records
            if targets is None:
                targets = [("res.partner", pid) for pid in interaction.partner_ids.ids]
                targets += [("crm.lead", lid) for lid in interaction.lead_ids.ids]
            values = {
                "message_type": "email",
                "subtype_id": note,
                "is_internal": True,
                "author_id": authors.get(interaction.id, False),
                "email_from": interaction.sender,
                "reply_to": interaction.sender,  # as sent; and spares mail's reply-to computation
                "subject": interaction.subject,
                "body": interaction._chatter_body(),
                "date": interaction.date,
                "attachment_ids": [fields.Command.set(interaction.attachment_ids.ids)],
                "crm_mail_interaction_id": interaction.id,
            }
            vals_list += [{**values, "model": model, "res_id": res_id} for model, res_id in targets]
        if vals_list:
            self.env["mail.message"].sudo().create(vals_list)

    def _authors(self):
        """``{interaction id: author partner id}``: the owner for sent mail, the
        sender's contact (main or secondary address) for received mail, no
        one for a received email whose sender failed the check (its From may
        be forged: the entry shows the From as written, as no contact's)."""
        keys = {}
        authors = {}
        for interaction in self:
            if interaction.direction == matching.SENT and interaction.owner_id:
                authors[interaction.id] = interaction.owner_id.partner_id.id
            elif interaction.sender_check == authentication.FAIL:
                authors[interaction.id] = False
            elif interaction.sender:
                keys[interaction.id] = normalize(interaction.sender.rsplit("<", 1)[-1].rstrip(">"))
        if keys:
            wanted = sorted(set(filter(None, keys.values())))
            by_key = {}
            for address in self.env["crm.mail.partner.email"].sudo().search([("email_key", "in", wanted)]):
                by_key.setdefault(address.email_key, set()).add(address.partner_id.id)
            for partner in self.env["res.partner"].sudo().search([("mail_match_key", "in", wanted)]):
                by_key.setdefault(partner.mail_match_key, set()).add(partner.id)
            for interaction in self.filtered(lambda i: i.id in keys):
                linked = by_key.get(keys[interaction.id], set()) & set(interaction.partner_ids.ids)
                authors[interaction.id] = min(linked) if linked else False
        return authors

    def _partner_of(self, key):
        """The linked contact with this address (main or secondary), if any."""
        return self.partner_ids.filtered(
            lambda partner: key and key in (partner.mail_match_key, *partner.secondary_email_ids.mapped("email_key"))
        )[:1]

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
        result = {}
        for interaction in readable.sudo():
            leads = interaction.lead_ids.filtered(lambda lead: lead.active and lead.type == "opportunity")
            lead = leads.with_env(env)._filtered_access("read")[:1]
            lines = [(_("From:"), interaction.sender), (_("To:"), interaction.recipients), (_("Cc:"), interaction.cc)]
            result[interaction.id] = {
                "interaction_id": interaction.id,
                "header": [[label, value] for label, value in lines if value],
                "date": format_datetime(env, interaction.date, tz=user.tz or False) if interaction.date else "",
                "shared_by": interaction.owner_id.name or "",
                "sharing": sharing_labels.get(interaction.sharing, ""),
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
            candidates = parse_header_addresses(self.sender or "")
        else:
            candidates = parse_header_addresses(self.recipients or "", self.cc or "")
            candidates = [c for c in candidates if self._partner_of(c[1])] or candidates
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
