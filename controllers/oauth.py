from odoo import http
from odoo.exceptions import UserError
from odoo.http import request

from ..mailsync import google_oauth, oauth

SESSION_KEY = "crm_mail_sync_microsoft_flow"


class MicrosoftSignIn(http.Controller):
    """The two legs of "Sign in with Microsoft" for a connected mailbox.

    The msal flow (state and PKCE verifier) is kept in the user's own session,
    so only the browser that started a sign-in can finish it.
    """

    def _redirect_uri(self):
        return request.env["ir.config_parameter"].sudo().get_param("web.base.url") + "/crm_mail_sync/oauth/microsoft"

    @http.route("/crm_mail_sync/oauth/microsoft/start", type="http", auth="user")
    def start(self, account_id):
        account = request.env["crm.mail.account"].browse(int(account_id)).exists()
        account.check_access("write")  # the owner (or an administrator) only
        flow = oauth.start_sign_in(account._microsoft_app(), self._redirect_uri(), login_hint=account.email)
        request.session[SESSION_KEY] = {"flow": flow, "account_id": account.id}
        return request.redirect(flow["auth_uri"], local=False)

    @http.route("/crm_mail_sync/oauth/microsoft", type="http", auth="user")
    def callback(self, **params):
        pending = request.session.pop(SESSION_KEY, None)
        if not pending:
            raise UserError(request.env._("No Microsoft sign-in was started from this browser: start it again."))
        account = request.env["crm.mail.account"].browse(pending["account_id"]).exists()
        account.check_access("write")
        try:
            tokens = oauth.finish_sign_in(account._microsoft_app(), pending["flow"], params)
        except oauth.OAuthError as error:
            account.sudo().write({"state": "error", "last_error": account._describe_oauth_error(error)})
        else:
            account._store_oauth_tokens(tokens)
            account._after_oauth_sign_in()
        return request.redirect(f"/odoo/action-crm_mail_sync.crm_mail_account_action/{account.id}")


GOOGLE_SESSION_KEY = "crm_mail_sync_google_flow"


class GoogleSignIn(http.Controller):
    """The two legs of "Sign in with Google" (Gmail, Google Workspace); the
    flow (state and PKCE verifier) stays in the user's own session."""

    def _redirect_uri(self):
        return request.env["ir.config_parameter"].sudo().get_param("web.base.url") + "/crm_mail_sync/oauth/google"

    @http.route("/crm_mail_sync/oauth/google/start", type="http", auth="user")
    def start(self, account_id):
        account = request.env["crm.mail.account"].browse(int(account_id)).exists()
        account.check_access("write")  # the owner (or an administrator) only
        flow = google_oauth.start_sign_in(account._google_app(), self._redirect_uri(), login_hint=account.email)
        request.session[GOOGLE_SESSION_KEY] = {"flow": flow, "account_id": account.id}
        return request.redirect(flow["auth_uri"], local=False)

    @http.route("/crm_mail_sync/oauth/google", type="http", auth="user")
    def callback(self, **params):
        pending = request.session.pop(GOOGLE_SESSION_KEY, None)
        if not pending:
            raise UserError(request.env._("No Google sign-in was started from this browser: start it again."))
        account = request.env["crm.mail.account"].browse(pending["account_id"]).exists()
        account.check_access("write")
        try:
            tokens = google_oauth.finish_sign_in(account._google_app(), pending["flow"], params)
        except oauth.OAuthError as error:
            account.sudo().write({"state": "error", "last_error": account._describe_oauth_error(error)})
        else:
            account._store_oauth_tokens(tokens)
            account._after_oauth_sign_in()
        return request.redirect(f"/odoo/action-crm_mail_sync.crm_mail_account_action/{account.id}")
