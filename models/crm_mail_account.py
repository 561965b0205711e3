from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.models import MAGIC_COLUMNS
from odoo.tools import email_normalize

from ..mailsync import errors as engine_errors
from ..mailsync import imap, matching, oauth
from ..mailsync.addresses import DEFAULT_EXCLUSIONS, domain_of
from ..tools import mail_network_policy, messages
from ..tools.messages import describe
from .crm_mail_provider import AUTH_METHOD_SELECTION, SECURITY_SELECTION, SHARING_SELECTION

# Set by the addon itself (setup wizard, sync, sign-in) or by an administrator,
# never by a salesperson, whatever the client (form, JSON-RPC, import). Also
# every stored read-only field and every sync_* field but the ones below.
ADMIN_ONLY_FIELDS = frozenset({"user_id", "company_id", "smtp_server_id", "state", "last_error", "messages_logged"})
ADMIN_ONLY_PREFIXES = ("sync_", "last_", "next_", "oauth_")
USER_FIELDS = frozenset({"sync_window_days"})
# A change of any of these sends the password somewhere else: it is cleared.
CONNECTION_FIELDS = ("imap_host", "imap_port", "imap_security")
SYNC_WINDOW_DAYS = (1, 3650)
# Sign-in method -> whose OAuth sign-in it is (crm.mail.oauth.mixin).
OAUTH_PROVIDERS = {"oauth_microsoft": "microsoft", "oauth_google": "google"}


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
    _inherit = ["crm.mail.secret.mixin", "crm.mail.oauth.mixin"]
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
    provider_id = fields.Many2one("crm.mail.provider")
    auth_method = fields.Selection(
        AUTH_METHOD_SELECTION,
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
    imap_password_set = fields.Boolean("Password Saved", compute="_compute_imap_password_set")
    oauth_refresh_token_secret = fields.Char(copy=False, groups="base.group_system")
    oauth_access_token_secret = fields.Char(copy=False, groups="base.group_system")
    oauth_expires_at = fields.Float(copy=False, groups="base.group_system")
    oauth_connected = fields.Boolean("Signed In", compute="_compute_oauth_connected")
    sharing = fields.Selection(
        SHARING_SELECTION,
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
    smtp_server_id = fields.Many2one(
        "ir.mail_server",
        "Outgoing Server",
        readonly=True,
        copy=False,
        ondelete="set null",
        help="The outgoing mail server set up with this mailbox; the owner's mail is sent through it.",
    )

    _email_owner_unique = models.Constraint(
        "UNIQUE(email, user_id)", "This mailbox is already connected for this user."
    )

    def _compute_imap_password(self):
        self._secret_input_empty("imap_password")

    # Its own compute: writing the password must refresh it.
    @api.depends("imap_password_secret")
    def _compute_imap_password_set(self):
        self._secret_saved("imap_password")

    def _inverse_imap_password(self):
        self._secret_input_store("imap_password")

    @api.depends("oauth_refresh_token_secret")
    @api.depends_context("uid")
    def _compute_oauth_connected(self):
        for account in self:
            account.oauth_connected = bool(account.sudo().oauth_refresh_token_secret)

    # -- what a salesperson may set ---------------------------------------
    @api.model
    def _admin_only_fields(self):
        """Names of the fields only an administrator (or the addon itself, as
        superuser) sets: see ADMIN_ONLY_FIELDS."""
        return {
            name
            for name, field in self._fields.items()
            if name not in USER_FIELDS
            and name not in MAGIC_COLUMNS
            and (
                name in ADMIN_ONLY_FIELDS
                or name.startswith(ADMIN_ONLY_PREFIXES)
                or name.endswith("_secret")
                or (field.store and field.readonly and not field.compute)
            )
        }

    def _check_admin_only_fields(self, vals_list, creating):
        """Raise AccessError, naming the field, when a non-administrator sets an
        administrator's field to anything but what it already is (on create:
        its default, e.g. themselves as owner)."""
        if mail_network_policy.is_administrator(self.env):
            return
        names = self._admin_only_fields() & {name for vals in vals_list for name in vals}
        if not names:
            return
        defaults = self.default_get(sorted(names)) if creating else {}
        for vals in vals_list:
            for name in sorted(names & vals.keys()):
                field = self._fields[name]
                try:
                    wanted = field.convert_to_cache(vals[name], self)
                except (ValueError, TypeError):
                    wanted = vals[name]  # not even a valid value: refused below all the same
                if creating:
                    current = [field.convert_to_cache(defaults.get(name, False), self)]
                else:
                    current = [field.convert_to_cache(record[name], record) for record in self]
                if any(value != wanted for value in current):
                    raise AccessError(
                        self.env._(
                            "Only an administrator can set “%(field)s” (%(name)s) of a connected mailbox. "
                            "Use the “Connect a Mailbox” assistant to connect your own.",
                            field=field.string,
                            name=name,
                        )
                    )

    @api.model_create_multi
    def create(self, vals_list):
        self._check_admin_only_fields(vals_list, creating=True)
        return super().create(vals_list)

    @api.constrains("sync_window_days")
    def _check_sync_window_days(self):
        low, high = SYNC_WINDOW_DAYS
        for account in self:
            if not low <= account.sync_window_days <= high:
                raise ValidationError(
                    self.env._(
                        "The initial sync reads from %(low)s to %(high)s days back; %(days)s is out of range.",
                        low=low,
                        high=high,
                        days=account.sync_window_days,
                    )
                )

    @api.constrains("imap_host", "imap_port", "imap_security")
    def _check_imap_encryption(self):
        for account in self:
            mail_network_policy.check_encryption(
                self.env, "IMAP", account.imap_host, account.imap_port, account.imap_security
            )

    def _own_outgoing_server(self):
        """The outgoing server created for this mailbox, or an empty recordset:
        the owner's personal server (``owner_user_id``, one per user); for a
        company-wide mailbox, the linked server only if it is no one's and
        sends exactly from the mailbox's address. Never another server whose id
        was written into ``smtp_server_id``."""
        self.ensure_one()
        account = self.sudo()
        server = account.smtp_server_id.with_context(active_test=False)
        Server = self.env["ir.mail_server"].sudo().with_context(active_test=False)
        if account.user_id:
            if server.owner_user_id != account.user_id:
                server = Server.search([("owner_user_id", "=", account.user_id.id)], limit=1)
            return server
        if server and not server.owner_user_id:
            addresses = {email_normalize(a) for a in server._parse_from_filter(server.from_filter) if "@" in a}
            if email_normalize(account.email) in addresses:
                return server
        return Server.browse()

    @api.constrains("email")
    def _check_email(self):
        for account in self:
            if not email_normalize(account.email):
                raise UserError(self.env._("“%(email)s” is not a valid email address.", email=account.email))

    def _imap_settings(self):
        self.ensure_one()
        # Checked again when connecting: what a name resolves to may change.
        mail_network_policy.check_encryption(self.env, "IMAP", self.imap_host, self.imap_port, self.imap_security)
        if self.auth_method in OAUTH_PROVIDERS:
            credentials = {"access_token": self._oauth_access_token()}
        else:
            credentials = {"password": self._get_secret("imap_password")}
        return imap.ImapSettings(
            host=self.imap_host.strip(),
            port=self.imap_port,
            security=self.imap_security,
            username=self.imap_login,
            **credentials,
        )

    # -- Sign in with Microsoft or Google (crm.mail.oauth.mixin) ----------
    def action_microsoft_sign_in(self):
        self.ensure_one()
        self._microsoft_app()  # a clear error now rather than on Microsoft's page
        return self._sign_in_action("microsoft")

    def action_google_sign_in(self):
        self.ensure_one()
        self._google_app()  # a clear error now rather than on Google's page
        return self._sign_in_action("google")

    def _sign_in_action(self, provider):
        return {
            "type": "ir.actions.act_url",
            "url": f"/crm_mail_sync/oauth/{provider}/start?account_id={self.id}",
            "target": "self",
        }

    def _store_oauth_tokens(self, tokens):
        self.ensure_one()
        self._set_secret("oauth_access_token", tokens.access_token)
        if tokens.refresh_token:
            self._set_secret("oauth_refresh_token", tokens.refresh_token)
        self.sudo().oauth_expires_at = tokens.expires_at

    def _oauth_provider(self):
        """ "microsoft" or "google": whose sign-in this mailbox uses."""
        self.ensure_one()
        provider = OAUTH_PROVIDERS.get(self.auth_method)
        if not provider:
            raise UserError(
                self.env._("The mailbox %(email)s does not sign in with Microsoft or Google.", email=self.email)
            )
        return provider

    def _oauth_access_token(self):
        """A valid access token of this mailbox's Microsoft or Google sign-in,
        refreshed (and the refresh token rotated, where the provider does)
        when due."""
        provider = self._oauth_provider()
        account = self.sudo()
        if not account.oauth_refresh_token_secret:
            raise UserError(messages.oauth_text(self.env, messages.OAUTH_NOT_SIGNED_IN, provider))
        stored = oauth.Tokens(self._get_secret("oauth_access_token"), account.oauth_expires_at)
        if not stored.expired():
            return stored.access_token
        tokens = self._oauth_refresh(provider, self._get_secret("oauth_refresh_token"))
        self._store_oauth_tokens(tokens)
        return tokens.access_token

    def _oauth_signed_in(self, tokens):
        self._store_oauth_tokens(tokens)
        self._after_oauth_sign_in()

    def _oauth_sign_in_refused(self, message):
        self.sudo().write({"state": "error", "last_error": message})

    def _after_oauth_sign_in(self):
        """Once signed in: test the mailbox, then switch on its outgoing server
        (saving it sends the test email, now that there is a token)."""
        self.ensure_one()
        self.action_test_connection()
        server = self._own_outgoing_server()
        if self.state == "connected" and server and not server.active:
            try:
                with self.env.cr.savepoint():
                    server.active = True
            except UserError as error:
                self.sudo().write({"state": "error", "last_error": error.args[0]})

    def action_test_connection(self):
        """Connect, sign in and list the folders; record and show the outcome."""
        self.ensure_one()
        try:
            settings = self._imap_settings()
            with imap.connect(settings) as session:
                folders = session.folders()
        except engine_errors.MailConnectionError as error:
            message = describe(self.env, error)
            password_refused = isinstance(error, engine_errors.AuthenticationFailed) and not error.reason
            if password_refused and self.auth_method == "password":
                message += (" " + self.provider_id._app_password_advice()).rstrip()
            message = mail_network_policy.failure_message(self.env, "IMAP", self.imap_host, self.imap_port, message)
            return self._connection_failed(message)
        except UserError as error:  # e.g. the Microsoft sign-in expired: sign in again
            return self._connection_failed(error.args[0])
        roles = {folder.special_use for folder in folders}
        self.sudo().write({"state": "connected", "last_error": False})
        self.sudo()._folders_listed(folders)  # the sent folder can be chosen among them
        message = self.env._(
            "Connected to %(server)s: %(count)s folders found.",
            server=self.imap_host,
            count=len(folders),
        )
        if "\\Sent" not in roles:
            message += " " + self.env._("No folder is marked as Sent; sent mail is looked for by folder name.")
        return self._notify(message, "success")

    def _connection_failed(self, message):
        self.sudo().write({"state": "error", "last_error": message})
        return self._notify(message, "danger")

    def _notify(self, message, kind):
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {"message": message, "type": kind, "sticky": kind == "danger"},
        }

    def _save_outgoing_server(self, values, password, active=True):
        """Create or update this mailbox's outgoing server. Saving it sends the
        test email to the current user and refuses settings that cannot send.
        Personal servers (``owner_user_id``) are Odoo's own: used for the mail
        their owner writes, throttled, never used for anyone else."""
        self.ensure_one()
        Server = self.env["ir.mail_server"].sudo().with_context(active_test=False)
        server = self._own_outgoing_server()
        values = {**values, "smtp_pass": password or False, "active": active}
        if server:
            server.write(values)
        else:
            server = Server.create(values)
        self.sudo().smtp_server_id = server
        return server

    def write(self, vals):
        self._check_admin_only_fields([vals], creating=False)
        moved = self.browse()
        if not vals.get("imap_password") and any(name in vals for name in CONNECTION_FIELDS):
            moved = self.filtered(
                lambda account: any(
                    account._fields[name].convert_to_cache(vals[name], account)
                    != account._fields[name].convert_to_cache(account[name], account)
                    for name in CONNECTION_FIELDS
                    if name in vals
                )
            )
        result = super().write(vals)
        if moved:
            # The stored password and sign-in were given for the old server:
            # never send them to the new one. The owner enters them again.
            moved.sudo().write(
                {
                    "imap_password_secret": False,
                    "oauth_access_token_secret": False,
                    "oauth_refresh_token_secret": False,
                    "oauth_expires_at": 0,
                    "state": "draft",
                    "last_error": False,
                }
            )
        if "sharing" in vals:
            # What was logged follows the mailbox's sharing, now and later.
            self.env["crm.mail.interaction.share"].sudo().search([("account_id", "in", self.ids)]).write(
                {"sharing": vals["sharing"]}
            )
        return result

    def _matching_scope(self):
        """Whose addresses are not customers' for this mailbox: its owner's, the
        company's domains (not public ones such as gmail.com) and the exclusions."""
        self.ensure_one()
        params = self.env["ir.config_parameter"].sudo()
        server = self._own_outgoing_server()
        own = [self.email, self.user_id.email, *server._parse_from_filter(server.from_filter)]
        public = self.env["crm.mail.provider"]._public_domains()
        domains = {domain_of(self.company_id.email)} | set(
            self.env["mail.alias.domain"].sudo().search([]).mapped("name")
        )
        domains |= set(_words(params.get_param("crm_mail_sync.internal_domains")))
        exclusions = params.get_param("crm_mail_sync.exclusions")
        return matching.Scope.build(
            own_addresses=[address for address in own if address and "@" in address],
            internal_domains=[domain for domain in domains if domain and domain not in public],
            exclusions=_words(exclusions) if exclusions is not False else DEFAULT_EXCLUSIONS,
        )


def _words(text):
    return (text or "").replace(",", " ").split()
