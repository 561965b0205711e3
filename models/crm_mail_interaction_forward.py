"""One logged email, whether it came from a mailbox or an inline forward.

An original forwarded inline to the company logging address has no
Message-ID (the forward does not show it): its identity is ``inline:`` and
its forward key (:func:`mailsync.forwarded.forward_key`: sender, date to the
minute, subject). Every logged email stores that key (``forward_key``), so:

- an inline original whose key an entry of the same owner already has is
  that entry (the original was logged from the forwarder's mailbox, or
  forwarded before): nothing is logged again;
- a message from a mailbox whose key an *inline* entry of the same owner
  has is that entry: the entry takes the message's real identity
  (Message-ID, thread references, exact date), nothing is logged again.

Two entries with one key and two real Message-IDs are two messages: both
stay. The limits of the key are in mailsync/forwarded.py.
"""

import datetime
from collections import defaultdict

from odoo import api, fields, models

from ..mailsync import forwarded


class CrmMailInteraction(models.Model):
    _inherit = "crm.mail.interaction"

    forward_key = fields.Char(
        compute="_compute_forward_key",
        store=True,
        readonly=True,
        index="btree_not_null",
        help="Hash of the sender, the date (to the minute) and the subject: what an inline forward shows of it.",
    )

    @api.depends("addresses", "subject", "date")
    def _compute_forward_key(self):
        # The sender as forwarded.headers_key takes it: the first From.
        for interaction in self:
            senders = interaction._addresses("from")
            interaction.forward_key = (
                forwarded.forward_key(
                    senders[0][1] if senders else None,
                    interaction.subject,
                    fields.Datetime.to_datetime(interaction.date).replace(tzinfo=datetime.UTC)
                    if interaction.date
                    else None,
                )
                or False
            )

    @api.model
    def _log(self, account, items, role=None, owner=None, scope=None):
        owner_record = account.user_id if owner is None else owner
        items = self._without_forwarded_twins(account.company_id, owner_record, items)
        return super()._log(account, items, role=role, owner=owner, scope=scope)

    @api.model
    def _without_forwarded_twins(self, company, owner, items):
        """``items`` (``[(content, partner ids, lead ids)]``) without the
        messages already logged for ``owner`` under the other identity (see
        the module's docstring); an inline entry found again from a mailbox
        takes the mailbox's identity."""
        keyed = [(item, forwarded.headers_key(item[0].headers)) for item in items]
        keys = sorted({key for _item, key in keyed if key})
        if not keys:
            return items
        self = self.sudo().with_context(active_test=False)
        found = self.search([("company_id", "=", company.id), ("owner_id", "=", owner.id), ("forward_key", "in", keys)])
        identities = defaultdict(set)
        for entry in found:
            identities[entry.forward_key].add(entry.message_key)
        kept = []
        for item, key in keyed:
            identity = item[0].headers.identity
            others = identities[key] - {identity} if key else set()
            if identity in identities[key] or not others:
                kept.append(item)  # new, or already logged under this identity (the log skips it)
            elif identity.startswith(forwarded.INLINE):
                continue  # the original is logged already: from a mailbox, or forwarded before
            elif self.search_count([("company_id", "=", company.id), ("message_key", "=", identity)]):
                kept.append(item)  # a colleague logged the real message: this mailbox joins it as a sharer
            elif entries := found.filtered(
                lambda entry, key=key: entry.forward_key == key and entry.message_key.startswith(forwarded.INLINE)
            ):
                entries[:1]._take_identity(item[0].headers)
                identities[key] = (identities[key] - set(entries[:1].mapped("message_key"))) | {identity}
                continue
            else:
                kept.append(item)  # another message with the same sender, minute and subject
            if key:
                identities[key].add(identity)
        return kept

    def _take_identity(self, headers):
        """An entry logged from an inline forward becomes the message read
        from a mailbox (``mailsync.message.Headers``): its Message-ID, thread
        and exact date, so that replies thread to it and the next sync
        recognises it."""
        self.ensure_one()
        values = {
            "message_key": headers.identity,
            "message_id": headers.message_id or False,
            "thread_refs": " ".join(headers.thread_ids()) or False,
        }
        if headers.date:
            values["date"] = headers.date.replace(tzinfo=None)
        self.write(values)
