from odoo import api, models
from odoo.exceptions import UserError

from ..mailsync import errors as engine_errors
from ..mailsync import google_oauth, oauth
from ..tools import messages

PROVIDERS = ("microsoft", "google")


class CrmMailOauthMixin(models.AbstractModel):
    """Sign in with Microsoft or Google (OAuth 2.0), shared by the connected
    mailboxes, the outgoing servers and the sign-in controllers.

    It builds the provider's application from CRM settings (or Odoo's own
    Outlook and Gmail integrations), runs the engine's flows
    (:mod:`mailsync.oauth`, :mod:`mailsync.google_oauth`) and turns their
    :class:`mailsync.errors.OAuthError` into the user's language
    (:func:`tools.messages.describe_oauth`). ``provider`` is ``"microsoft"``
    or ``"google"`` throughout.

    A model using it says where its sign-in is kept: :meth:`_oauth_access_token`
    (a valid token for XOAUTH2), :meth:`_oauth_signed_in` and
    :meth:`_oauth_sign_in_refused` (the end of a sign-in).
    """

    _name = "crm.mail.oauth.mixin"
    _description = "Sign in with Microsoft or Google"

    # -- the provider's application -----------------------------------------
    @api.model
    def _microsoft_app(self):
        """:class:`mailsync.oauth.MicrosoftApp`; UserError when not set up."""
        params = self.env["ir.config_parameter"].sudo()
        # Ours, else the app registration of Odoo's own Outlook integration.
        app = self.env["res.config.settings"]._crm_mail_sync_oauth_app("microsoft")
        if not (app["tenant"] and app["client_id"] and app["client_secret"]):
            raise UserError(messages.oauth_text(self.env, messages.OAUTH_NOT_SET_UP, "microsoft"))
        return oauth.MicrosoftApp(
            tenant_id=app["tenant"],
            client_id=app["client_id"],
            client_secret=app["client_secret"],
            # Microsoft's login host; tests point it at a local authorization server.
            authority_host=params.get_param("crm_mail_sync.microsoft_authority_host", oauth.MICROSOFT_LOGIN),
            cafile=params.get_param("crm_mail_sync.microsoft_authority_cafile") or None,
        )

    @api.model
    def _google_app(self):
        """:class:`mailsync.google_oauth.GoogleApp`; UserError when not set up."""
        params = self.env["ir.config_parameter"].sudo()
        # Ours, else the OAuth client of Odoo's own Gmail integration.
        app = self.env["res.config.settings"]._crm_mail_sync_oauth_app("google")
        if not (app["client_id"] and app["client_secret"]):
            raise UserError(messages.oauth_text(self.env, messages.OAUTH_NOT_SET_UP, "google"))
        return google_oauth.GoogleApp(
            app["client_id"],
            app["client_secret"],
            # Google's endpoints; tests point them at a local authorization server.
            auth_url=params.get_param("crm_mail_sync.google_auth_url", google_oauth.GOOGLE_AUTH_URL),
            token_url=params.get_param("crm_mail_sync.google_token_url", google_oauth.GOOGLE_TOKEN_URL),
            cafile=params.get_param("crm_mail_sync.google_cafile") or None,
        )

    @api.model
    def _oauth_app(self, provider):
        return self._microsoft_app() if provider == "microsoft" else self._google_app()

    def _microsoft_sign_in_scopes(self):
        """The scopes *Sign in with Microsoft* asks for (msal adds ``offline_access``)."""
        return oauth.MICROSOFT_MAIL_SCOPES

    # -- the engine's flows, errors in the user's language -------------------
    def _oauth_error_message(self, error):
        """The translated message of an engine OAuthError, naming this record."""
        return messages.describe_oauth(self.env, error, self.display_name if len(self) == 1 else "")

    def _oauth_start_sign_in(self, provider, redirect_uri, login_hint=None):
        """The engine's sign-in flow (a JSON-serialisable dict whose
        ``auth_uri`` the browser opens); keep it for :meth:`_oauth_finish_sign_in`.

        :raises UserError: the provider is not set up or cannot be reached
        """
        app = self._oauth_app(provider)
        try:
            if provider == "microsoft":
                scopes = self._microsoft_sign_in_scopes()
                return oauth.start_sign_in(app, redirect_uri, scopes=scopes, login_hint=login_hint)
            return google_oauth.start_sign_in(app, redirect_uri, login_hint=login_hint)
        except engine_errors.OAuthError as error:
            raise UserError(self._oauth_error_message(error)) from None

    def _oauth_finish_sign_in(self, provider, flow, response_params):
        """Redeem the provider's redirect (its query parameters) for tokens and
        hand them to :meth:`_oauth_signed_in`, or a refusal to
        :meth:`_oauth_sign_in_refused`."""
        engine = oauth if provider == "microsoft" else google_oauth
        try:
            tokens = engine.finish_sign_in(self._oauth_app(provider), flow, response_params)
        except engine_errors.OAuthError as error:
            self._oauth_sign_in_refused(self._oauth_error_message(error))
        else:
            self._oauth_signed_in(tokens)

    def _oauth_refresh(self, provider, refresh_token, scopes=None):
        """New :class:`mailsync.oauth.Tokens` from a refresh token.

        :param scopes: Microsoft's scopes to ask (default: IMAP and SMTP)
        :raises UserError: refused (e.g. the sign-in expired) or unreachable
        """
        app = self._oauth_app(provider)
        try:
            if provider == "microsoft":
                return oauth.refresh(app, refresh_token, scopes or oauth.MICROSOFT_MAIL_SCOPES)
            return google_oauth.refresh(app, refresh_token)
        except engine_errors.OAuthError as error:
            raise UserError(self._oauth_error_message(error)) from None

    def _oauth_app_token(self):
        """An app-only Microsoft token (client credentials: Graph's Mail.Send, Mail.Read).

        :raises UserError: not set up, refused or unreachable
        """
        try:
            return oauth.app_token(self._microsoft_app()).access_token
        except engine_errors.OAuthError as error:
            raise UserError(self._oauth_error_message(error)) from None

    # -- where a model keeps its sign-in -------------------------------------
    def _oauth_access_token(self):
        """A valid access token of this record's sign-in (IMAP/SMTP XOAUTH2).

        :raises UserError: not signed in, or the sign-in was refused
        """
        raise NotImplementedError

    def _oauth_signed_in(self, tokens):
        """A sign-in finished: keep ``tokens`` (:class:`mailsync.oauth.Tokens`)."""
        raise NotImplementedError

    def _oauth_sign_in_refused(self, message):
        """A sign-in was refused: ``message`` says why, translated."""
        raise NotImplementedError
