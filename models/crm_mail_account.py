from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import email_normalize

from ..mailsync import errors as engine_errors
from ..mailsync import imap
from .crm_mail_provider import SECURITY_SELECTION
from .mail_error_messages import describe


class CrmMailAccount(models.Model):
    """One connected mailbox: a salesperson's own (``user_id``) or, set up by an
    administrator, a company-wide one (no owner).

    Why a model beside ``fetchmail.server`` rather than an extension of it:
    fetchmail is the company's inbound gateway: it reads UNSEEN mail of one
    mailbox, routes each message into Odoo documents through ``message_process``
    and marks it read. A synced mailbox is the opposite: it belongs to a user,
    it is read without ever changing it (no \\Seen, no move), its sent mail
    counts as much as its received mail, and what it yields is logged as
    interaction entries under the owner's sharing choice. Extending fetchmail
    would mean overriding nearly all of its behaviour and risking the stock
    gateway, which therefore keeps working untouched beside this model.
    """

    _name = "crm.mail.account"
    _description = "Connected Mailbox"
    _inherit = ["crm.mail.secret.mixin"]
    _order = "user_id, email"
    _rec_name = "email"

    email = fields.Char("Email Address", required=True)
    user_id = fields.Many2one(
        "res.users",
        "Owner",
        default=lambda self: self.env.user,
        index=True,
        ondelete="cascade",
        help="The salesperson whose mailbox this is. Empty for a company-wide mailbox, "
        "which only administrators set up.",
    )
    company_id = fields.Many2one("res.company", default=lambda self: self.env.company, required=True)
    active = fields.Boolean(default=True)
    provider_id = fields.Many2one("crm.mail.provider", "Provider")
    auth_method = fields.Selection(
        [
            ("password", "Password"),
            ("app_password", "App password"),
            ("oauth_microsoft", "Microsoft OAuth 2.0"),
            ("oauth_google", "Google OAuth 2.0"),
        ],
        "Sign-in Method",
        default="password",
        required=True,
    )
    imap_host = fields.Char("Incoming Server", required=True)
    imap_port = fields.Integer("Incoming Port", default=993, required=True)
    imap_security = fields.Selection(SECURITY_SELECTION, "Incoming Encryption", default="ssl", required=True)
    imap_login = fields.Char("Incoming User Name", required=True)
    imap_password = fields.Char(
        "Incoming Password",
        compute="_compute_imap_password",
        inverse="_inverse_imap_password",
        copy=False,
        help="Stored encrypted; never shown again once saved.",
    )
    imap_password_secret = fields.Char(copy=False, groups="base.group_system")
    imap_password_set = fields.Boolean("Password Saved", compute="_compute_imap_password")
    sharing = fields.Selection(
        [
            ("private", "Private: only me"),
            ("team", "My sales team"),
            ("everyone", "Everyone in the company"),
        ],
        "Shared With",
        default="private",
        required=True,
        help="Who may see the email logged from this mailbox.",
    )
    state = fields.Selection(
        [
            ("draft", "Not connected"),
            ("connected", "Connected"),
            ("error", "Connection error"),
        ],
        default="draft",
        required=True,
        readonly=True,
        copy=False,
    )
    last_error = fields.Text(readonly=True, copy=False)

    _email_owner_unique = models.Constraint(
        "UNIQUE(email, user_id)", "This mailbox is already connected for this user."
    )

    @api.depends("imap_password_secret")
    @api.depends_context("uid")
    def _compute_imap_password(self):
        for account in self:
            account.imap_password = False
            account.imap_password_set = bool(account.sudo().imap_password_secret)

    def _inverse_imap_password(self):
        for account in self:
            if account.imap_password:
                account._set_secret("imap_password", account.imap_password)

    @api.constrains("email")
    def _check_email(self):
        for account in self:
            if not email_normalize(account.email):
                raise UserError(self.env._("“%(email)s” is not a valid email address.", email=account.email))

    def _imap_settings(self):
        self.ensure_one()
        return imap.ImapSettings(
            host=self.imap_host.strip(),
            port=self.imap_port,
            security=self.imap_security,
            username=self.imap_login,
            password=self._get_secret("imap_password"),
        )

    def action_test_connection(self):
        """Connect, sign in and list the folders; record and show the outcome."""
        self.ensure_one()
        try:
            with imap.connect(self._imap_settings()) as session:
                folders = session.folders()
        except engine_errors.MailConnectionError as error:
            message = describe(self.env, error)
            self.sudo().write({"state": "error", "last_error": message})
            return self._notify(message, "danger")
        roles = {folder.special_use for folder in folders}
        self.sudo().write({"state": "connected", "last_error": False})
        message = self.env._(
            "Connected to %(server)s: %(count)s folders found.",
            server=self.imap_host,
            count=len(folders),
        )
        if "\\Sent" not in roles:
            message += " " + self.env._("No folder is marked as Sent; sent mail is looked for by folder name.")
        return self._notify(message, "success")

    def _notify(self, message, kind):
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {"message": message, "type": kind, "sticky": kind == "danger"},
        }
