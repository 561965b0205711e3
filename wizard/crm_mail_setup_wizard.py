import dataclasses

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.tools import email_normalize

from ..mailsync import autoconfig, autodetect, imap, smtp
from ..mailsync import errors as engine_errors
from ..models.crm_mail_provider import AUTH_METHOD_SELECTION, OAUTH_METHODS, SECURITY_SELECTION, SHARING_SELECTION
from ..models.ir_mail_server import OAUTH_AUTH
from ..tools import mail_network_policy
from ..tools.messages import describe

# The engine's encryption names -> Odoo's ir.mail_server ones (always validating certificates).
SMTP_ENCRYPTION = {"ssl": "ssl_strict", "starttls": "starttls_strict", "none": "none"}
DETECTION_TIMEOUT = 3.0


class CrmMailSetupWizard(models.TransientModel):
    """Connect a mailbox in a few steps: email address -> detected provider and
    sign-in -> test of both servers -> sharing -> connected.

    Passwords typed here are encrypted as soon as the wizard is saved, like
    everywhere else in the addon, and move to the mailbox and its outgoing
    server only on "Finish"."""

    _name = "crm.mail.setup.wizard"
    _description = "Connect a Mailbox"
    _inherit = ["crm.mail.secret.mixin"]

    step = fields.Selection(
        [("email", "Email address"), ("servers", "Sign in"), ("sharing", "Sharing"), ("done", "Connected")],
        default="email",
        required=True,
    )
    is_admin = fields.Boolean(compute="_compute_is_admin")
    company_wide = fields.Boolean(
        "Company-wide Mailbox", help="A mailbox of the company (e.g. sales@), not of one salesperson."
    )
    user_id = fields.Many2one("res.users", "Owner", default=lambda self: self.env.user)
    email = fields.Char("Email Address", default=lambda self: self.env.user.email)

    # What the autodetection found
    provider_id = fields.Many2one("crm.mail.provider")
    detection_note = fields.Char(readonly=True)
    detection_source = fields.Selection(
        [
            ("preset", "Known provider"),
            ("provider", "Your provider's configuration"),
            ("ispdb", "Thunderbird's provider database"),
            ("dns", "The domain's DNS records"),
            ("verified", "Guessed and verified"),
            ("none", "Not detected"),
        ],
        readonly=True,
    )
    detection_help_url = fields.Char("Provider's Instructions", readonly=True)
    exchange_ews_url = fields.Char(
        "Exchange Web Services URL", readonly=True, help="Found by Autodiscover: an Exchange server on premises."
    )
    custom_servers = fields.Boolean("Enter the servers myself")

    # Incoming
    imap_host = fields.Char("Incoming Server")
    imap_port = fields.Integer("Incoming Port", default=993)
    imap_security = fields.Selection(SECURITY_SELECTION, "Incoming Encryption", default="ssl")
    imap_login = fields.Char("User Name")
    auth_method = fields.Selection(
        AUTH_METHOD_SELECTION,
        "Sign-in Method",
        default="password",
    )
    two_step = fields.Boolean(
        "2-step verification is on",
        help="With 2-step verification, this provider refuses your usual password: create an app password.",
    )
    app_password_help = fields.Text(related="provider_id.app_password_help")
    app_password_url = fields.Char(related="provider_id.app_password_url")
    offers_two_step = fields.Boolean(compute="_compute_offers")
    offers_microsoft = fields.Boolean(compute="_compute_offers")
    offers_google = fields.Boolean(compute="_compute_offers")
    offers_choice = fields.Boolean(compute="_compute_offers")
    password = fields.Char(compute="_compute_password", inverse="_inverse_password")
    password_secret = fields.Char(groups="base.group_system")
    password_set = fields.Boolean(compute="_compute_password_set")

    # Outgoing
    same_credentials = fields.Boolean("Use the same credentials for the outgoing server", default=True)
    smtp_host = fields.Char("Outgoing Server")
    smtp_port = fields.Integer("Outgoing Port", default=587)
    smtp_security = fields.Selection(SECURITY_SELECTION, "Outgoing Encryption", default="starttls")
    smtp_auth = fields.Boolean("SMTP Authentication", default=True)
    smtp_login = fields.Char("Outgoing User Name")
    smtp_password = fields.Char("Outgoing Password", compute="_compute_smtp_password", inverse="_inverse_smtp_password")
    smtp_password_secret = fields.Char(groups="base.group_system")
    smtp_password_set = fields.Boolean(compute="_compute_password_set")
    extra_from = fields.Char(
        "Other From Addresses",
        help="Other addresses you send from with this server (aliases), separated by commas.",
    )

    # Outcome
    imap_result = fields.Text(readonly=True)
    smtp_result = fields.Text(readonly=True)
    sharing = fields.Selection(
        SHARING_SELECTION,
        "Shared With",
        default="private",
        help="Who may see the email logged from this mailbox.",
    )
    account_id = fields.Many2one("crm.mail.account", readonly=True)

    @api.depends_context("uid")
    def _compute_is_admin(self):
        self.is_admin = self.env.user.has_group("base.group_system")

    @api.depends("provider_id", "custom_servers")
    def _compute_offers(self):
        for wizard in self:
            provider = wizard.provider_id if not wizard.custom_servers else wizard.provider_id.browse()
            wizard.offers_two_step = provider.app_password_with_2fa
            wizard.offers_microsoft = provider.auth_oauth_microsoft
            # Google sign-in only where an administrator registered a Google client.
            wizard.offers_google = provider.auth_oauth_google and bool(
                self.env["res.config.settings"]._crm_mail_sync_oauth_app("google", decrypt=False)["client_id"]
            )
            wizard.offers_choice = wizard.offers_microsoft or wizard.offers_google

    # Passwords always read back empty; "..._set" tells whether one is saved.
    # (Separate computes: writing a password must refresh its "..._set".)
    def _compute_password(self):
        self.password = False

    def _compute_smtp_password(self):
        self.smtp_password = False

    @api.depends("password_secret", "smtp_password_secret")
    def _compute_password_set(self):
        for wizard in self:
            wizard.password_set = bool(wizard.sudo().password_secret)
            wizard.smtp_password_set = bool(wizard.sudo().smtp_password_secret)

    def _inverse_password(self):
        for wizard in self.filtered("password"):
            wizard._set_secret("password", wizard.password)

    def _inverse_smtp_password(self):
        for wizard in self.filtered("smtp_password"):
            wizard._set_secret("smtp_password", wizard.smtp_password)

    @api.onchange("two_step")
    def _onchange_two_step(self):
        if self.offers_two_step and self.auth_method not in OAUTH_METHODS:
            self.auth_method = "app_password" if self.two_step else "password"

    @api.onchange("smtp_auth", "same_credentials")
    def _onchange_smtp_auth(self):
        if self.smtp_auth and not self.same_credentials and not self.smtp_login:
            self.smtp_login = self.imap_login

    # -- steps -----------------------------------------------------------
    def _reopen(self):
        return {
            "type": "ir.actions.act_window",
            "res_model": self._name,
            "res_id": self.id,
            "view_mode": "form",
            "target": "new",
            "name": self.env._("Connect a Mailbox"),
        }

    def action_detect(self):
        """Step 1 -> 2: find the provider and servers of the address."""
        self.ensure_one()
        email = email_normalize(self.email or "")
        if not email:
            raise UserError(
                self.env._("Enter your email address (e.g. jane@example.com) in “Email Address”, then click Next.")
            )
        try:
            detection = autodetect.detect(
                email,
                self.env["crm.mail.provider"]._presets(),
                nameserver=self.env["ir.config_parameter"].sudo().get_param("crm_mail_sync.dns_nameserver"),
                timeout=DETECTION_TIMEOUT,
                endpoints=self._detection_endpoints(),
            )
        except autodetect.InvalidEmailAddress:
            raise UserError(
                self.env._("“%(email)s” is not a valid email address: correct it, then click Next.", email=self.email)
            ) from None
        values = {"email": email, "step": "servers", "imap_result": False, "smtp_result": False}
        provider = self.env["crm.mail.provider"]
        if detection.preset:
            provider = provider.search([("code", "=", detection.preset.code)], limit=1)
        values.update(provider_id=provider.id, custom_servers=not detection.found, imap_login=detection.login or email)
        if detection.imap:
            values.update(
                imap_host=detection.imap.host,
                imap_port=detection.imap.port,
                imap_security=detection.imap.security.value,
            )
        if detection.smtp:
            values.update(
                smtp_host=detection.smtp.host,
                smtp_port=detection.smtp.port,
                smtp_security=detection.smtp.security.value,
            )
        values.update(
            detection_source=detection.source,
            detection_help_url=next((url for url, _text in detection.documentation), False),
            exchange_ews_url=detection.exchange.ews_url if detection.exchange else False,
        )
        if provider:
            values["detection_note"] = self.env._("We found your provider: %(name)s.", name=provider.name)
            google = (
                provider.auth_oauth_google
                and self.env["res.config.settings"]._crm_mail_sync_oauth_app("google", decrypt=False)["client_id"]
            )
            values["auth_method"] = (
                "oauth_microsoft"
                if provider.auth_oauth_microsoft and not provider.auth_password
                else "oauth_google"
                if google
                else "app_password"
                if provider.app_password_with_2fa and not provider.auth_password
                else "password"
            )
            values["two_step"] = values["auth_method"] == "app_password"
        elif detection.found:
            name = detection.provider_name or detection.domain
            if detection.source == "provider":
                note = self.env._(
                    "Found in your provider's configuration (%(name)s); check the servers below.", name=name
                )
            elif detection.source == "ispdb":
                note = self.env._(
                    "From Thunderbird's provider database (%(name)s); check the servers below.", name=name
                )
            elif detection.source == "verified":
                note = self.env._(
                    "Guessed and verified: the servers of %(domain)s answered; check them below.",
                    domain=detection.domain,
                )
            else:
                note = self.env._("We found the servers of %(domain)s; check them below.", domain=detection.domain)
            values["detection_note"] = note
            values["auth_method"] = "password"
        elif detection.exchange and detection.exchange.ews_url:
            values["detection_note"] = self.env._(
                "%(domain)s uses a Microsoft Exchange server (%(url)s), which gave no IMAP server: enter the "
                "servers below (your administrator knows them).",
                domain=detection.domain,
                url=detection.exchange.ews_url,
            )
            values["auth_method"] = "password"
        else:
            values["detection_note"] = self.env._(
                "We could not detect the servers of %(domain)s: enter them below (your provider's help pages "
                "give them).",
                domain=detection.domain,
            )
            values["auth_method"] = "password"
        self.write(values)
        return self._reopen()

    @api.model
    def _detection_endpoints(self):
        """Where the autoconfig and Autodiscover lookups go: the real services,
        unless an administrator (or a test) set system parameters:
        ``crm_mail_sync.autoconfig_urls`` and ``crm_mail_sync.autoconfig_http_urls``
        (URL templates separated by spaces, with ``{domain}``, ``{email}``),
        ``crm_mail_sync.autodiscover_url``, ``crm_mail_sync.autodiscover_domain_url``
        and ``crm_mail_sync.autoconfig_cafile`` (a CA bundle to trust)."""
        params = self.env["ir.config_parameter"].sudo()
        defaults = autoconfig.Endpoints()
        values = {}
        for key, field in (("autoconfig_urls", "autoconfig"), ("autoconfig_http_urls", "autoconfig_http")):
            value = params.get_param(f"crm_mail_sync.{key}")
            if value:
                values[field] = tuple(value.split())
        for key, field in (
            ("autodiscover_url", "autodiscover_microsoft"),
            ("autodiscover_domain_url", "autodiscover_domain"),
        ):
            value = params.get_param(f"crm_mail_sync.{key}")
            if value:
                values[field] = value.strip()
        values["cafile"] = params.get_param("crm_mail_sync.autoconfig_cafile") or None
        return dataclasses.replace(defaults, **values)

    def action_back(self):
        self.ensure_one()
        previous = {"servers": "email", "sharing": "servers"}.get(self.step, "email")
        self.write({"step": previous, "imap_result": False, "smtp_result": False})
        return self._reopen()

    def action_test(self):
        """Step 2 -> 3: sign in to both servers, with the settings as typed."""
        self.ensure_one()
        self._check_required()
        imap_error = smtp_error = False
        try:
            with imap.connect(self._imap_settings()) as session:
                session.folders()
        except engine_errors.MailConnectionError as error:
            imap_error = mail_network_policy.failure_message(
                self.env, "IMAP", self.imap_host.strip(), self.imap_port, describe(self.env, error, self._advice(error))
            )
        try:
            # As far as MAIL FROM and RCPT TO (to the user, then RSET: nothing is
            # sent) for every From address, so that one the server refuses is named.
            smtp.check(self._smtp_settings(), senders=self._from_addresses(), recipient=self._test_recipient())
        except engine_errors.MailConnectionError as error:
            smtp_error = mail_network_policy.failure_message(
                self.env, "SMTP", self.smtp_host.strip(), self.smtp_port, describe(self.env, error, self._advice(error))
            )
        ok = self.env._("Connected.")
        self.write(
            {
                "imap_result": imap_error or ok,
                "smtp_result": smtp_error or ok,
                "step": "servers" if imap_error or smtp_error else "sharing",
            }
        )
        return self._reopen()

    def _advice(self, error):
        if isinstance(error, engine_errors.AuthenticationFailed) and not error.reason:
            return self._app_password_hint()
        return ""

    def _from_addresses(self):
        """The mailbox's address, then each extra From address (aliases)."""
        return [email_normalize(self.email), *self._extra_from_addresses()]

    def _test_recipient(self):
        """Where the connection test's RCPT TO points: the user's own address."""
        return email_normalize(self.env.user.email or "") or email_normalize(self.email)

    def _app_password_hint(self):
        if self.auth_method == "app_password" or not self.provider_id.app_password_with_2fa:
            return ""
        return (
            " "
            + self.provider_id._app_password_advice()
            + " "
            + self.env._("Tick “2-step verification is on” to see the steps.")
        )

    def _check_required(self):
        missing = [
            self._fields[name].string
            for name in ("imap_host", "imap_port", "imap_login", "smtp_host", "smtp_port")
            if not self[name]
        ]
        if self.auth_method not in OAUTH_METHODS and not self.password_set:
            missing.append(self._fields["password"].string)
        if self.smtp_auth and not self.same_credentials:
            if not self.smtp_login:
                missing.append(self._fields["smtp_login"].string)
            if not self.smtp_password_set:
                missing.append(self._fields["smtp_password"].string)
        if missing:
            raise UserError(self.env._("Fill in: %(fields)s.", fields=", ".join(missing)))
        self._extra_from_addresses(raise_invalid=True)
        mail_network_policy.check_encryption(
            self.env, "IMAP", self.imap_host.strip(), self.imap_port, self.imap_security
        )
        mail_network_policy.check_encryption(
            self.env, "SMTP", self.smtp_host.strip(), self.smtp_port, self.smtp_security
        )

    def _extra_from_addresses(self, raise_invalid=False):
        addresses = []
        for part in (self.extra_from or "").replace(";", ",").split(","):
            if not part.strip():
                continue
            address = email_normalize(part)
            if not address:
                if raise_invalid:
                    raise UserError(
                        self.env._(
                            "“%(address)s” in “Other From Addresses” is not an email address: correct or remove it.",
                            address=part.strip(),
                        )
                    )
                continue
            if address not in addresses and address != email_normalize(self.email):
                addresses.append(address)
        return addresses

    def _imap_settings(self):
        return imap.ImapSettings(
            host=self.imap_host.strip(),
            port=self.imap_port,
            security=self.imap_security,
            username=self.imap_login.strip(),
            password=self._get_secret("password"),
            timeout=15,
        )

    def _smtp_credentials(self):
        if not self.smtp_auth:
            return "", ""
        if self.same_credentials:
            return self.imap_login.strip(), self._get_secret("password")
        return self.smtp_login.strip(), self._get_secret("smtp_password")

    def _smtp_settings(self):
        username, password = self._smtp_credentials()
        return smtp.SmtpSettings(
            host=self.smtp_host.strip(),
            port=self.smtp_port,
            security=self.smtp_security,
            authenticate=self.smtp_auth,
            username=username,
            password=password,
            timeout=15,
        )

    def action_sign_in_microsoft(self):
        """Microsoft mailboxes: create the mailbox, then sign in on Microsoft's page;
        the mailbox form opens when the sign-in returns."""
        self.ensure_one()
        self._check_owner()
        account = self._save_account({"auth_method": "oauth_microsoft"})
        self._save_oauth_outgoing_server(account)
        return account.action_microsoft_sign_in()

    def action_sign_in_google(self):
        """Gmail / Google Workspace: create the mailbox, then sign in on Google's
        page; the mailbox form opens when the sign-in returns."""
        self.ensure_one()
        self._check_owner()
        account = self._save_account({"auth_method": "oauth_google"})
        self._save_oauth_outgoing_server(account)
        return account.action_google_sign_in()

    def _save_oauth_outgoing_server(self, account):
        """The outgoing server signs in with the mailbox's token (XOAUTH2); it
        is switched on, and tested, once the sign-in is done."""
        if not self.smtp_host:
            return
        values = self._outgoing_server_values()
        values.update(
            {
                "smtp_authentication": OAUTH_AUTH,
                "smtp_user": self.imap_login.strip() if self.imap_login else email_normalize(self.email),
                "crm_mail_account_id": account.id,
            }
        )
        account._save_outgoing_server(values, False, active=False)

    def action_finish(self):
        """Step 3 -> done: save the mailbox and its outgoing server (whose save
        sends the test email to the user)."""
        self.ensure_one()
        self._check_owner()
        self._check_required()
        account = self._save_account({"auth_method": self.auth_method})
        account._set_secret("imap_password", self._get_secret("password"))
        account._save_outgoing_server(self._outgoing_server_values(), self._smtp_credentials()[1])
        account.sudo().write({"state": "connected", "last_error": False})
        self.write({"step": "done", "account_id": account.id})
        return self._reopen()

    def _check_owner(self):
        owner = self.env["res.users"] if self.company_wide else (self.user_id or self.env.user)
        if owner != self.env.user and not self.env.user.has_group("base.group_system"):
            raise AccessError(
                self.env._("Only administrators can connect a company-wide mailbox or a colleague's mailbox.")
            )
        return owner

    def _save_account(self, values):
        """Create or update the mailbox of the checked owner. The owner, and
        what only the addon sets, are written as superuser once
        ``_check_owner`` allowed it; the rest as the user would."""
        owner = self._check_owner()
        Account = self.env["crm.mail.account"]
        account = Account.search([("email", "=", email_normalize(self.email)), ("user_id", "=", owner.id)], limit=1)
        values = {
            "email": email_normalize(self.email),
            "user_id": owner.id,
            "provider_id": self.provider_id.id,
            "imap_host": self.imap_host.strip(),
            "imap_port": self.imap_port,
            "imap_security": self.imap_security,
            "imap_login": self.imap_login.strip(),
            "sharing": self.sharing or "private",
            **values,
        }
        if account:
            account.check_access("write")
            account.sudo().write(values)
        else:
            account = Account.sudo().create({**values, "company_id": self.env.company.id}).sudo(False)
        return account

    def _outgoing_server_values(self):
        username, _password = self._smtp_credentials()
        owner = self.env["res.users"] if self.company_wide else (self.user_id or self.env.user)
        return {
            "name": self.env._("%(email)s (outgoing)", email=email_normalize(self.email)),
            "smtp_host": self.smtp_host.strip(),
            "smtp_port": self.smtp_port,
            "smtp_encryption": SMTP_ENCRYPTION[self.smtp_security],
            "smtp_authentication": "login",
            "smtp_user": username or False,
            "from_filter": ",".join([email_normalize(self.email), *self._extra_from_addresses()]),
            "owner_user_id": owner.id,
        }

    def action_open_account(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "res_model": "crm.mail.account",
            "res_id": self.account_id.id,
            "view_mode": "form",
            "target": "current",
        }
