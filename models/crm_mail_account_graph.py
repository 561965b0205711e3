from odoo import api, fields, models
from odoo.exceptions import UserError

from ..mailsync import graph, graph_sync, oauth
from ..tools import messages
from ..tools.messages import describe
from .crm_mail_account_web import WebApi


class CrmMailAccountGraph(models.Model):
    """Mailboxes read through Microsoft Graph (Exchange Online, Microsoft 365,
    Outlook.com): ``kind`` "graph".

    The token: a salesperson's mailbox uses its own *Sign in with Microsoft*
    (delegated ``Mail.Read``; Graph reads ``/me``, so only the signed-in
    user's mailbox); a company-wide mailbox (no owner, set up by an
    administrator) that is not signed in uses the app registration's
    client credentials (application permission ``Mail.Read`` with admin
    consent; an application access policy should limit it to the mailboxes
    the company syncs). A salesperson's mailbox never uses the app token: it
    could read any mailbox of the tenant.

    Graph's URL is the system parameter ``crm_mail_sync.microsoft_graph_url``
    (default Microsoft's; tests point it at a local server), as for the Graph
    outgoing server; its extra CA is ``crm_mail_sync.microsoft_authority_cafile``.
    """

    _inherit = "crm.mail.account"

    kind = fields.Selection(
        selection_add=[("graph", "Microsoft Graph")],
        ondelete={"graph": "set default"},
    )

    # -- Graph access ------------------------------------------------------
    def _graph_app_only(self):
        """Whether this mailbox reads with the app registration's own token
        (a company-wide mailbox not signed in with Microsoft)."""
        self.ensure_one()
        return not self.user_id and self.auth_method != "oauth_microsoft"

    def _microsoft_sign_in_scopes(self):
        """The scopes *Sign in with Microsoft* asks for this mailbox: Graph's
        ``Mail.Read`` for a Graph mailbox, IMAP and SMTP otherwise (msal adds
        ``offline_access``)."""
        self.ensure_one()
        if self.kind == "graph":
            return oauth.MICROSOFT_GRAPH_MAIL_SCOPES
        return super()._microsoft_sign_in_scopes()

    def _store_oauth_tokens(self, tokens):
        """A Graph mailbox's sign-in returns a Graph token: only its refresh
        token is kept, so that the outgoing server (SMTP) asks its own token
        by refresh rather than present Graph's."""
        result = super()._store_oauth_tokens(tokens)
        if self.kind == "graph":
            self.sudo().oauth_expires_at = 0
        return result

    def _graph_access_token(self):
        """A Graph token for this mailbox (see the class docstring).

        Delegated: asked with the stored refresh token for Graph's
        ``Mail.Read`` (the refresh token is rotated and stored; the stored
        access token stays the IMAP/SMTP one of the outgoing server).

        :raises UserError: not signed in, or the sign-in was refused
        """
        self.ensure_one()
        if self._graph_app_only():
            return self._oauth_app_token()
        account = self.sudo()
        if account.auth_method != "oauth_microsoft" or not account.oauth_refresh_token_secret:
            raise UserError(messages.oauth_text(self.env, messages.OAUTH_NOT_SIGNED_IN, "microsoft"))
        refresh_token = account._get_secret("oauth_refresh_token")
        tokens = self._oauth_refresh("microsoft", refresh_token, oauth.MICROSOFT_GRAPH_MAIL_SCOPES)
        if tokens.refresh_token:
            self._set_secret("oauth_refresh_token", tokens.refresh_token)
        return tokens.access_token

    def _graph_settings(self):
        """:class:`mailsync.graph_sync.GraphSettings` of this mailbox."""
        self.ensure_one()
        params = self.env["ir.config_parameter"].sudo()
        return graph_sync.GraphSettings(
            access_token=self._graph_access_token(),
            mailbox=self.email.strip() if self._graph_app_only() else None,
            base_url=params.get_param("crm_mail_sync.microsoft_graph_url", graph.GRAPH_URL),
            cafile=params.get_param("crm_mail_sync.microsoft_authority_cafile") or None,
        )

    @api.model
    def _web_apis(self):
        """Graph: messages read by immutable id, one delta request per folder."""
        return {**super()._web_apis(), "graph": GRAPH_API}

    @api.model
    def _graph_kind_available(self):
        """Whether Graph mailboxes can be set up: the app registration is entered."""
        params = self.env["ir.config_parameter"].sudo()
        tenant = params.get_param("crm_mail_sync.microsoft_tenant_id")
        return bool(tenant and params.get_param("crm_mail_sync.microsoft_client_id"))


def _connected_message(account, settings):
    return account.env._("Connected to Microsoft Graph: the mailbox %(email)s can be read.", email=account.email)


GRAPH_API = WebApi(
    graph_sync, graph_sync.GraphSyncState, graph_sync.GraphMailboxSync, "_graph_settings", describe, _connected_message
)
