from odoo import http
from odoo.exceptions import UserError
from odoo.http import request

from ..models.crm_mail_oauth_mixin import PROVIDERS
from ..tools import messages

# /crm_mail_sync/oauth/microsoft, /crm_mail_sync/oauth/google: the redirect URIs
# registered with the providers.
PROVIDER_SEGMENT = f"<any({','.join(PROVIDERS)}):provider>"


class OAuthSignIn(http.Controller):
    """The two legs of "Sign in with Microsoft" or "Sign in with Google" for a
    connected mailbox; the mailbox runs the flows (``crm.mail.oauth.mixin``).

    The flow (state and PKCE verifier) is kept in the user's own session, so
    only the browser that started a sign-in can finish it.
    """

    @staticmethod
    def _session_key(provider):
        return f"crm_mail_sync_{provider}_flow"

    @staticmethod
    def _redirect_uri(provider):
        base = request.env["ir.config_parameter"].sudo().get_param("web.base.url")
        return f"{base}/crm_mail_sync/oauth/{provider}"

    @http.route(f"/crm_mail_sync/oauth/{PROVIDER_SEGMENT}/start", type="http", auth="user")
    def start(self, provider, account_id):
        account = request.env["crm.mail.account"].browse(int(account_id)).exists()
        account.check_access("write")  # the owner (or an administrator) only
        flow = account._oauth_start_sign_in(provider, self._redirect_uri(provider), login_hint=account.email)
        request.session[self._session_key(provider)] = {"flow": flow, "account_id": account.id}
        return request.redirect(flow["auth_uri"], local=False)

    @http.route(f"/crm_mail_sync/oauth/{PROVIDER_SEGMENT}", type="http", auth="user")
    def callback(self, provider, **params):
        pending = request.session.pop(self._session_key(provider), None)
        if not pending:
            raise UserError(messages.oauth_text(request.env, messages.OAUTH_NOT_STARTED, provider))
        account = request.env["crm.mail.account"].browse(pending["account_id"]).exists()
        account.check_access("write")
        account._oauth_finish_sign_in(provider, pending["flow"], params)
        return request.redirect(f"/odoo/action-crm_mail_sync.crm_mail_account_action/{account.id}")
