from odoo import api, fields, models


class CrmMailFolder(models.Model):
    """A folder of a connected mailbox, as its server last listed it (IMAP
    LIST, RFC 3501 6.3.8): what the mailbox form offers when the sent folder
    must be chosen by hand (no ``\\Sent`` flag, RFC 6154, and no unique
    folder with a known sent name)."""

    _name = "crm.mail.folder"
    _description = "Mailbox Folder"
    _order = "is_sent_candidate desc, name"

    account_id = fields.Many2one("crm.mail.account", required=True, index=True, ondelete="cascade")
    name = fields.Char(required=True, readonly=True)
    is_sent_candidate = fields.Boolean("Looks Like a Sent Folder", readonly=True)

    _name_unique = models.Constraint("UNIQUE(account_id, name)", "This folder is already listed.")

    @api.model
    def _refresh(self, account, folders, candidates):
        """Make ``account``'s folders those of ``folders``
        (``[mailsync.imap.Folder]``), ``candidates`` marked; writes nothing
        when the listing did not change."""
        wanted = {folder.name: folder.name in {c.name for c in candidates} for folder in folders if folder.selectable}
        current = self.sudo().search([("account_id", "=", account.id)])
        if {folder.name: folder.is_sent_candidate for folder in current} == wanted:
            return
        current.filtered(lambda folder: folder.name not in wanted).unlink()
        known = {folder.name: folder for folder in current if folder.name in wanted}
        for name, candidate in wanted.items():
            if name in known:
                if known[name].is_sent_candidate != candidate:
                    known[name].is_sent_candidate = candidate
            else:
                self.sudo().create({"account_id": account.id, "name": name, "is_sent_candidate": candidate})
