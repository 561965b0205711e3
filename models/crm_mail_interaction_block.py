"""*Block sender* and *Block domain* on a logged email's chatter entry
(issue 17): for the owner of the mailbox the email came from, through the
blocklist of crm_mail_prospects.py (blocking removes what was logged from
that sender for that user)."""

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError

from ..mailsync import matching

KINDS = ("address", "domain")


class CrmMailInteractionBlock(models.Model):
    _inherit = "crm.mail.interaction"

    can_block_sender = fields.Boolean(
        compute="_compute_can_block_sender",
        help="Whether you may block this email's sender: it was received in one of your own mailboxes.",
    )

    @api.depends_context("uid")
    def _compute_can_block_sender(self):
        for interaction in self:
            interaction.can_block_sender = interaction._blockable_by(self.env.user)

    def _sender_address(self):
        """The sender's address of this email (``name@domain``, normalized),
        or ``""``."""
        senders = self._addresses("from")
        return senders[0][1] if senders else ""

    def _blockable_by(self, user):
        """Whether ``user`` may block this email's sender from its chatter
        entry: an email received in one of their own mailboxes (one of its
        sharers), with a sender address."""
        self.ensure_one()
        received = self.sudo().share_ids.filtered(
            lambda share: share.owner_id == user and share.direction == matching.RECEIVED
        )
        return bool(received and self._sender_address())

    def _chatter_display(self, user):
        """Adds ``block`` to each entry: ``False`` when ``user`` may not
        block its sender, else ``{"address", "domain", "confirm_address",
        "confirm_domain"}`` (``domain`` and its confirmation ``False`` for a
        public email provider's domain, which is never blocked whole), and the
        labels of the two buttons."""
        result = super()._chatter_display(user)
        if not result:
            return result
        user = user.sudo(False) if user else self.env.user
        _ = self.with_context(lang=user.lang).env._
        extra_labels = {
            "block_sender": _("Block Sender"),
            "block_domain": _("Block Domain"),
            "block_title": _("Block this sender?"),
        }
        public = None
        for interaction in self.sudo().browse(list(result)):
            entry = result[interaction.id]
            entry["labels"] = {**entry["labels"], **extra_labels}
            entry["block"] = False
            if not interaction._blockable_by(user):
                continue
            address = interaction._sender_address()
            domain = address.rsplit("@", 1)[1]
            if public is None:
                public = self.env["crm.mail.provider"].sudo()._public_domains()
            entry["block"] = {
                "address": address,
                "confirm_address": _(
                    "Mail from %(address)s will no longer be logged for you, and what was logged from them "
                    "for you will be removed from the CRM (not from your mailbox).",
                    address=address,
                ),
                "domain": domain if domain not in public else False,
                "confirm_domain": domain not in public
                and _(
                    "Mail from anyone at %(domain)s will no longer be logged for you, and what was logged from "
                    "them for you will be removed from the CRM (not from your mailbox).",
                    domain=domain,
                ),
            }
        return result

    def crm_mail_block_sender(self, kind="address"):
        """*Block Sender* (``kind="address"``) or *Block Domain*
        (``kind="domain"``) from this email's chatter entry, for the current
        user: the entry is added to their blocklist, which removes what was
        logged from it for them (``crm.mail.blocked.sender``).

        :returns: ``{"message_ids": [ids of the mail.message entries removed],
            "message": str}`` (the notification to show)
        :raises AccessError: the current user may not read this email, or
            does not own the mailbox it came from, or it was not received
        :raises UserError: ``kind`` is unknown, or a public provider's domain
        """
        self.ensure_one()
        if kind not in KINDS:
            raise UserError(self.env._("Unknown kind of block: %(kind)s.", kind=kind))
        self.check_access("read")
        user = self.env.user
        interaction = self.sudo()
        if not interaction._blockable_by(user):
            raise AccessError(
                self.env._("Only the owner of the mailbox this email was received in can block its sender from here.")
            )
        address = interaction._sender_address()
        domain = address.rsplit("@", 1)[1]
        if kind == "domain" and domain in self.env["crm.mail.provider"].sudo()._public_domains():
            raise UserError(
                self.env._("%(domain)s is a public email provider: block the sender's address instead.", domain=domain)
            )
        Blocked = self.env["crm.mail.blocked.sender"]
        doomed = Blocked._logged_from(user, Blocked._normalized(address, kind))
        messages = doomed.mail_message_ids
        count = len(doomed)
        Blocked._block(address, kind)
        return {
            # The entries gone with the emails' last sharer (an email a colleague
            # also shares stays, under their sharing).
            "message_ids": (messages - messages.exists()).ids,
            "message": self.env._(
                "%(blocked)s is blocked. Logged emails removed: %(count)s. Your blocked senders are in your "
                "preferences.",
                blocked=address if kind == "address" else domain,
                count=count,
            ),
        }

    def action_block_sender(self):
        """*Block Sender* on the email's form: as from its chatter entry
        (``crm_mail_block_sender``), then the current user's blocklist is
        opened.

        :raises AccessError: as ``crm_mail_block_sender``: only a sharer who
            received this email may block its sender
        """
        self.crm_mail_block_sender("address")
        return self.env["ir.actions.act_window"]._for_xml_id("crm_mail_sync.crm_mail_blocked_sender_action")
