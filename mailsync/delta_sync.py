"""What the delta-style readers of Microsoft mailboxes share: Microsoft
Graph's delta query (:mod:`mailsync.graph_sync`) and Exchange Web Services'
``SyncFolderItems`` (:mod:`mailsync.ews_sync`).

Both ask the server, per folder, for the changes since an opaque state token
it handed out (Graph: "State tokens" of
https://learn.microsoft.com/en-us/graph/delta-query-overview, the
``@odata.nextLink``/``@odata.deltaLink`` of a page; EWS: the ``SyncState`` of
https://learn.microsoft.com/en-us/exchange/client-developer/exchange-web-services/mailbox-synchronization-and-ews-in-exchange),
one page at a time. Here lives what does not depend on which one:

- :class:`HttpSettings`, the request timeout and the bounds on the waits a
  busy server asks (Graph's ``Retry-After``, EWS's ``BackOffMilliseconds``);
- :data:`FOLDERS`, the folders read, by the names both protocols give them
  (Graph's well-known folder names, EWS's distinguished folder ids);
- :class:`DeltaFolderState` and :class:`DeltaSyncState`, the committed
  state: the folder's state token(s) on top of
  :class:`~mailsync.imap_sync.FolderState`'s progress counts;
- :class:`DeltaRecord` and :class:`DeltaBatch`, what the sync core receives:
  the same contract as :class:`mailsync.imap_sync.Batch` (``folder``,
  ``role``, ``records`` with ``uid``, ``raw_headers`` and ``size``, ``state``
  to commit with the batch, ``fetch_bodies(uids)``);
- :class:`DeltaMailboxSync`, the folder loop of a full sync (one page, one
  batch) and of the idle poll (one request per folder from its committed
  token), and the module entry points (:meth:`~DeltaMailboxSync.probe`,
  :meth:`~DeltaMailboxSync.poll`, :meth:`~DeltaMailboxSync.fetch_messages`);
- :func:`header_block_of` and :func:`header_value`, the RFC 5322 header
  block a reader synthesizes from a message's properties.

A protocol module supplies its folder state (which tokens, when a folder is
caught up), the pages of one folder, the probe of one folder, the bodies,
its settings and its typed errors.
"""

import abc
import contextlib
import copy
import dataclasses
import functools
import json
from email.header import Header
from typing import ClassVar

from .imap_sync import INBOX, SENT, FolderState, SyncState
from .polling import DEFAULT_WORKERS, poll_each

# The folders read, in sync order: Graph's well-known folder names
# (https://learn.microsoft.com/en-us/graph/api/resources/mailfolder) and EWS's
# distinguished folder ids (https://learn.microsoft.com/en-us/exchange/client-developer/web-service-reference/distinguishedfolderid)
# are the same words -> the sync's roles.
FOLDERS = (("inbox", INBOX), ("sentitems", SENT))
DEFAULT_PAGE_SIZE = 200  # entries per page, hence per batch
PROBE_PAGE_SIZE = 10  # entries an idle poll asks per folder (more: something happened, sync it)


@dataclasses.dataclass(frozen=True, kw_only=True)
class HttpSettings:
    """What the settings of a delta reader share (keywords only): how long a
    request may take and how long a busy server is waited for. Throttling
    (https://learn.microsoft.com/en-us/graph/throttling,
    https://learn.microsoft.com/en-us/exchange/client-developer/exchange-web-services/ews-throttling-in-exchange)
    answers with the wait the server asks (Graph: ``Retry-After``; EWS:
    ``BackOffMilliseconds``); see :meth:`will_wait`.

    :param timeout: seconds per HTTP request
    :param max_retry_wait: the longest wait honoured, in seconds
    :param retries: throttled answers retried per request before giving up
    """

    timeout: float = 30.0
    max_retry_wait: float = 30.0
    retries: int = 3

    def will_wait(self, attempt, seconds):
        """Whether a request throttled at its ``attempt``-th try (0: the
        first) is sent again after the ``seconds`` the server asks: at most
        :attr:`retries` times, never for longer than :attr:`max_retry_wait`.
        False: the caller raises its protocol's throttled error (temporary)."""
        return attempt < self.retries and seconds <= self.max_retry_wait


@dataclasses.dataclass
class DeltaFolderState(FolderState):
    """:class:`~mailsync.imap_sync.FolderState` of a folder read by a delta
    query: a subclass adds the server's state tokens (opaque strings, empty
    before the first page) named in :attr:`TOKENS`. ``uidvalidity`` is
    always 1: the ids a delta query gives do not change while the message
    stays in the folder; ``total``/``done`` count the messages of the round."""

    #: the names of the subclass's state-token fields
    TOKENS: ClassVar[tuple] = ()

    @property
    def caught_up(self):
        """True when the last round reached the folder's end and left a
        token to ask the next changes from (then an idle poll can ask it)."""
        raise NotImplementedError

    def restart(self):
        """Forget the tokens and the counts: the server no longer knows the
        state, the folder is read again from the window."""
        for name in self.TOKENS:
            setattr(self, name, "")
        self.total = self.done = 0


class DeltaSyncState(SyncState):
    """:class:`~mailsync.imap_sync.SyncState` of one kind of
    :class:`DeltaFolderState` (:attr:`folder_state`), keyed by the names of
    :data:`FOLDERS`."""

    #: the kind's DeltaFolderState subclass
    folder_state = DeltaFolderState

    @classmethod
    def from_json(cls, text):
        """The state :meth:`~mailsync.imap_sync.SyncState.to_json` wrote.
        Only the folders of :data:`FOLDERS` with their role and every token
        field of this kind are kept: another kind's state (IMAP, or the other
        delta protocol) reads as empty, so a mailbox moved to this kind starts
        from its window and relogs nothing (the caller's identity, the
        Message-ID, knows what it logged). Never raises: text that is not
        such JSON is an empty state."""
        try:
            data = json.loads(text) if text else {}
        except ValueError:
            data = {}
        if not isinstance(data, dict):
            data = {}
        fields = {field.name for field in dataclasses.fields(cls.folder_state)}
        known = dict(FOLDERS)
        return cls(
            {
                name: cls.folder_state(**{key: value for key, value in values.items() if key in fields})
                for name, values in data.items()
                if name in known
                and isinstance(values, dict)
                and values.get("role") == known[name]
                and all(token in values for token in cls.folder_state.TOKENS)
            }
        )


@dataclasses.dataclass(frozen=True)
class DeltaRecord:
    """One message of a batch, before its body is downloaded.

    ``uid``: the message's id in the protocol (str: Graph's immutable id, an
    EWS item id); ``raw_headers``: an RFC 5322 header block (bytes);
    ``size``: the whole message's size in bytes when the server says it
    before the download (EWS ``item:Size``), else 0 (Graph);
    ``conversation_id``: the server's conversation id, or ''."""

    folder: str
    role: str
    uid: str
    raw_headers: bytes
    size: int = 0
    conversation_id: str = ""


@dataclasses.dataclass
class DeltaBatch:
    """One page of one folder: its :class:`DeltaRecord` objects and the
    whole :class:`DeltaSyncState` to commit with them (a sync killed after
    the commit resumes from the next page)."""

    folder: str
    role: str
    records: list
    state: DeltaSyncState
    _sync: object = dataclasses.field(repr=False, default=None)

    def fetch_bodies(self, uids):
        """``{uid: raw MIME bytes}`` of these messages (the reader's
        ``fetch_bodies``); a message deleted meanwhile is absent."""
        return self._sync.fetch_bodies(list(uids))


class DeltaMailboxSync(contextlib.AbstractContextManager):
    """Sync one mailbox folder by folder, page by page, from the committed
    state tokens; subclasses speak the protocol.

    :param settings: the protocol's settings (``host``, ``port``...)
    :param state: the last committed :attr:`state_class` (another
        SyncState: converted, see :meth:`DeltaSyncState.from_json`; None:
        first sync)
    :param since: ``datetime.date``: the first round takes what was received
        since then (None: everything)
    :param batch_size: entries per page, hence per batch (at least 1)

    A subclass sets :attr:`state_class` and implements the abstract
    :meth:`close`, :meth:`_folder_pages`, :meth:`_folder_changed` and
    :meth:`fetch_bodies`;
    its own connection arguments (an exchangelib account, a requests
    session) follow as keywords.
    """

    #: the kind's DeltaSyncState subclass
    state_class = DeltaSyncState

    def __init__(self, settings, state=None, since=None, batch_size=DEFAULT_PAGE_SIZE):
        self.settings = settings
        if not isinstance(state, self.state_class):
            state = self.state_class.from_json(state.to_json() if state is not None else None)
        self.state = copy.deepcopy(state)
        self.since = since
        self.batch_size = max(1, int(batch_size))
        self.listing = None  # no folder listing: the folders are the well-known ones

    def __exit__(self, *exc_info):
        self.close()

    @abc.abstractmethod
    def close(self):
        """Release the connection (the reader is not used again)."""
        raise NotImplementedError

    def batches(self):
        """Yield :class:`DeltaBatch` objects, one per page, inbox first; at
        least one per folder (an empty one carries the new token). Raises the
        protocol module's typed errors."""
        for folder, role in FOLDERS:
            state = self.state.folders.get(folder)
            if state is None or state.role != role:
                state = self.state_class.folder_state(name=folder, role=role, uidvalidity=1)
                self.state.folders[folder] = state
            for records, last in self._folder_pages(folder, role, state):
                state.done += len(records)
                state.total = state.done if last else state.done + self.batch_size
                yield DeltaBatch(folder, role, records, copy.deepcopy(self.state), self)

    @abc.abstractmethod
    def _folder_pages(self, folder, role, state):
        """Yield ``(records, last)`` per page of ``folder``, ``state`` (its
        :class:`DeltaFolderState`, in :attr:`state`) holding the page's
        tokens when it is yielded; ``last``: the round's final page."""
        raise NotImplementedError

    def changed(self):
        """Whether anything new may be there since the committed state (the
        idle poll): for each folder, True at once when it is not caught up
        (never synced, a round pending), else :meth:`_folder_changed` (one
        request from its committed token, which commits nothing). False:
        nothing new in any folder. Raises the protocol module's typed errors."""
        for folder, role in FOLDERS:
            state = self.state.folders.get(folder)
            if state is None or state.role != role or not state.caught_up:
                return True
            if self._folder_changed(folder, state):
                return True
        return False

    @abc.abstractmethod
    def _folder_changed(self, folder, state):
        """Whether ``folder`` has changes after its caught-up ``state``."""
        raise NotImplementedError

    @abc.abstractmethod
    def fetch_bodies(self, uids):
        """``{uid: raw MIME bytes}`` of these messages; one gone meanwhile is absent."""
        raise NotImplementedError

    # -- the protocol module's entry points, as mailsync.imap_sync's ----------
    @classmethod
    def probe(cls, settings, state, **connection):
        """:meth:`changed` of the mailbox of ``settings`` from its committed
        ``state``, on a reader of its own (closed after)."""
        with cls(settings, state, **connection) as sync:
            return sync.changed()

    @classmethod
    def poll(cls, jobs, workers=DEFAULT_WORKERS):
        """Idle-poll many mailboxes at once: ``jobs`` is ``[(settings,
        state)]``; returns, in order, True (something new, or an error the
        full sync will report) or False (:func:`mailsync.polling.poll_each`)."""
        return poll_each([functools.partial(cls.probe, *job) for job in jobs], workers)

    @classmethod
    def fetch_messages(cls, settings, ids, **connection):
        """Whole messages by id (for *Retry*): ``{id: raw MIME bytes}``; ids
        no longer in the mailbox are absent."""
        with cls(settings, **connection) as sync:
            return sync.fetch_bodies(ids)


# -- header blocks synthesized from a message's properties --------------------------


def header_value(text):
    """A header value on one line (white space folded), RFC 2047-encoded
    (UTF-8) where not ASCII."""
    text = " ".join(str(text or "").split())
    if text.isascii():
        return text
    return Header(text, "utf-8").encode()


def header_block_of(fields):
    """An RFC 5322 header block (bytes, CRLF, ending with an empty line) of
    ``fields``, ``[(name, value)]`` in order; a field with an empty value is
    left out. Unencodable characters become '?' (never raises)."""
    text = "\r\n".join(f"{name}: {value}" for name, value in fields if value) + "\r\n\r\n"
    return text.encode("utf-8", "replace")
