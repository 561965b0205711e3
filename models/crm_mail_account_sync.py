from odoo import models

from ..mailsync import message

DEFAULT_MAX_ATTACHMENT_MB = 25


class CrmMailAccount(models.Model):
    """Logging what a mailbox yields: headers first, bodies only of the messages
    that concern a CRM record."""

    _inherit = "crm.mail.account"

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
