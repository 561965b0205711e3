"""Read an Exchange Server (on-premises) mailbox through Exchange Web Services
with exchangelib, read-only, in batches, resumable at any point.

Same contract as :mod:`mailsync.imap_sync` and :mod:`mailsync.graph_sync`
(the sync core does not know which one it talks to):
:meth:`EwsMailboxSync.batches` yields :class:`mailsync.delta_sync.DeltaBatch`
objects (``folder``, ``role``, ``records`` with ``uid``, ``raw_headers`` and
``size``, ``state`` to commit with the batch, and ``fetch_bodies(uids)``).
What EWS shares with Graph's delta query (the folder table, the committed
state, batches, the folder loop, the idle poll's entry points) lives in
:mod:`mailsync.delta_sync`; this module speaks EWS.

The account: the mailbox's address with an explicit EWS URL
(``https://mail.example.com/EWS/Exchange.asmx``) or, without one,
exchangelib's Autodiscover (the POX flow: ``https://DOMAIN/Autodiscover/
Autodiscover.xml``, ``https://autodiscover.DOMAIN/...``, the HTTP redirect,
the ``_autodiscover._tcp`` SRV record); NTLM (``DOMAIN\\user``) or Basic
credentials. exchangelib asks the server's version once per endpoint (a
``ConvertId`` probe whose answer carries ``ServerVersionInfo``).

Per folder (``inbox`` and ``sentitems``, EWS's distinguished folder ids of
the mailbox) ``SyncFolderItems``
(https://learn.microsoft.com/en-us/exchange/client-developer/web-service-reference/syncfolderitems-operation):

- each answer (``MaxChangesReturned`` = the batch size) is one batch; its
  ``SyncState`` is committed with the batch it produced, so a sync killed
  mid-folder resumes from the page after the last committed one, and an idle
  mailbox costs one ``SyncFolderItems`` per folder; ``IncludesLastItemInRange``
  ends the round;
- SyncFolderItems returns first-class properties only (no body, no
  recipients: "similar to the FindItem operation"), so it is asked for ids and
  ``DateTimeReceived`` (the window) only; the header properties of the new
  items in the window (``InternetMessageId``, ``From``, ``Sender``,
  ``To``/``Cc``/``BccRecipients``, ``Subject``, ``DateTimeSent``,
  ``DateTimeReceived``, ``ConversationId``, ``InReplyTo``, ``References``,
  ``Size``) come from one ``GetItem`` per page
  (https://learn.microsoft.com/en-us/exchange/client-developer/web-service-reference/getitem-operation);
- deletions, updates and read-flag changes are ignored (read-only);
- ``ErrorInvalidSyncStateData`` (a state the server no longer knows)
  restarts the folder: the messages come again and the caller's identity
  (Message-ID, as for IMAP) keeps them from being logged twice.

Bodies: the MIME content (``item:MimeContent``) of the messages the caller
asks for only, :data:`MIME_PER_REQUEST` per ``GetItem``.

Throttling (https://learn.microsoft.com/en-us/exchange/client-developer/exchange-web-services/ews-throttling-in-exchange):
an ``ErrorServerBusy`` fault is retried after its ``BackOffMilliseconds``
(capped at ``max_retry_wait``), at most ``retries`` times, then raised as
:class:`EwsThrottled` (temporary). exchangelib runs with its ``FailFast``
policy so that a refused password is told at once (its fault-tolerant policy
retries a 401 as if the server were busy).

Errors: every failure is a :class:`mailsync.errors.MailConnectionError` with
protocol ``"EWS"`` and a stable ``code``: :class:`EwsAuthenticationFailed`
(401), :class:`EwsAccessDenied` (``ErrorAccessDenied``: signed in, but this
account may not open that mailbox), :class:`EwsMailboxNotFound`
(``ErrorNonExistentMailbox``...), :class:`EwsAutodiscoverFailed`,
:class:`EwsCertificateError` (the server's certificate is not trusted),
:class:`EwsThrottled`, :class:`~mailsync.errors.HostUnreachable`,
:class:`~mailsync.errors.ConnectionTimeout`,
:class:`~mailsync.errors.ConnectionLost` (after a first answer: the caller
resumes from its last committed state), :class:`~mailsync.errors.ProtocolError`.
"""

import contextlib
import dataclasses
import email.utils
import os
import tempfile
import threading
import time
import urllib.parse

import requests.adapters
import requests.utils
from exchangelib import BASIC, DELEGATE, NTLM, Account, Configuration, Credentials, FailFast
from exchangelib import errors as ews_errors
from exchangelib.fields import FieldPath
from exchangelib.items import Message
from exchangelib.properties import DistinguishedFolderId, Mailbox
from exchangelib.protocol import BaseProtocol, Protocol
from exchangelib.services import GetItem, SyncFolderItems

from . import delta_sync
from .errors import (
    AuthenticationFailed,
    ConnectionLost,
    ConnectionTimeout,
    HostUnreachable,
    MailConnectionError,
    ProtocolError,
    TlsError,
)

PROTOCOL = "EWS"
MAX_PAGE_SIZE = 512  # SyncFolderItems returns at most 512 changes per request
MIME_PER_REQUEST = 25  # MIME contents per GetItem: the sync core's chunk of bodies (itself bounded in bytes)
HEADER_FIELDS = (
    "message_id",
    "author",
    "sender",
    "to_recipients",
    "cc_recipients",
    "bcc_recipients",
    "subject",
    "datetime_sent",
    "datetime_received",
    "conversation_id",
    "in_reply_to",
    "references",
    "size",
)
AUTH_TYPES = {"ntlm": NTLM, "basic": BASIC}
ID_ONLY = "IdOnly"
# Codes that say the mailbox (not one item) does not exist on this server.
MAILBOX_CODES = (
    "ErrorNonExistentMailbox",
    "ErrorInvalidSmtpAddress",
    "ErrorMailRecipientNotFound",
    "ErrorMissingEmailAddress",
    "ErrorMailboxMoveInProgress",
)


class EwsAuthenticationFailed(AuthenticationFailed):
    """HTTP 401: the user name or password, or the authentication type, was refused."""

    code = "ews_auth"
    texts = {
        None: (
            "the Exchange server rejected the user name or password",
            "Check the user name (DOMAIN\\user or user@domain), the password and the authentication "
            "type (NTLM or Basic) your Exchange administrator enabled.",
        )
    }


class EwsAccessDenied(MailConnectionError):
    """``ErrorAccessDenied``: signed in, but this account may not read this mailbox."""

    code = "ews_access_denied"
    texts = {
        None: (
            "the Exchange server signed the account in but denied access to this mailbox",
            "Sign in with the mailbox's own account, or ask the Exchange administrator to give this "
            "account full access (or read permission on the Inbox and Sent Items) to the mailbox.",
        )
    }


class EwsMailboxNotFound(MailConnectionError):
    """The server has no mailbox at this address."""

    code = "ews_mailbox"
    texts = {
        None: (
            "the Exchange server has no mailbox at this address",
            "Check the email address: it must be the primary address of a mailbox on this Exchange server.",
        )
    }


class EwsAutodiscoverFailed(MailConnectionError):
    """exchangelib's Autodiscover found no EWS endpoint for the address."""

    code = "ews_autodiscover"
    texts = {
        None: (
            "Autodiscover found no Exchange server for this address",
            "Enter the EWS URL (e.g. https://mail.example.com/EWS/Exchange.asmx): your Exchange "
            "administrator or Outlook's connection status gives it.",
        )
    }


class EwsCertificateError(TlsError):
    """The EWS server's certificate is not trusted (or not for its name)."""

    code = "ews_certificate"
    texts = {
        None: (
            "the Exchange server's certificate is not trusted or does not match its name",
            "Use the server name of its certificate in the EWS URL; if the company signs its own "
            "certificates, an administrator adds the company's CA to the trusted certificates.",
        )
    }


class EwsThrottled(MailConnectionError):
    """``ErrorServerBusy`` still answered after the bounded waits: try later."""

    code = "ews_throttled"
    temporary = True
    texts = {
        None: (
            "the Exchange server asked to slow down",
            "Nothing is wrong with the settings: the sync resumes at its next run.",
        )
    }


@dataclasses.dataclass(frozen=True)
class EwsSettings(delta_sync.HttpSettings):
    """How to reach one mailbox (plus the keywords of
    :class:`~mailsync.delta_sync.HttpSettings`: ``timeout``,
    ``max_retry_wait``, ``retries``).

    :param email: the mailbox's primary SMTP address
    :param username: ``DOMAIN\\user`` (NTLM) or ``user@domain``
    :param password: the account's password
    :param auth_type: ``"ntlm"`` or ``"basic"``
    :param ews_url: the EWS endpoint; empty: exchangelib's Autodiscover
    :param cafile: an extra trusted CA bundle for the EWS host (a company
        CA; tests); the system's CAs are trusted as well
    """

    email: str
    username: str
    password: str = dataclasses.field(repr=False)
    auth_type: str = "ntlm"
    ews_url: str = ""
    cafile: str | None = None

    @property
    def host(self):
        if self.ews_url:
            return urllib.parse.urlsplit(self.ews_url).hostname or self.ews_url
        return self.email.rpartition("@")[2] or self.email

    @property
    def port(self):
        if not self.ews_url:
            return 443
        parts = urllib.parse.urlsplit(self.ews_url)
        return parts.port or (443 if parts.scheme == "https" else 80)


# -- trusting a company CA through exchangelib's documented adapter hook --------------

_TRUSTED = {}  # "host:port" -> CA bundle path
_TRUSTED_LOCK = threading.Lock()


class TrustedCaAdapter(requests.adapters.HTTPAdapter):
    """exchangelib's documented way to trust another CA
    (https://ecederstrand.github.io/exchangelib/#proxies-and-custom-tls-validation,
    ``BaseProtocol.HTTP_ADAPTER_CLS``): the CA bundle registered for a host
    by :func:`trust_ca` verifies it; every other host keeps requests'
    default (the system's CAs). Verification is never switched off."""

    @staticmethod
    def _verify_for(url, verify):
        parts = urllib.parse.urlsplit(url)
        cafile = _TRUSTED.get(f"{(parts.hostname or '').lower()}:{parts.port or 443}")
        if not cafile or not verify:
            return verify
        # The system's bundle (requests': True, or REQUESTS_CA_BUNDLE's path) plus the CA.
        return _bundle(verify if isinstance(verify, str) else requests.utils.DEFAULT_CA_BUNDLE_PATH, cafile)

    def cert_verify(self, conn, url, verify, cert):
        return super().cert_verify(conn, url, self._verify_for(url, verify), cert)

    def get_connection_with_tls_context(self, request, verify, proxies=None, cert=None):  # requests >= 2.32
        return super().get_connection_with_tls_context(
            request, self._verify_for(request.url, verify), proxies=proxies, cert=cert
        )


_BUNDLES = {}


def _bundle(base, cafile):
    """A PEM file with the certificates of ``base`` and ``cafile`` (made once per pair)."""
    key = (base, cafile)
    with _TRUSTED_LOCK:
        if key not in _BUNDLES or not os.path.exists(_BUNDLES[key]):
            pems = []
            for path in (base, cafile):
                if path and os.path.isfile(path):
                    with open(path, "rb") as file:
                        pems.append(file.read().strip() + b"\n")
            handle, name = tempfile.mkstemp(prefix="crm-mail-sync-ews-ca-", suffix=".pem")
            with os.fdopen(handle, "wb") as file:
                file.write(b"".join(pems))
            _BUNDLES[key] = name
        return _BUNDLES[key]


def trust_ca(url, cafile):
    """Trust ``cafile`` (a PEM bundle) for the host and port of ``url``."""
    parts = urllib.parse.urlsplit(url)
    with _TRUSTED_LOCK:
        _TRUSTED[f"{(parts.hostname or '').lower()}:{parts.port or 443}"] = cafile
        if BaseProtocol.HTTP_ADAPTER_CLS is requests.adapters.HTTPAdapter:
            BaseProtocol.HTTP_ADAPTER_CLS = TrustedCaAdapter


# -- errors ------------------------------------------------------------------------


class _Errors:
    """Turns exchangelib's and requests' exceptions into the typed errors."""

    def __init__(self, settings):
        self.settings = settings
        self.answered = False

    def make(self, cls, reason=None, detail=""):
        return cls(PROTOCOL, self.settings.host, self.settings.port, reason, detail)

    def convert(self, exc):
        """The typed error for ``exc`` (never raises)."""
        detail = " ".join(str(exc).split())[:300]
        if isinstance(exc, MailConnectionError):
            return exc
        if isinstance(exc, ews_errors.UnauthorizedError):
            return self.make(EwsAuthenticationFailed, None, "HTTP 401")
        if isinstance(exc, ews_errors.AutoDiscoverFailed):
            return self.make(EwsAutodiscoverFailed, None, detail)
        if isinstance(exc, ews_errors.ErrorAccessDenied):
            return self.make(EwsAccessDenied, None, f"ErrorAccessDenied: {detail}")
        name = type(exc).__name__
        if name in MAILBOX_CODES:
            return self.make(EwsMailboxNotFound, None, f"{name}: {detail}")
        if isinstance(exc, ews_errors.ErrorServerBusy):
            return self.make(EwsThrottled, None, detail)
        if isinstance(exc, ews_errors.ResponseMessageError) and not isinstance(exc, ews_errors.ErrorTimeoutExpired):
            return self.make(ProtocolError, None, f"{name}: {detail}")  # the server's refusal of one request
        if isinstance(exc, ews_errors.TransportError) and _is_certificate(detail):
            return self.make(EwsCertificateError, None, _short_tls(detail))
        if isinstance(exc, ews_errors.TransportError) and "SSL" in detail:
            return self.make(TlsError, None, _short_tls(detail))
        if isinstance(exc, ews_errors.ErrorTimeoutExpired | ews_errors.TransportError):
            # exchangelib re-raises connection errors as these: "Reraised from ConnectionError(...)"
            if self.answered:
                return self.make(ConnectionLost, None, detail)
            if "Connection refused" in detail:
                return self.make(HostUnreachable, "refused", "")
            if "Name or service not known" in detail or "getaddrinfo" in detail or "NameResolution" in detail:
                return self.make(HostUnreachable, "dns", "")
            if "timed out" in detail or "ConnectTimeout" in detail or "ReadTimeout" in detail:
                return self.make(ConnectionTimeout, None, "")
            return self.make(HostUnreachable, None, "")
        if isinstance(exc, ews_errors.RedirectError):
            return self.make(ProtocolError, None, f"redirected to {exc.url}")
        if isinstance(exc, ews_errors.ResponseMessageError | ews_errors.EWSError | ews_errors.MalformedResponseError):
            return self.make(ProtocolError, None, f"{name}: {detail}")
        return self.make(ProtocolError, None, f"{name}: {detail}")


def _is_certificate(text):
    return any(word in text for word in ("CERTIFICATE_VERIFY_FAILED", "certificate verify failed", "hostname"))


def _short_tls(text):
    for word in ("certificate verify failed", "CERTIFICATE_VERIFY_FAILED", "hostname"):
        if word in text:
            start = text.find(word)
            return text[start : start + 120].split(")")[0]
    return text[:120]


def connect(settings):
    """An exchangelib :class:`~exchangelib.Account` for ``settings``
    (delegate access, FailFast, one connection, ``settings.timeout`` seconds
    per request). Autodiscover (no ``ews_url``) asks the network here;
    otherwise nothing is sent yet.

    :raises EwsAutodiscoverFailed, EwsAuthenticationFailed, HostUnreachable...:
        the typed errors of the module
    """
    errors = _Errors(settings)
    auth_type = AUTH_TYPES.get(settings.auth_type)
    if auth_type is None:
        raise errors.make(ProtocolError, None, f"unknown authentication type {settings.auth_type!r}")
    credentials = Credentials(settings.username, settings.password)
    if settings.cafile:
        domain = settings.email.rpartition("@")[2]
        for url in (settings.ews_url,) if settings.ews_url else (f"https://{domain}", f"https://autodiscover.{domain}"):
            trust_ca(url, settings.cafile)
    config = Configuration(
        service_endpoint=settings.ews_url or None,
        credentials=credentials,
        auth_type=auth_type,
        retry_policy=FailFast(),
        max_connections=1,
    )
    if settings.ews_url:
        _forget_stale_protocol(config)
    try:
        account = Account(settings.email, config=config, autodiscover=not settings.ews_url, access_type=DELEGATE)
    except Exception as exc:  # noqa: BLE001 - everything exchangelib raises becomes a typed error
        raise errors.convert(exc) from None
    # exchangelib's requests wait BaseProtocol.TIMEOUT (120 s) unless the
    # protocol says otherwise; it reads the attribute from the instance.
    account.protocol.TIMEOUT = settings.timeout
    if settings.cafile and not settings.ews_url:  # the company CA signs the server Autodiscover named as well
        trust_ca(account.protocol.service_endpoint, settings.cafile)
    return account


def _forget_stale_protocol(config):
    """exchangelib caches one Protocol per (endpoint, credentials), whatever
    its authentication type, and caches a failure to make one: a cached
    protocol of another authentication type or policy, or a cached failure,
    is dropped so that these settings are the ones used."""
    try:
        cached, _when = Protocol[config]
    except KeyError:
        return
    stale = isinstance(cached, Exception) or (
        cached.auth_type != config.auth_type or not isinstance(cached.retry_policy, FailFast)
    )
    if stale:
        if not isinstance(cached, Exception):
            cached.close()
        with contextlib.suppress(KeyError):
            del Protocol[config]


# -- header blocks -----------------------------------------------------------------


def _mailbox(mailbox):
    if mailbox is None:
        return ""
    address = " ".join(str(getattr(mailbox, "email_address", "") or "").split())
    if not address:
        return ""
    name = " ".join(str(getattr(mailbox, "name", "") or "").split())
    if not name or name == address:
        return address
    return email.utils.formataddr((name, address), charset="utf-8")


def _mailboxes(mailboxes):
    return ", ".join(filter(None, (_mailbox(mailbox) for mailbox in mailboxes or [])))


def _date(value):
    if not value:
        return ""
    try:
        return email.utils.format_datetime(value)
    except (TypeError, ValueError):
        return ""


def header_block(item):
    """An RFC 5322 header block (bytes, CRLF, ending with an empty line) of
    an exchangelib Message with the :data:`HEADER_FIELDS`. Never raises."""
    sender = _mailbox(item.sender)
    author = _mailbox(item.author)
    fields = [
        ("From", author or sender),
        ("Sender", sender if sender and sender != author else ""),
        ("To", _mailboxes(item.to_recipients)),
        ("Cc", _mailboxes(item.cc_recipients)),
        ("Bcc", _mailboxes(item.bcc_recipients)),
        ("Subject", delta_sync.header_value(item.subject)),
        ("Date", _date(item.datetime_sent or item.datetime_received)),
        ("Message-ID", " ".join(str(item.message_id or "").split())),
        ("In-Reply-To", " ".join(str(item.in_reply_to or "").split())),
        ("References", " ".join(str(item.references or "").split())),
    ]
    return delta_sync.header_block_of(fields)


# -- state, the sync ----------------------------------------------------------------


@dataclasses.dataclass
class EwsFolderState(delta_sync.DeltaFolderState):
    """:class:`~mailsync.delta_sync.DeltaFolderState` with EWS's
    ``SyncState`` of the folder (opaque, base64) after the last committed page."""

    TOKENS = ("sync_state",)

    sync_state: str = ""

    @property
    def caught_up(self):
        """A SyncState, and the last round ended on ``IncludesLastItemInRange``."""
        return bool(self.sync_state) and self.done >= self.total


class EwsSyncState(delta_sync.DeltaSyncState):
    """:class:`~mailsync.delta_sync.DeltaSyncState` of :class:`EwsFolderState`;
    reads another kind's state as empty (a mailbox moved to EWS starts from
    its window and relogs nothing)."""

    folder_state = EwsFolderState


class EwsMailboxSync(delta_sync.DeltaMailboxSync):
    """Sync one mailbox over EWS (see the module's docstring): batches are
    :class:`~mailsync.delta_sync.DeltaBatch` objects whose records'
    ``uid`` is the EWS item id and ``size`` the item's ``item:Size``.

    :param settings: :class:`EwsSettings`
    :param state: the last committed :class:`EwsSyncState` (or any
        SyncState: converted; None: first sync)
    :param since: ``datetime.date``: the first round takes what was
        received since then (None: everything)
    :param batch_size: changes per ``SyncFolderItems`` (at most 512), hence per batch
    :param account: an exchangelib Account already made (else :func:`connect`)
    """

    state_class = EwsSyncState

    def __init__(self, settings, state=None, since=None, batch_size=delta_sync.DEFAULT_PAGE_SIZE, account=None):
        super().__init__(settings, state, since, batch_size)
        self.batch_size = min(self.batch_size, MAX_PAGE_SIZE)
        self.errors = _Errors(settings)
        self._account = account
        self.requests = 0  # EWS operations sent (tests, benchmarks)

    def close(self):
        self._account = None  # exchangelib keeps its protocol (and sessions) cached per endpoint

    @property
    def account(self):
        if self._account is None:
            self._account = connect(self.settings)
        return self._account

    def _call(self, operation):
        """Run ``operation()`` (which sends one EWS request and consumes its
        answer), waiting out ErrorServerBusy's BackOffMilliseconds within
        the bounds; exchangelib's and the network's errors become typed errors."""
        for attempt in range(self.settings.retries + 1):
            self.requests += 1
            try:
                result = operation()
            except ews_errors.ErrorServerBusy as exc:
                if str(exc).startswith("Reraised from"):  # a connection error, not the server's words
                    raise self.errors.convert(ews_errors.ErrorTimeoutExpired(str(exc))) from None
                wait = exc.back_off if exc.back_off is not None else 5.0
                if not self.settings.will_wait(attempt, wait):
                    raise self.errors.make(EwsThrottled, None, f"ErrorServerBusy, back off {wait:g} s") from None
                time.sleep(wait)
                continue
            except MailConnectionError:
                raise
            except Exception as exc:  # noqa: BLE001 - every library failure becomes a typed error
                raise self.errors.convert(exc) from None
            self.errors.answered = True
            return result
        raise AssertionError("unreachable")  # pragma: no cover

    def _folder_id(self, folder):
        return DistinguishedFolderId(id=folder, mailbox=Mailbox(email_address=self.settings.email))

    def _fields(self, names):
        return [FieldPath(field=Message.get_field_by_fieldname(name)) for name in names]

    def _sync_folder_items(self, folder, sync_state, max_changes, fields=(), sync_scope="NormalItems"):
        """One ``SyncFolderItems`` of ``folder`` from ``sync_state`` (empty:
        the folder's beginning), ids only plus the message ``fields``
        (exchangelib field names).

        :returns: ``(service, [(change type, item)])``; ``service`` holds the
            answer's ``sync_state`` and ``includes_last_item_in_range``
        :raises ProtocolError: the server refused the request (its code, e.g.
            ``ErrorInvalidSyncStateData``, in ``detail``); else the module's
            typed errors
        """
        service = SyncFolderItems(account=self.account)
        changes = self._call(
            lambda: list(
                _raise_in(
                    service.call(
                        folder=self._folder_id(folder),
                        shape=ID_ONLY,
                        additional_fields=self._fields(fields),
                        sync_state=sync_state or None,
                        ignore=None,
                        max_changes_returned=max_changes,
                        sync_scope=sync_scope,
                    )
                )
            )
        )
        return service, changes

    def check(self):
        """One SyncFolderItems of at most one change on the inbox (Test
        Connection): raises the typed error when the mailbox cannot be read.
        Returns True. Nothing is committed."""
        self._sync_folder_items("inbox", "", 1, sync_scope=None)
        return True

    def _folder_changed(self, folder, state):
        """The idle poll of one folder: one ``SyncFolderItems`` from its
        committed ``SyncState``, asking at most
        :data:`~mailsync.delta_sync.PROBE_PAGE_SIZE` changes, ids only. The
        answer's new SyncState is thrown away (nothing committed): the full
        sync asks from the same state, which the server keeps valid.

        False (nothing new): no ``Create`` nor ``Update`` and
        ``IncludesLastItemInRange``. True: a created or updated item, more
        changes than asked, or a state the server no longer knows
        (``ErrorInvalidSyncStateData``: the full sync restarts the folder)."""
        try:
            service, changes = self._sync_folder_items(folder, state.sync_state, delta_sync.PROBE_PAGE_SIZE)
        except ProtocolError as error:
            if "ErrorInvalidSyncStateData" in error.detail:
                return True
            raise
        if any(change in (SyncFolderItems.CREATE, SyncFolderItems.UPDATE) for change, _item in changes):
            return True
        return not service.includes_last_item_in_range

    def _folder_pages(self, folder, role, state):
        """One page per ``SyncFolderItems`` of :attr:`batch_size` changes:
        the new items received in the window (deletions, updates and flags
        change nothing here), their headers by :meth:`_records`. A round
        ends on ``IncludesLastItemInRange`` (or a SyncState that no longer
        moves); ``ErrorInvalidSyncStateData`` restarts the folder once."""
        if not state.sync_state:
            state.total = state.done = 0
        restarted = False
        while True:
            previous = state.sync_state
            try:
                service, changes = self._sync_folder_items(folder, previous, self.batch_size, ["datetime_received"])
            except ProtocolError as error:
                if restarted or not previous or "ErrorInvalidSyncStateData" not in error.detail:
                    raise
                # The server no longer knows this state: start the folder again.
                restarted = True
                state.restart()
                continue
            ids = []
            for change_type, item in changes:
                if change_type != SyncFolderItems.CREATE or not getattr(item, "id", None):
                    continue  # read-only: deletions, updates and flags change nothing here
                received = getattr(item, "datetime_received", None)
                if self.since and received and received.date() < self.since:
                    continue  # older than the window
                ids.append((item.id, item.changekey))
            records = self._records(folder, role, ids)
            last = bool(service.includes_last_item_in_range) or service.sync_state == previous
            state.sync_state = service.sync_state or previous
            yield records, last
            if last:
                return

    def _records(self, folder, role, ids):
        """The header records of these items, in the order asked (one GetItem)."""
        if not ids:
            return []
        service = GetItem(account=self.account, chunk_size=MAX_PAGE_SIZE)
        items = self._call(
            lambda: list(service.call(items=ids, additional_fields=self._fields(HEADER_FIELDS), shape=ID_ONLY))
        )
        records = []
        for item in items:
            if isinstance(item, ews_errors.ErrorItemNotFound) or item is None:
                continue  # deleted since the sync listed it
            if isinstance(item, Exception):
                raise self.errors.convert(item)
            conversation = getattr(item.conversation_id, "id", "") if item.conversation_id else ""
            records.append(
                delta_sync.DeltaRecord(
                    folder=folder,
                    role=role,
                    uid=str(item.id),
                    raw_headers=header_block(item),
                    size=int(item.size or 0),
                    conversation_id=str(conversation or ""),
                )
            )
        return records

    def fetch_bodies(self, uids):
        """``{item id: raw MIME bytes}``, :data:`MIME_PER_REQUEST` per GetItem;
        an item gone meanwhile is absent."""
        found = {}
        uids = [str(uid) for uid in uids]
        fields = self._fields(["mime_content"])
        for start in range(0, len(uids), MIME_PER_REQUEST):
            chunk = uids[start : start + MIME_PER_REQUEST]
            service = GetItem(account=self.account, chunk_size=MIME_PER_REQUEST)
            items = self._call(
                lambda chunk=chunk, service=service: list(
                    service.call(items=[(uid, None) for uid in chunk], additional_fields=fields, shape=ID_ONLY)
                )
            )
            for uid, item in zip(chunk, items, strict=False):
                if item is None or isinstance(item, ews_errors.ErrorItemNotFound):
                    continue
                if isinstance(item, Exception):
                    raise self.errors.convert(item)
                if item.mime_content:
                    found[str(item.id or uid)] = bytes(item.mime_content)
        return found


def _raise_in(results):
    """exchangelib yields a refused response message as an exception instance
    (for the errors it "catches in response"): raise it."""
    for result in results:
        if isinstance(result, Exception):
            raise result
        yield result


# The module's entry points, as mailsync.imap_sync's (``account=``: an
# exchangelib Account already made): the idle poll of one mailbox from its
# committed EwsSyncState, of many at once (``[(EwsSettings, EwsSyncState)]``),
# and whole messages by item id for *Retry*.
changed = EwsMailboxSync.probe
poll = EwsMailboxSync.poll
fetch_messages = EwsMailboxSync.fetch_messages
