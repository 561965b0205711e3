import contextlib
import functools
from collections.abc import Callable
from types import ModuleType
from typing import NamedTuple

from odoo import api, models
from odoo.exceptions import UserError

from ..mailsync import errors as engine_errors
from . import crm_mail_account_sync as sync_core


class WebApi(NamedTuple):
    """How one kind of mailbox is read through a web API, by item id
    (Microsoft Graph, Exchange Web Services). Its values name themselves,
    in this order:

    - ``engine``: the engine's module (``mailsync.graph_sync``,
      ``mailsync.ews_sync``), with ``changed(settings, state)`` (the idle
      poll, a bool) and ``fetch_messages(settings, ids)`` (``{id: raw
      bytes}`` of the ids still in the mailbox)
    - ``state``: its folder-state class, ``state.from_json(sync_state)``
      (the delta links or SyncStates: ``sync_state`` holds them itself)
    - ``reader``: its reader class, ``reader(settings, state=None,
      since=None, batch_size=n)``, a context manager with ``batches()`` (see
      ``crm.mail.account._mail_reader``) and ``check()`` (one request to
      the inbox; raises :class:`mailsync.errors.MailConnectionError`)
    - ``settings``: the name of the mailbox's method that makes the
      engine's settings (raises ``UserError``: not signed in, no password)
    - ``failure(env, error)``: the translated text of an engine failure
    - ``connected(account, settings)``: the translated text of a
      successful Test Connection
    """

    engine: ModuleType
    state: type
    reader: type
    settings: str
    failure: Callable
    connected: Callable


def connection_failure(env, api, settings):
    """One request to the inbox of the mailbox of ``settings`` (a
    :class:`WebApi`'s kind): None when it answers, else why not (translated,
    ``api.failure``). Test Connection of the mailbox and of the setup wizard."""
    try:
        with api.reader(settings) as reader:
            reader.check()
    except engine_errors.MailConnectionError as error:
        return api.failure(env, error)
    return None


class CrmMailAccountWeb(models.Model):
    """What the kinds of mailbox read through a web API by item id (Graph,
    EWS) do alike: their reader, idle poll, *Retry* and Test Connection.
    Each such kind adds its :class:`WebApi` to :meth:`_web_apis`."""

    _inherit = "crm.mail.account"

    @api.model
    def _web_apis(self):
        """``{kind: WebApi}`` of the kinds read through a web API; each such
        kind adds its own."""
        return {}

    def _web_api(self):
        """The :class:`WebApi` of this mailbox's kind, or None when it is not
        read through a web API (IMAP, company logging)."""
        return self._web_apis().get(self.kind)

    def _web_settings(self, api):
        return getattr(self, api.settings)()

    # -- the sync's reader -------------------------------------------------
    @contextlib.contextmanager
    def _mail_reader(self, state):
        """A Graph or EWS mailbox's reader (else super()'s). Its folder state
        is read from ``sync_state`` itself: the IMAP ``state`` passed in does
        not carry the delta links or SyncStates."""
        api = self._web_api()
        if api is None:
            with super()._mail_reader(state) as reader:
                yield reader
            return
        web_state = api.state.from_json(self.sudo().sync_state)
        with api.reader(
            self._web_settings(api), web_state, since=self.sync_since, batch_size=sync_core.BATCH_SIZE
        ) as reader:
            yield reader

    def _idle_probe(self):
        """A Graph or EWS mailbox's idle poll: one request per folder on its
        committed delta links or SyncStates (``changed`` of
        :mod:`mailsync.graph_sync` or :mod:`mailsync.ews_sync`); the token or
        password is read here, in the cron's thread."""
        api = self._web_api()
        if api is None:
            return super()._idle_probe()
        state = api.state.from_json(self.sudo().sync_state)
        return functools.partial(api.engine.changed, self._web_settings(api), state)

    def _fetch_again(self, wanted):
        """*Retry* for a Graph or EWS mailbox: messages read again by id
        (``uidvalidity`` is always "1")."""
        api = self._web_api()
        if api is None:
            return super()._fetch_again(wanted)
        ids = [uid for uids in wanted.values() for uid in uids]
        bodies = api.engine.fetch_messages(self._web_settings(api), ids)
        return {folder: ("1", {uid: bodies[uid] for uid in uids if uid in bodies}) for folder, uids in wanted.items()}

    # -- Test Connection ---------------------------------------------------
    def action_test_connection(self):
        """For a Graph or EWS mailbox: one request to its inbox."""
        api = self._web_api()
        if api is None:
            return super().action_test_connection()
        try:
            settings = self._web_settings(api)
            failure = connection_failure(self.env, api, settings)
        except UserError as error:
            failure = error.args[0]
        if failure:
            return self._connection_failed(failure)
        self.sudo().write({"state": "connected", "last_error": False, "sent_folder_missing": False})
        return self._notify(api.connected(self, settings), "success")
