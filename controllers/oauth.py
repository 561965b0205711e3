from odoo import http
from odoo.exceptions import UserError
from odoo.http import request

from ..mailsync import google_oauth, oauth


class _SignIn:
    """The two legs of "Sign in with <provider>" for a connected mailbox.

    The flow (state and PKCE verifier) is kept in the user's own session, so
    only the browser that started a sign-in can finish it. Subclasses name the
    provider and call the engine.
    """

    provider = ""  # URL segment: /crm_mail_sync/oauth/<provider>

    def _app(self, account):
        raise NotImplementedError

    def _start_flow(self, app, redirect_uri, login_hint, account):
        raise NotImplementedError

    def _finish_flow(self, app, flow, params):
        raise NotImplementedError

    def _no_pending_sign_in(self):
        raise NotImplementedError

    @property
    def _session_key(self):
        return f"crm_mail_sync_{self.provider}_flow"

    def _redirect_uri(self):
        base = request.env["ir.config_parameter"].sudo().get_param("web.base.url")
        return f"{base}/crm_mail_sync/oauth/{self.provider}"

    def _start(self, account_id):
        account = request.env["crm.mail.account"].browse(int(account_id)).exists()
        account.check_access("write")  # the owner (or an administrator) only
        flow = self._start_flow(self._app(account), self._redirect_uri(), account.email, account)
        request.session[self._session_key] = {"flow": flow, "account_id": account.id}
        return request.redirect(flow["auth_uri"], local=False)

    def _callback(self, params):
        pending = request.session.pop(self._session_key, None)
        if not pending:
            raise UserError(self._no_pending_sign_in())
        account = request.env["crm.mail.account"].browse(pending["account_id"]).exists()
        account.check_access("write")
        try:
            tokens = self._finish_flow(self._app(account), pending["flow"], params)
        except oauth.OAuthError as error:
            account.sudo().write({"state": "error", "last_error": account._describe_oauth_error(error)})
        else:
            account._store_oauth_tokens(tokens)
            account._after_oauth_sign_in()
        return request.redirect(f"/odoo/action-crm_mail_sync.crm_mail_account_action/{account.id}")


class MicrosoftSignIn(_SignIn, http.Controller):
    provider = "microsoft"

    def _app(self, account):
        return account._microsoft_app()

    def _start_flow(self, app, redirect_uri, login_hint, account):
        # A Microsoft Graph mailbox asks Graph's Mail.Read, the others IMAP and SMTP.
        scopes = account._microsoft_sign_in_scopes()
        return oauth.start_sign_in(app, redirect_uri, scopes=scopes, login_hint=login_hint)

    def _finish_flow(self, app, flow, params):
        return oauth.finish_sign_in(app, flow, params)

    def _no_pending_sign_in(self):
        return request.env._("No Microsoft sign-in was started from this browser: start it again.")

    @http.route("/crm_mail_sync/oauth/microsoft/start", type="http", auth="user")
    def start(self, account_id):
        return self._start(account_id)

    @http.route("/crm_mail_sync/oauth/microsoft", type="http", auth="user")
    def callback(self, **params):
        return self._callback(params)


class GoogleSignIn(_SignIn, http.Controller):
    provider = "google"

    def _app(self, account):
        return account._google_app()

    def _start_flow(self, app, redirect_uri, login_hint, account):
        return google_oauth.start_sign_in(app, redirect_uri, login_hint=login_hint)

    def _finish_flow(self, app, flow, params):
        return google_oauth.finish_sign_in(app, flow, params)

    def _no_pending_sign_in(self):
        return request.env._("No Google sign-in was started from this browser: start it again.")

    @http.route("/crm_mail_sync/oauth/google/start", type="http", auth="user")
    def start(self, account_id):
        return self._start(account_id)

    @http.route("/crm_mail_sync/oauth/google", type="http", auth="user")
    def callback(self, **params):
        return self._callback(params)
