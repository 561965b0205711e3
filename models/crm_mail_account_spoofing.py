from odoo import fields, models

from ..mailsync import authentication


class CrmMailAccountSpoofing(models.Model):
    """Whose ``Authentication-Results`` a mailbox trusts (issue 11, spoofing)."""

    _inherit = "crm.mail.account"

    # "sync_": an administrator's field (crm_mail_account.ADMIN_ONLY_PREFIXES).
    sync_authserv_ids = fields.Char(
        "Trusted Receiving Hosts",
        help="The authserv-ids (host names) whose Authentication-Results headers are trusted to say whether the "
        "sender of a received email was verified, comma-separated; “-” for Microsoft 365's header without one. "
        "Empty: derived from the incoming server (Gmail: mx.google.com; Microsoft 365 and Outlook.com: their "
        "header; otherwise any host of the incoming server's domain).",
    )

    def _trusted_authserv_ids(self):
        """The authserv-ids trusted for this mailbox: a tuple (see
        ``mailsync.authentication.trusted_authserv_ids``)."""
        self.ensure_one()
        return authentication.trusted_authserv_ids(self.imap_host, self.sync_authserv_ids)
