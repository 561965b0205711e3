"""Read an Exchange Online / Microsoft 365 / Outlook.com mailbox through
Microsoft Graph, read-only, in batches, resumable at any point.

Same contract as :mod:`mailsync.imap_sync` (the sync core does not know
which one it talks to): :meth:`GraphMailboxSync.batches` yields
:class:`mailsync.delta_sync.DeltaBatch` objects (``folder``, ``role``,
``records`` with ``uid``, ``raw_headers`` and ``size``, ``state`` to commit
with the batch, and ``fetch_bodies(uids)``). What Graph's delta query shares
with EWS's SyncFolderItems (the folder table, the committed state, batches,
the folder loop, the idle poll's entry points) lives in
:mod:`mailsync.delta_sync`; this module speaks Graph.

Per folder (``inbox`` and ``sentitems``, Graph's well-known folder names) a
delta query (https://learn.microsoft.com/en-us/graph/delta-query-messages,
https://learn.microsoft.com/en-us/graph/api/message-delta):

- the first round asks ``GET {base}/users/{mailbox}/mailFolders/{folder}/
  messages/delta`` (``/me/...`` for a delegated token) with
  ``changeType=created``, ``$filter=receivedDateTime ge {window}`` and a
  ``$select`` of the header properties only; headers ``Prefer:
  IdType="ImmutableId"`` (ids that survive a move,
  https://learn.microsoft.com/en-us/graph/outlook-immutable-id) and
  ``Prefer: odata.maxpagesize={page_size}``;
- each page is one batch; its ``@odata.nextLink`` is kept in the folder
  state (a sync killed mid-round resumes from the page after the last
  committed one), and the last page's ``@odata.deltaLink`` is committed with
  the batch it produced; the next sync asks only the deltaLink (an idle
  mailbox costs one request per folder);
- ``@removed`` entries are ignored (the sync is read-only and never forgets
  what it logged);
- ``410 Gone`` (``syncStateNotFound``, ``resyncRequired``: the state token
  expired) restarts the folder from the window: the messages come again and
  the caller's identity (Message-ID, as for IMAP) keeps them from being
  logged twice.

Header blocks: the message's own ``internetMessageHeaders`` when Graph gives
them (they carry In-Reply-To and References), else an RFC 5322 block
synthesized from the JSON properties (From, Sender, To, Cc, Bcc, Subject,
Date, Message-ID), which :func:`mailsync.message.parse_headers` reads as it
reads IMAP's; the identity is the Message-ID either way, so a mailbox moved
from IMAP to Graph logs nothing again.

Bodies: the MIME of the messages the caller asks for only
(``/messages/{id}/$value``), 20 per JSON batch request
(https://learn.microsoft.com/en-us/graph/json-batching).

Throttling (https://learn.microsoft.com/en-us/graph/throttling): a 429 or
503 is retried after its ``Retry-After`` (seconds, capped at
``max_retry_wait``), at most ``retries`` times, then raised as
:class:`GraphThrottled` (temporary).

Errors: every failure is a :class:`mailsync.errors.MailConnectionError`
with protocol ``"Graph"``: :class:`GraphTokenRefused` (401),
:class:`GraphConsentMissing` (403), :class:`GraphMailboxNotFound` (404 on the
mailbox), :class:`GraphThrottled`, :class:`~mailsync.errors.HostUnreachable`,
:class:`~mailsync.errors.ConnectionTimeout`, :class:`~mailsync.errors.TlsError`,
:class:`~mailsync.errors.ConnectionLost` (dropped after the first answer:
the caller resumes from its last committed state),
:class:`~mailsync.errors.ProtocolError` (anything else Graph should not say).
"""

import base64
import binascii
import dataclasses
import datetime
import email.utils
import time
import urllib.parse

import requests

from . import errors
from .delta_sync import (
    DEFAULT_PAGE_SIZE,
    PROBE_PAGE_SIZE,
    DeltaFolderState,
    DeltaMailboxSync,
    DeltaRecord,
    DeltaSyncState,
    HttpSettings,
    header_block_of,
    header_value,
)
from .graph import GRAPH_URL

PROTOCOL = "Graph"
BODIES_PER_BATCH = 20  # JSON batching's limit of requests per $batch
SELECT = (
    "internetMessageId",
    "from",
    "sender",
    "toRecipients",
    "ccRecipients",
    "bccRecipients",
    "subject",
    "receivedDateTime",
    "sentDateTime",
    "conversationId",
    "parentFolderId",
)
# Returned only when selected (message resource); delta may refuse it (400):
# then the header block is synthesized from the properties above.
HEADERS_PROPERTY = "internetMessageHeaders"
# Header fields kept from internetMessageHeaders, as imap_sync.HEADER_FIELDS.
KEPT_HEADERS = ("from", "sender", "to", "cc", "bcc", "date", "message-id", "in-reply-to", "references", "subject")
IMMUTABLE_IDS = 'IdType="ImmutableId"'
# Graph's codes for an expired or unknown delta state (410 Gone).
RESYNC_CODES = {"syncstatenotfound", "resyncrequired", "syncstateinvalid"}
# 404 codes that mean the mailbox itself is unknown (not one message).
MAILBOX_CODES = {"errorinvaliduser", "mailboxnotenabledforrestapi", "mailboxnotsupportedforrestapi", "resourcenotfound"}


class GraphConsentMissing(errors.MailConnectionError):
    """403: the token lacks the Mail.Read permission (delegated: the user
    or the administrator has not consented; application: no admin consent,
    or an application access policy excludes this mailbox)."""

    code = "graph_consent"
    texts = {
        None: (
            "Microsoft Graph refused to read this mailbox (permission Mail.Read missing)",
            "Grant the app registration the Mail.Read permission (delegated, or application with "
            "admin consent) and check any application access policy, then sign in again.",
        )
    }


class GraphMailboxNotFound(errors.MailConnectionError):
    """404 on the mailbox: no such user, or no Exchange Online mailbox."""

    code = "graph_mailbox"
    texts = {
        None: (
            "Microsoft Graph does not know this mailbox",
            "Check the address: it must be a mailbox of your Microsoft 365 organisation or an Outlook.com account.",
        )
    }


class GraphThrottled(errors.MailConnectionError):
    """429/503 still refused after the bounded waits: try later."""

    code = "graph_throttled"
    temporary = True
    texts = {
        None: (
            "Microsoft Graph asked to slow down",
            "Nothing is wrong with the settings: the sync resumes at its next run.",
        )
    }


class GraphTokenRefused(errors.AuthenticationFailed):
    """401: the access token was refused (expired, revoked, another tenant)."""

    code = "graph_token"
    texts = {
        None: (
            "Microsoft Graph refused the access token",
            "Sign in with Microsoft again; for a company-wide mailbox, an administrator checks the app "
            "registration (tenant ID, client ID, client secret).",
        )
    }


@dataclasses.dataclass(frozen=True)
class GraphSettings(HttpSettings):
    """How to reach one mailbox (plus the keywords of
    :class:`~mailsync.delta_sync.HttpSettings`: ``timeout``,
    ``max_retry_wait``, ``retries``).

    :param access_token: a Graph token (delegated ``Mail.Read`` or app-only
        with the application permission ``Mail.Read``)
    :param mailbox: the mailbox's address (or user id) for an app-only token;
        None for a delegated token (``/me``)
    :param base_url: Graph's root with its version (tests: the local server)
    :param cafile: the CA bundle that verifies Graph's certificate instead of
        the system's (tests)
    """

    access_token: str = dataclasses.field(repr=False)
    mailbox: str | None = None
    base_url: str = GRAPH_URL
    cafile: str | None = None

    @property
    def host(self):
        return urllib.parse.urlsplit(self.base_url).hostname or self.base_url

    @property
    def port(self):
        parts = urllib.parse.urlsplit(self.base_url)
        return parts.port or (443 if parts.scheme == "https" else 80)

    @property
    def root(self):
        """The mailbox's path: ``/users/{mailbox}`` or ``/me``."""
        return f"/users/{urllib.parse.quote(self.mailbox, safe='@')}" if self.mailbox else "/me"


@dataclasses.dataclass
class GraphFolderState(DeltaFolderState):
    """:class:`~mailsync.delta_sync.DeltaFolderState` with the delta links:
    during a round, ``next_link`` (the page after the last committed one);
    between rounds, ``delta_link``. Immutable ids do not change (a restarted
    delta gives the same ids)."""

    TOKENS = ("delta_link", "next_link")

    delta_link: str = ""
    next_link: str = ""

    @property
    def caught_up(self):
        """A deltaLink, and no nextLink pending."""
        return bool(self.delta_link) and not self.next_link


class GraphSyncState(DeltaSyncState):
    """:class:`~mailsync.delta_sync.DeltaSyncState` of :class:`GraphFolderState`;
    reads another kind's state (IMAP, EWS) as empty, so a mailbox moved to
    Graph starts from its window (and relogs nothing)."""

    folder_state = GraphFolderState


class GraphClient:
    """HTTP to Graph with typed errors and bounded ``Retry-After`` waits."""

    def __init__(self, settings, session=None):
        self.settings = settings
        self.session = session or requests.Session()
        self._answered = False
        self.requests = 0  # HTTP requests sent (for benchmarks and tests)

    def close(self):
        self.session.close()

    def _error(self, cls, reason=None, detail=""):
        return cls(PROTOCOL, self.settings.host, self.settings.port, reason, detail)

    def _headers(self, extra=None):
        headers = {
            "Authorization": f"Bearer {self.settings.access_token}",
            "Prefer": IMMUTABLE_IDS,
            "Accept": "application/json",
        }
        headers.update(extra or {})
        return headers

    def request(self, method, url, *, json_body=None, prefer=None):
        """One Graph request (``url`` absolute, or a path under base_url),
        retried after Retry-After on 429/503. Returns the response of any
        other status (the caller reads it); raises the typed errors."""
        if not url.startswith(("http://", "https://")):
            url = self.settings.base_url.rstrip("/") + url
        headers = self._headers({"Prefer": ", ".join([IMMUTABLE_IDS, *([prefer] if prefer else [])])})
        for attempt in range(self.settings.retries + 1):
            response = self._send(method, url, headers, json_body)
            if response.status_code not in (429, 503):
                return response
            wait = retry_after(response.headers.get("Retry-After"))
            if not self.settings.will_wait(attempt, wait):
                raise self._error(GraphThrottled, None, _graph_detail(response))
            time.sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    def _send(self, method, url, headers, json_body):
        settings = self.settings
        self.requests += 1
        try:
            response = self.session.request(
                method, url, headers=headers, json=json_body, verify=settings.cafile or True, timeout=settings.timeout
            )
        except requests.exceptions.SSLError as exc:
            raise self._error(errors.TlsError, "certificate", type(exc).__name__) from None
        except requests.exceptions.ConnectTimeout:
            raise self._error(errors.ConnectionTimeout) from None
        except requests.exceptions.ReadTimeout:
            raise self._error(errors.ConnectionTimeout) from None
        except requests.exceptions.ConnectionError as exc:
            if self._answered:
                raise self._error(errors.ConnectionLost, None, type(exc).__name__) from None
            raise self._error(errors.HostUnreachable, None, type(exc).__name__) from None
        except requests.RequestException as exc:
            raise self._error(errors.ProtocolError, None, type(exc).__name__) from None
        self._answered = True
        return response

    def raise_for_mailbox(self, response):
        """Raise the typed error for a refusal about the mailbox itself."""
        status = response.status_code
        detail = _graph_detail(response)
        if status == 401:
            raise self._error(GraphTokenRefused, None, detail)
        if status == 403:
            raise self._error(GraphConsentMissing, None, detail)
        if status == 404:
            raise self._error(GraphMailboxNotFound, None, detail)
        raise self._error(errors.ProtocolError, None, detail or f"HTTP {status}")

    def json(self, response):
        try:
            data = response.json()
        except ValueError:
            raise self._error(errors.ProtocolError, None, f"HTTP {response.status_code}: not JSON") from None
        if not isinstance(data, dict):
            raise self._error(errors.ProtocolError, None, f"HTTP {response.status_code}: not a JSON object")
        return data


def retry_after(value, default=5.0):
    """Seconds to wait from a ``Retry-After`` header (RFC 9110 10.2.3:
    delay-seconds or an HTTP date); ``default`` when absent or unreadable."""
    if not value:
        return default
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return default
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.UTC)
    return max(0.0, (when - datetime.datetime.now(datetime.UTC)).total_seconds())


def _graph_error(response):
    try:
        error = response.json().get("error") or {}
    except (ValueError, AttributeError):
        return {}
    return error if isinstance(error, dict) else {}


def _graph_detail(response):
    error = _graph_error(response)
    return ": ".join(str(part) for part in (error.get("code"), error.get("message")) if part)


# -- header blocks -----------------------------------------------------------------


def _address(recipient):
    address = (recipient or {}).get("emailAddress") or {}
    mailbox = " ".join(str(address.get("address") or "").split())
    if not mailbox:
        return ""
    name = address.get("name") or ""
    if not name or name == mailbox:
        return mailbox
    return email.utils.formataddr((" ".join(str(name).split()), mailbox), charset="utf-8")


def _graph_date(value):
    """An RFC 5322 date from Graph's ISO 8601 UTC time, or ''."""
    try:
        when = datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return ""
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.UTC)
    return email.utils.format_datetime(when)


def header_block(item):
    """An RFC 5322 header block (bytes, CRLF, ending with an empty line) of a
    Graph message resource (a dict): its own ``internetMessageHeaders`` where
    present (only the fields of :data:`KEPT_HEADERS`), else synthesized from
    ``from``, ``sender``, ``toRecipients``, ``ccRecipients``,
    ``bccRecipients``, ``subject``, ``sentDateTime`` (else
    ``receivedDateTime``) and ``internetMessageId``. Never raises."""
    lines = []
    own = item.get(HEADERS_PROPERTY)
    if isinstance(own, list) and own:
        for header in own:
            if not isinstance(header, dict):
                continue
            name, value = str(header.get("name") or ""), str(header.get("value") or "")
            if name.lower() in KEPT_HEADERS and name.isascii() and name.strip() == name and name:
                lines.append(f"{name}: {' '.join(value.split())}")
    if lines:  # the message's own lines, as they are
        return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8", "replace")
    return header_block_of(
        [
            ("From", _address(item.get("from"))),
            ("Sender", _address(item.get("sender")) if item.get("sender") != item.get("from") else ""),
            ("To", ", ".join(filter(None, map(_address, item.get("toRecipients") or [])))),
            ("Cc", ", ".join(filter(None, map(_address, item.get("ccRecipients") or [])))),
            ("Bcc", ", ".join(filter(None, map(_address, item.get("bccRecipients") or [])))),
            ("Subject", header_value(item.get("subject"))),
            ("Date", _graph_date(item.get("sentDateTime") or item.get("receivedDateTime"))),
            ("Message-ID", " ".join(str(item.get("internetMessageId") or "").split())),
        ]
    )


# -- the sync ----------------------------------------------------------------------


class GraphMailboxSync(DeltaMailboxSync):
    """Sync one mailbox over Graph (see the module's docstring): batches are
    :class:`~mailsync.delta_sync.DeltaBatch` objects whose records' ``uid``
    is the message's immutable id and ``size`` 0 (Graph does not say it
    before the download).

    :param settings: :class:`GraphSettings`
    :param state: the last committed :class:`GraphSyncState` (or any
        SyncState: converted; None: first sync)
    :param since: ``datetime.date``: the first round takes what was
        received since then (None: everything)
    :param batch_size: messages per page (``odata.maxpagesize``), hence per batch
    :param session: a requests Session to send through (else a new one)
    """

    state_class = GraphSyncState

    def __init__(self, settings, state=None, since=None, batch_size=DEFAULT_PAGE_SIZE, session=None):
        super().__init__(settings, state, since, batch_size)
        self.client = GraphClient(settings, session)
        self._headers_refused = False

    def close(self):
        self.client.close()

    # -- headers ---------------------------------------------------------
    def _first_url(self, folder):
        select = list(SELECT) + ([] if self._headers_refused else [HEADERS_PROPERTY])
        query = {"changeType": "created", "$select": ",".join(select)}
        if self.since:
            query["$filter"] = f"receivedDateTime ge {self.since.isoformat()}T00:00:00Z"
        path = f"{self.settings.root}/mailFolders/{folder}/messages/delta"
        return path + "?" + urllib.parse.urlencode(query, safe="$,:")

    def check(self):
        """One request to the inbox (Test Connection): raises the typed error
        when the mailbox cannot be read; returns its display name."""
        response = self.client.request("GET", f"{self.settings.root}/mailFolders/inbox?$select=displayName")
        if response.status_code != 200:
            self.client.raise_for_mailbox(response)
        return self.client.json(response).get("displayName") or "Inbox"

    def _folder_changed(self, folder, state):
        """The idle poll of one folder: one request on its committed
        deltaLink, asking :data:`~mailsync.delta_sync.PROBE_PAGE_SIZE`
        entries. Graph keeps a deltaLink valid after use
        (https://learn.microsoft.com/en-us/graph/delta-query-overview,
        "State tokens"), so the probe's own links are thrown away and nothing
        is consumed nor committed: the full sync asks the same deltaLink.

        False (nothing new): one page without ``@odata.nextLink`` whose
        ``value`` holds ``@removed`` entries only. True: a new or changed
        message, an expired state (410) or any other answer than 200 (the
        full sync finds out and reports it). Raises the module's typed errors
        (network, throttling beyond the bounded waits)."""
        response = self.client.request("GET", state.delta_link, prefer=f"odata.maxpagesize={PROBE_PAGE_SIZE}")
        if response.status_code != 200:
            return True
        page = self.client.json(response)
        if page.get("@odata.nextLink") or not page.get("@odata.deltaLink"):
            return True
        items = page.get("value")
        removed_only = isinstance(items, list) and all(isinstance(item, dict) and "@removed" in item for item in items)
        return not removed_only  # else a message created or changed

    def _folder_pages(self, folder, role, state):
        """One page per delta request of :attr:`batch_size` messages: the
        first round from :meth:`_first_url` (the window), a pending round
        from its nextLink, a new round from the deltaLink. ``410 Gone`` (or
        a resync code) restarts the folder once; a 400 naming
        ``internetMessageHeaders`` drops it from ``$select``."""
        restarted = False
        url = state.next_link or state.delta_link or ""
        if not url:
            state.total = state.done = 0
        if state.delta_link and not state.next_link:
            state.done = state.total = 0  # a new round: count what it brings
        while True:
            response = self.client.request(
                "GET", url or self._first_url(folder), prefer=f"odata.maxpagesize={self.batch_size}"
            )
            status = response.status_code
            if status == 410 or (status in (400, 404) and _is_resync(response) and url):
                if restarted:
                    raise self.client._error(errors.ProtocolError, None, _graph_detail(response))
                # The delta state expired: start the folder again from the window.
                restarted = True
                state.restart()
                url = ""
                continue
            if status == 400 and not url and not self._headers_refused and _mentions_headers(response):
                self._headers_refused = True  # synthesize the header block instead
                continue
            if status != 200:
                self.client.raise_for_mailbox(response)
            page = self.client.json(response)
            records = self._records(folder, role, page.get("value"))
            next_link = page.get("@odata.nextLink") or ""
            delta_link = page.get("@odata.deltaLink") or ""
            if not (next_link or delta_link):
                raise self.client._error(errors.ProtocolError, None, "a delta page without nextLink nor deltaLink")
            state.next_link = next_link
            if not next_link:
                state.delta_link = delta_link
            yield records, not next_link
            if not next_link:
                return
            url = next_link

    def _records(self, folder, role, items):
        records = []
        for item in items if isinstance(items, list) else []:
            if not isinstance(item, dict) or "@removed" in item or not item.get("id"):
                continue  # deleted or moved away: read-only, nothing to do
            records.append(
                DeltaRecord(
                    folder=folder,
                    role=role,
                    uid=str(item["id"]),
                    raw_headers=header_block(item),
                    conversation_id=str(item.get("conversationId") or ""),
                )
            )
        return records

    # -- bodies ----------------------------------------------------------
    def fetch_bodies(self, uids):
        """``{id: raw MIME bytes}`` for these message ids, 20 per ``$batch``;
        a message gone meanwhile (404) is absent; a throttled sub-request is
        asked again after its Retry-After (bounded)."""
        found = {}
        uids = [str(uid) for uid in uids]
        for start in range(0, len(uids), BODIES_PER_BATCH):
            found.update(self._body_batch(uids[start : start + BODIES_PER_BATCH]))
        return found

    def _body_batch(self, uids):
        found = {}
        pending = list(uids)
        for attempt in range(self.settings.retries + 1):
            requests_ = [
                {
                    "id": str(index),
                    "method": "GET",
                    "url": f"{self.settings.root}/messages/{urllib.parse.quote(uid, safe='')}/$value",
                    "headers": {"Prefer": IMMUTABLE_IDS},
                }
                for index, uid in enumerate(pending)
            ]
            response = self.client.request("POST", "/$batch", json_body={"requests": requests_})
            if response.status_code != 200:
                self.client.raise_for_mailbox(response)
            answers = self.client.json(response).get("responses")
            throttled, wait = [], 0.0
            for answer in answers if isinstance(answers, list) else []:
                if not isinstance(answer, dict):
                    continue
                try:
                    uid = pending[int(answer.get("id"))]
                except (TypeError, ValueError, IndexError):
                    continue
                status = answer.get("status")
                headers = {str(k).lower(): v for k, v in (answer.get("headers") or {}).items()}
                if status == 200:
                    raw = _batch_body(answer.get("body"), headers.get("content-type", ""))
                    if raw is not None:
                        found[uid] = raw
                elif status in (429, 503):
                    throttled.append(uid)
                    wait = max(wait, retry_after(headers.get("retry-after")))
                elif status in (401, 403):
                    fake = _Answer(status, answer.get("body"))
                    self.client.raise_for_mailbox(fake)
                # 404: deleted since the delta; anything else: left out, logged from nothing
            if not throttled:
                return found
            if not self.settings.will_wait(attempt, wait):
                raise self.client._error(GraphThrottled, None, f"{len(throttled)} messages throttled in $batch")
            time.sleep(wait)
            pending = throttled
        return found


class _Answer:
    """A $batch sub-response seen as a response for :meth:`GraphClient.raise_for_mailbox`."""

    def __init__(self, status, body):
        self.status_code = status
        self._body = body

    def json(self):
        if isinstance(self._body, dict):
            return self._body
        raise ValueError("no JSON body")


def _batch_body(body, content_type):
    """The bytes of a $batch sub-response body: JSON batching returns a
    non-JSON body base64-encoded (json-batching, "Response format"); a
    plain string that is not base64 is taken as text."""
    if body is None:
        return None
    if isinstance(body, dict | list):
        return None  # JSON where MIME was expected
    text = str(body)
    if "json" in content_type.lower():
        return None
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return text.encode("utf-8", "surrogateescape")


def _is_resync(response):
    return str(_graph_error(response).get("code") or "").lower() in RESYNC_CODES


def _mentions_headers(response):
    return HEADERS_PROPERTY.lower() in _graph_detail(response).lower()


# The module's entry points, as mailsync.imap_sync's (``session=``: a
# requests Session): the idle poll of one mailbox from its committed
# GraphSyncState, of many at once (``[(GraphSettings, GraphSyncState)]``), and
# whole messages by immutable id for *Retry*.
changed = GraphMailboxSync.probe
poll = GraphMailboxSync.poll
fetch_messages = GraphMailboxSync.fetch_messages
