import re

from odoo import api, fields, models

# What PostgreSQL or a screen cannot take: NUL and the other control characters.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def _clean(value, limit=1000):
    """Text safe to store whatever the message held: no control characters,
    at most ``limit`` characters. Recording a skipped message must not fail
    for the very reason the message was skipped."""
    return _CONTROL.sub("", str(value or ""))[:limit] or False


class CrmMailSkippedMessage(models.Model):
    """An email of a synced mailbox that could not be logged: a message no
    parser or database accepts as it is, recorded so that it costs that
    message only, never the mailbox, and never silently.

    The sync moves past it (its folder state advances), so the mail after it
    is logged; the mailbox shows how many were skipped, with this list, and
    *Retry* reads each one again from the server (by folder, UIDVALIDITY and
    UID, RFC 3501 2.3.1.1) and logs it if it can now be logged.
    """

    _name = "crm.mail.skipped.message"
    _description = "Email Not Logged"
    _order = "create_date desc, id desc"
    _rec_name = "subject"

    account_id = fields.Many2one(
        "crm.mail.account", "Mailbox", required=True, index=True, readonly=True, ondelete="cascade"
    )
    user_id = fields.Many2one(related="account_id.user_id", string="Owner")
    company_id = fields.Many2one(related="account_id.company_id")
    folder = fields.Char(required=True, readonly=True)
    # IMAP UIDs and UIDVALIDITY are unsigned 32-bit numbers (RFC 3501 2.3.1.1):
    # more than a PostgreSQL integer holds, so they are kept as text.
    uidvalidity = fields.Char("UIDVALIDITY", required=True, readonly=True)
    uid = fields.Char("UID", required=True, readonly=True)
    message_id = fields.Char("Message-ID", readonly=True)
    subject = fields.Char(readonly=True)
    sender = fields.Char("From", readonly=True)
    size = fields.Integer("Size (bytes)", readonly=True)
    reason = fields.Text(readonly=True, help="Why this email could not be logged.")
    attempts = fields.Integer(default=1, readonly=True)

    _message_unique = models.Constraint(
        "UNIQUE(account_id, folder, uidvalidity, uid)", "This email is already listed as not logged."
    )

    @api.model
    def _record(self, account, folder, uidvalidity, uid, reason, headers=None, size=0):
        """Record (or count again) a message of ``account`` that could not be
        logged. ``headers`` is a ``mailsync.message.Headers`` when they could
        be read. Runs as superuser: the sync does."""
        values = {
            "reason": _clean(reason, 2000),
            "size": min(int(size or 0), 2**31 - 1),
        }
        if headers is not None:
            values.update(
                {
                    "message_id": _clean(headers.message_id),
                    "subject": _clean(headers.subject),
                    "sender": _clean(", ".join(key for _name, key in headers.sender)),
                }
            )
        folder = _clean(folder) or ""
        existing = self.sudo().search(
            [
                ("account_id", "=", account.id),
                ("folder", "=", folder),
                ("uidvalidity", "=", str(uidvalidity)),
                ("uid", "=", str(uid)),
            ],
            limit=1,
        )
        if existing:
            existing.write({**values, "attempts": existing.attempts + 1})
            return existing
        return self.sudo().create(
            {
                **values,
                "account_id": account.id,
                "folder": folder,
                "uidvalidity": str(uidvalidity),
                "uid": str(uid),
            }
        )

    def action_retry(self):
        """Read these emails again from their mailboxes and log those that
        can now be logged; say how many were."""
        self.check_access("read")
        self.account_id.check_access("write")  # acting on a mailbox is its owner's (or an administrator's)
        logged = failed = 0
        for account, skipped in self.sudo().grouped("account_id").items():
            done, still = account._retry_skipped(skipped)
            logged += done
            failed += still
        if failed:
            message = self.env._(
                "%(logged)s email(s) logged; %(failed)s still cannot be logged (see the reason).",
                logged=logged,
                failed=failed,
            )
        else:
            message = self.env._("%(logged)s email(s) logged.", logged=logged)
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "message": message,
                "type": "warning" if failed else "success",
                "next": {"type": "ir.actions.client", "tag": "soft_reload"},
            },
        }
