from odoo import api, fields, models

from ..mailsync import presets

SECURITY_SELECTION = [
    ("ssl", "SSL/TLS"),
    ("starttls", "STARTTLS"),
    ("none", "None (unencrypted)"),
]
# Who may see the email logged from a mailbox, as its owner chooses it (the
# mailbox and the setup wizard), and the same values as a reader of a logged
# email sees them (crm.mail.interaction, the chatter's badge).
SHARING_SELECTION = [
    ("private", "Private: only me"),
    ("team", "My sales team"),
    ("everyone", "Everyone in the company"),
]
SHARING_READER_SELECTION = [("private", "Private"), ("team", "Sales team"), ("everyone", "Everyone")]
# How a mailbox signs in to its servers (mailbox form and setup wizard).
AUTH_METHOD_SELECTION = [
    ("password", "Password"),
    ("app_password", "App password"),
    ("oauth_microsoft", "Sign in with Microsoft"),
    ("oauth_google", "Sign in with Google"),
]
OAUTH_METHODS = ("oauth_microsoft", "oauth_google")


class CrmMailProvider(models.Model):
    """A mail provider preset (Gmail, Outlook.com, Orange, ...): the servers,
    ports, encryption and sign-in methods that the setup wizard fills in for a
    user, and how to recognise the provider from an email address. Loaded from
    data/provider_presets.xml; admins may add their own."""

    _name = "crm.mail.provider"
    _description = "Mail Provider Preset"
    _order = "sequence, name"

    name = fields.Char(required=True)
    code = fields.Char(required=True, help="Stable technical key of the preset.")
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True)
    imap_host = fields.Char("Incoming Server")
    imap_port = fields.Integer("Incoming Port")
    imap_security = fields.Selection(SECURITY_SELECTION, "Incoming Encryption", default="ssl")
    smtp_host = fields.Char("Outgoing Server")
    smtp_port = fields.Integer("Outgoing Port")
    smtp_security = fields.Selection(SECURITY_SELECTION, "Outgoing Encryption", default="starttls")
    auth_password = fields.Boolean("Password Sign-in", default=True)
    app_password_with_2fa = fields.Boolean(
        "App Password with 2-Step Verification",
        help="With 2-step verification on, this provider refuses the usual password: "
        "the user creates an app password and signs in with it.",
    )
    auth_oauth_microsoft = fields.Boolean("Microsoft OAuth 2.0")
    auth_oauth_google = fields.Boolean("Google OAuth 2.0")
    domains = fields.Char(help="Email domains served by this provider, separated by spaces.")
    mx_patterns = fields.Char(
        "MX Patterns",
        help="Patterns of mail exchanger host names that identify this provider for a custom "
        "domain, separated by spaces (e.g. *.google.com).",
    )
    login_format = fields.Selection(
        [("email", "Full email address"), ("local_part", "Part before the @")],
        default="email",
        required=True,
    )
    app_password_url = fields.Char("App Password Page")
    app_password_help = fields.Text("App Password Steps", translate=True)
    source_url = fields.Char("Source", help="Public page the server settings were checked against.")
    note = fields.Char()

    _code_unique = models.Constraint("UNIQUE(code)", "A provider preset with this code already exists.")

    @api.model
    def _presets(self):
        """The active presets, best first, for the engine's autodetection."""
        return [presets.Preset.from_mapping(values) for values in self.search([]).read(list(presets.FIELDS))]

    @api.model
    def _public_domains(self):
        """The email domains of the public providers (gmail.com, outlook.com,
        ...): an address there says nothing of its owner's company."""
        return {domain for preset in self.sudo()._presets() for domain in preset.domains}

    def _app_password_advice(self):
        """What to tell a user whose usual password was refused: this provider
        wants an app password with 2-step verification, made at this page."""
        if not (self and self.app_password_with_2fa):
            return ""
        advice = self.env._("%(provider)s needs an app password when 2-step verification is on.", provider=self.name)
        if self.app_password_url:
            advice += " " + self.env._(
                "Create one at %(url)s and use it instead of your usual password.", url=self.app_password_url
            )
        return advice
