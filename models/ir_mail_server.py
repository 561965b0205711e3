import contextlib
import smtplib

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import email_normalize

from odoo.addons.base.models.ir_mail_server import MailDeliveryException

from ..mailsync import errors as engine_errors
from ..mailsync import graph, smtp
from ..tools.graph_session import GraphSession
from ..tools.messages import describe

REVEAL = "crm_mail_sync_reveal_smtp_pass"
# The value of REVEAL that decrypts: an object no client can send (JSON-RPC
# contexts only hold JSON values), so the clear password never leaves the server.
REVEAL_TOKEN = object()
GRAPH_AUTH = "crm_mail_sync_graph"
OAUTH_AUTH = "crm_mail_sync_oauth"

# Saving any of these sends the test email again.
SMTP_SETTINGS = frozenset(
    {
        "smtp_host",
        "smtp_port",
        "smtp_authentication",
        "smtp_user",
        "smtp_pass",
        "smtp_encryption",
        "smtp_ssl_certificate",
        "smtp_ssl_private_key",
        "from_filter",
        "active",
    }
)


def _failure_reason(error):
    """The server's own words: Odoo wraps sending failures in a
    MailDeliveryException titled "Mail Delivery Failed", and smtplib's
    exceptions carry the reply code and text separately."""
    if isinstance(error, MailDeliveryException) and error.__context__:
        error = error.__context__
    if isinstance(error, smtplib.SMTPResponseException):
        text = error.smtp_error.decode(errors="replace") if isinstance(error.smtp_error, bytes) else error.smtp_error
        return f"{error.smtp_code} {text}"
    return str(error)


class IrMailServer(models.Model):
    """Outgoing mail servers, made safe and verified:

    - the SMTP password is stored encrypted (``smtp_pass_secret``); Odoo's own
      ``smtp_pass`` column stays empty, the field always reads back empty, and
      the password is decrypted only to connect (``_connect__``). A password
      saved before this addon (or without a key) is still used until re-saved;
    - every save of SMTP settings sends a real test email to the user who
      saves, at the address of their user (which they cannot redirect), and
      shows the result. Settings that cannot send are refused with the
      server's reason, and nothing is saved.
    """

    _name = "ir.mail_server"
    _inherit = ["ir.mail_server", "crm.mail.secret.mixin", "crm.mail.oauth.mixin"]

    smtp_pass = fields.Char(
        compute="_compute_smtp_pass",
        inverse="_inverse_smtp_pass",
        store=False,
        copy=False,
        help="Optional password for SMTP authentication. Stored encrypted; never shown again once saved.",
    )
    smtp_pass_secret = fields.Char(copy=False, groups="base.group_system")
    smtp_authentication = fields.Selection(
        selection_add=[
            (GRAPH_AUTH, "Microsoft 365 (OAuth 2.0, Mail.Send)"),
            (OAUTH_AUTH, "Connected mailbox sign-in (OAuth 2.0)"),
        ],
        ondelete={GRAPH_AUTH: "set default", OAUTH_AUTH: "set default"},
    )
    crm_mail_account_id = fields.Many2one(
        "crm.mail.account",
        "Signed-in Mailbox",
        ondelete="set null",
        help="The connected mailbox whose Microsoft or Google sign-in this server uses (SMTP XOAUTH2).",
    )

    def _compute_smtp_authentication_info(self):
        result = super()._compute_smtp_authentication_info()
        for server in self.filtered(lambda server: server.smtp_authentication == GRAPH_AUTH):
            server.smtp_authentication_info = self.env._(
                "Send through Microsoft Graph with the app registration of CRM settings (Mail.Send "
                "application permission). Username: the Microsoft 365 mailbox that sends."
            )
        for server in self.filtered(lambda server: server.smtp_authentication == OAUTH_AUTH):
            server.smtp_authentication_info = self.env._(
                "Sign in with the Microsoft or Google sign-in of the connected mailbox below (SMTP "
                "XOAUTH2); no password is stored."
            )
        return result

    def _smtp_login__(self, connection, smtp_user, smtp_password):  # Odoo's own signature
        if len(self) == 1 and self.smtp_authentication == OAUTH_AUTH:
            smtp.xoauth2_login(connection, smtp_user, self._oauth_access_token())
            return
        super()._smtp_login__(connection, smtp_user, smtp_password)

    def _oauth_access_token(self):
        """The token of the signed-in mailbox this server uses (crm.mail.oauth.mixin)."""
        self.ensure_one()
        account = self.sudo().crm_mail_account_id
        if not account:
            raise UserError(
                self.env._(
                    "The outgoing mail server “%(server)s” signs in with a connected mailbox, but none "
                    "is set: choose it in “Signed-in Mailbox”.",
                    server=self.name,
                )
            )
        return account._oauth_access_token()

    @api.depends("smtp_pass_secret")
    @api.depends_context(REVEAL)
    def _compute_smtp_pass(self):
        reveal = self.env.context.get(REVEAL) is REVEAL_TOKEN
        for server in self:
            if not reveal or not server.id:
                server.smtp_pass = False
            elif server.sudo().smtp_pass_secret:
                server.smtp_pass = server._get_secret("smtp_pass")
            else:
                server.smtp_pass = server._legacy_clear_password()

    def _inverse_smtp_pass(self):
        for server in self:
            server._set_secret("smtp_pass", server.smtp_pass)
            # Whatever Odoo stored in clear before is gone once a password is saved.
            self.env.cr.execute("UPDATE ir_mail_server SET smtp_pass = NULL WHERE id = %s", [server.id])

    def _legacy_clear_password(self):
        self.env.cr.execute("SELECT smtp_pass FROM ir_mail_server WHERE id = %s", [self.id])
        row = self.env.cr.fetchone()
        return row[0] if row else False

    def _connect__(  # Odoo's own signature
        self,
        host=None,
        port=None,
        user=None,
        password=None,
        encryption=None,
        smtp_from=None,
        ssl_certificate=None,
        ssl_private_key=None,
        smtp_debug=False,
        mail_server_id=None,
        allow_archived=False,
    ):
        server = self.browse()
        if mail_server_id:
            server = self.sudo().browse(mail_server_id)
        elif not host:
            server, _from = self.sudo()._find_mail_server(smtp_from)
        if server and server.smtp_authentication == GRAPH_AUTH:
            return GraphSession(server, smtp_from)
        return super(IrMailServer, self.with_context(**{REVEAL: REVEAL_TOKEN}))._connect__(
            host,
            port,
            user,
            password,
            encryption,
            smtp_from=smtp_from,
            ssl_certificate=ssl_certificate,
            ssl_private_key=ssl_private_key,
            smtp_debug=smtp_debug,
            mail_server_id=mail_server_id,
            allow_archived=allow_archived,
        )

    def _check_forced_mail_server(self, mail_server, allow_archived, smtp_from):
        """Odoo accepts a personal server (``owner_user_id``) only for one From
        address equal to its whole From filter. A mailbox's server also sends
        for the aliases in its filter (the wizard's "other From addresses")."""
        addresses = {email_normalize(part) for part in self._parse_from_filter(mail_server.from_filter) if "@" in part}
        if mail_server.owner_user_id and mail_server.active and email_normalize(smtp_from) in addresses:
            return
        super()._check_forced_mail_server(mail_server, allow_archived, smtp_from)

    def test_smtp_connection(self, autodetect_max_email_size=False):
        """Odoo's Test Connection speaks SMTP verbs; Graph has none, and no
        dry run: for a Graph server the test is a real message to the user."""
        graph_servers = self.filtered(lambda server: server.smtp_authentication == GRAPH_AUTH)
        if graph_servers:
            graph_servers._send_settings_test_email()
            if autodetect_max_email_size:
                graph_servers.max_email_size = graph.MAX_MIME_BYTES / (1024 * 1024)
        others = self - graph_servers
        if others:
            others._check_from_addresses()
            return super(IrMailServer, others).test_smtp_connection(autodetect_max_email_size)
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "type": "success",
                "message": self.env._(
                    "A test email was sent to %(email)s through Microsoft Graph.", email=self.env.user.email
                ),
                "sticky": False,
            },
        }

    def _from_addresses(self):
        """The email addresses of the From filter (a mailbox's own and its aliases)."""
        addresses = []
        for part in self._parse_from_filter(self.from_filter):
            address = email_normalize(part) if "@" in part else False
            if address and address not in addresses:
                addresses.append(address)
        return addresses

    def _check_from_addresses(self):
        """Before Odoo's own test: sign in, then MAIL FROM and RCPT TO (the user's
        own address), then RSET, for each address of the From filter: nothing
        is sent. A refusal raises a UserError that names the refused address and
        says what to do (issue 20). Failures to connect at all are left to
        Odoo's own test, which reports them."""
        recipient = email_normalize(self.env.user.email or "")
        for server in self:
            senders = server._from_addresses()
            if not senders:
                continue
            connection = None
            try:
                try:
                    connection = self._connect__(mail_server_id=server.id, allow_archived=True, smtp_from=senders[0])
                except smtplib.SMTPResponseException as exc:
                    uses_token = server.smtp_authentication == OAUTH_AUTH
                    error = smtp.refusal_from_exception(exc, server.smtp_host, server.smtp_port, token=uses_token)
                    raise UserError(describe(self.env, error)) from None
                except (OSError, smtplib.SMTPException):
                    continue  # Odoo's own test says what is wrong with the connection
                smtp.probe_senders(
                    connection,
                    server.smtp_host,
                    server.smtp_port,
                    senders,
                    recipient or senders[0],
                    token=server.smtp_authentication == OAUTH_AUTH,
                )
            except engine_errors.MailConnectionError as error:
                raise UserError(describe(self.env, error)) from None
            finally:
                if connection is not None:
                    with contextlib.suppress(Exception):
                        connection.quit()

    def _graph_credentials(self):
        """An app-only token for Graph, Graph's URL and an extra CA (tests)."""
        params = self.env["ir.config_parameter"].sudo()
        token = self._oauth_app_token()
        cafile = params.get_param("crm_mail_sync.microsoft_authority_cafile") or None
        return token, params.get_param("crm_mail_sync.microsoft_graph_url", graph.GRAPH_URL), cafile

    @api.model_create_multi
    def create(self, vals_list):
        servers = super().create(vals_list)
        servers._send_settings_test_email()
        return servers

    def write(self, vals):
        result = super().write(vals)
        if SMTP_SETTINGS & vals.keys():
            self._send_settings_test_email()
        return result

    def _test_email_failure(self, error):
        """What to tell the user when the test email failed: a refusal by the
        server (sign-in, sender, recipient, content) classified and explained
        in their language as Test Connection does (issue 20), anything else in
        the server's own words."""
        self.ensure_one()
        cause = error.__context__ if isinstance(error, MailDeliveryException) and error.__context__ else error
        where = {"step": "auth", "token": self.smtp_authentication == OAUTH_AUTH}
        if isinstance(cause, smtplib.SMTPRecipientsRefused) and cause.recipients:
            recipient, (code, text) = next(iter(cause.recipients.items()))
            cause, where = smtplib.SMTPResponseException(code, text), {"step": "rcpt", "recipient": recipient}
        elif isinstance(cause, smtplib.SMTPSenderRefused):
            where.update(step="mail", sender=cause.sender)
        elif isinstance(cause, smtplib.SMTPDataError):
            where["step"] = "data"
        refusal = smtp.refusal_from_exception(cause, self.smtp_host, self.smtp_port, **where)
        return describe(self.env, refusal) if refusal else _failure_reason(error)

    def _send_settings_test_email(self):
        if self.env.context.get("install_mode") or self.pool._init:
            return  # data files of other modules, not a person saving settings
        servers = self.filtered("active")
        if not servers:
            return
        user = self.env.user
        if not user.email:
            raise UserError(
                self.env._(
                    "Every save of an outgoing mail server sends a test email to you: set your email "
                    "address in your preferences first."
                )
            )
        for server in servers:
            message = self._build_email__(
                email_from=server._get_test_email_from(),
                email_to=[user.email_formatted],
                subject=self.env._("Odoo test email: outgoing server “%(server)s”", server=server.name),
                body=self.env._(
                    "This test email was sent because the outgoing mail server “%(server)s” was "
                    "saved. It reached you: the settings work.",
                    server=server.name,
                ),
            )
            try:
                self.send_email(message, mail_server_id=server.id)
            except Exception as error:  # noqa: BLE001 - any failure refuses the settings
                reason = server._test_email_failure(error)
                raise UserError(
                    self.env._(
                        "The outgoing mail server “%(server)s” could not send the test email to "
                        "%(email)s, so the settings were not saved. Reason: %(reason)s",
                        server=server.name,
                        email=user.email,
                        reason=reason,
                    )
                ) from None
        user._bus_send(
            "simple_notification",
            {
                "type": "success",
                "message": self.env._("Settings saved. A test email was sent to %(email)s.", email=user.email),
            },
        )
