"""Company email logging: a queue folder processed into a storage folder.

Everyone Bccs or forwards the mail to log to one mailbox; its *queue* folder
(the inbox by default) holds what is still to log. Each message is logged,
the log committed, and only then moved to the *storage* folder (or, when it
cannot be logged, to the *not logged* folder). This is the one place where
the addon writes to a mailbox, so it loses nothing:

- a message leaves the queue only by a move: IMAP ``MOVE`` (RFC 6851) where
  the server has it, else ``UID COPY`` + ``UID STORE +FLAGS.SILENT
  (\\Deleted)`` + ``UID EXPUNGE`` (UIDPLUS, RFC 4315 section 2.1), which
  expunges only the messages just copied. A plain ``EXPUNGE`` (which would
  also remove the messages someone else marked ``\\Deleted``) is never sent;
  a server with neither extension is refused (:class:`QueueSetupError`);
- the state is what is in the queue *now* (no UID watermark): the exactly-once
  rule is log, commit, then move. A crash between the commit and the move
  leaves the message in the queue; the next run finds it again, sees it is
  already logged (its identity) and just moves it;
- a batch is moved when the caller asks for the next one, or when the
  reader's block (:func:`open_queue`) ends without an exception: both happen
  only after the caller committed the batch (see ``_sync_session`` on the
  Odoo side). An exception in the block moves nothing.
"""

import contextlib
import dataclasses
import re

from imapclient import exceptions as imap_exc

from .imap import PROTOCOL, _server_text
from .imap_sync import Batch, FolderState, MailboxSync, SyncState

QUEUE = "queue"
DEFAULT_QUEUE = "INBOX"
DEFAULT_STORAGE = "Logged"
DEFAULT_NOT_LOGGED = "Not logged"
# Where a processed message goes.
STORAGE, NOT_LOGGED = "storage", "not_logged"

# Problems Validate setup reports (stable codes; the Odoo side words them).
QUEUE_MISSING = "queue_missing"
STORAGE_MISSING = "storage_missing"
NOT_LOGGED_MISSING = "not_logged_missing"
CANNOT_MOVE = "cannot_move"
SAME_FOLDER = "same_folder"

_COPYUID = re.compile(rb"\[COPYUID (\d+) ([0-9:,]+) ([0-9:,]+)\]", re.IGNORECASE)


class QueueSetupError(Exception):
    """The logging mailbox cannot be processed as set up.

    ``problems``: a list of ``(code, folder name or None)``, codes among
    :data:`QUEUE_MISSING`, :data:`STORAGE_MISSING`, :data:`NOT_LOGGED_MISSING`,
    :data:`CANNOT_MOVE`, :data:`SAME_FOLDER`."""

    def __init__(self, problems):
        self.problems = list(problems)
        super().__init__(", ".join(code if not name else f"{code} ({name})" for code, name in self.problems))


@dataclasses.dataclass(frozen=True)
class QueueFolders:
    """The three folders of a logging mailbox, as the server names them."""

    queue: str = DEFAULT_QUEUE
    storage: str = DEFAULT_STORAGE
    not_logged: str = DEFAULT_NOT_LOGGED


def can_move(capabilities):
    """Whether messages can be moved without a plain EXPUNGE: MOVE (RFC 6851)
    or UIDPLUS (RFC 4315). ``capabilities``: an iterable of str."""
    names = {str(cap).upper() for cap in capabilities}
    return "MOVE" in names or "UIDPLUS" in names


def _uid_set(text):
    """``b"4:6,9"`` -> ``[4, 5, 6, 9]`` (an RFC 3501 sequence set of UIDs, no ``*``)."""
    uids = []
    for part in text.split(b","):
        low, _colon, high = part.partition(b":")
        start, end = int(low), int(high or low)
        uids.extend(range(min(start, end), max(start, end) + 1))
    return uids


def copyuid(texts):
    """``(destination UIDVALIDITY, {source uid: destination uid})`` from the
    ``[COPYUID ...]`` response codes (RFC 4315 section 3) in ``texts`` (bytes
    or str); ``(0, {})`` when the server gave none."""
    for text in texts:
        data = text.encode(errors="replace") if isinstance(text, str) else bytes(text or b"")
        match = _COPYUID.search(data)
        if match:
            sources, targets = _uid_set(match.group(2)), _uid_set(match.group(3))
            if len(sources) == len(targets):
                return int(match.group(1)), dict(zip(sources, targets, strict=True))
    return 0, {}


def check_setup(session, folders):
    """What is missing for ``folders`` (:class:`QueueFolders`) on an open
    :class:`mailsync.imap.ImapSession`: ``[(code, folder name or None)]``,
    empty when everything is there. Reads only (CAPABILITY and LIST).

    :raises mailsync.errors.MailConnectionError: the server cannot be used
    """
    problems = []
    if len({_key(folders.queue), _key(folders.storage), _key(folders.not_logged)}) < 3:
        problems.append((SAME_FOLDER, None))
    names = {_key(folder.name) for folder in session.folders() if folder.selectable}
    for code, name in (
        (QUEUE_MISSING, folders.queue),
        (STORAGE_MISSING, folders.storage),
        (NOT_LOGGED_MISSING, folders.not_logged),
    ):
        if _key(name) not in names:
            problems.append((code, name))
    if not can_move(session.capabilities):
        problems.append((CANNOT_MOVE, None))
    return problems


def _key(name):
    return "INBOX" if name.upper() == "INBOX" else name


def create_folders(session, names):
    """Create those of ``names`` that do not exist yet (RFC 3501 6.3.3) and
    subscribe to them; return the names created.

    :raises mailsync.errors.MailboxRefused: the server refused to create one
    :raises mailsync.errors.MailConnectionError: the server cannot be used
    """
    from .errors import MailboxRefused

    existing = {_key(folder.name) for folder in session.folders()}
    created = []
    for name in names:
        if not name or _key(name) in existing:
            continue
        with session._errors():
            try:
                session.client.create_folder(name)
            except imap_exc.IMAPClientError as exc:
                text, _status = _server_text(exc)
                raise MailboxRefused(
                    PROTOCOL, session.settings.host, session.settings.port, detail=text, step="create"
                ) from None
            with contextlib.suppress(imap_exc.IMAPClientError):
                session.client.subscribe_folder(name)
        existing.add(_key(name))
        created.append(name)
    return created


class QueueBatch(Batch):
    """A :class:`mailsync.imap_sync.Batch` of queue messages, plus where each
    goes once the batch is committed: the caller sets ``destinations[uid]``
    to :data:`STORAGE` (logged, or nothing to log) or :data:`NOT_LOGGED`. A
    message left out stays in the queue (it is looked at again next run)."""

    def __init__(self, folder, records, state, sync):
        super().__init__(folder, QUEUE, records, state, sync)
        self.destinations = {}
        self.moved = {}  # after the move: {destination: (uidvalidity, {queue uid: new uid})}


class QueueReader(MailboxSync):
    """Read a logging mailbox's queue folder in batches and move what was
    processed. Same reader interface as :class:`mailsync.imap_sync.MailboxSync`
    (``batches()``, ``listing``), so the Odoo sync drives it alike.

    :param session: an open :class:`mailsync.imap.ImapSession`
    :param folders: :class:`QueueFolders`
    :param batch_size: messages per batch
    :param on_moved: called as ``on_moved(batch)`` after a batch was moved
        (``batch.moved`` filled in), e.g. to record where a not-logged
        message is now
    """

    def __init__(self, session, folders, batch_size=200, on_moved=None):
        super().__init__(session, None, batch_size=batch_size)
        self.queue_folders = folders
        self.on_moved = on_moved
        self._pending = None
        self._move = "MOVE" in session.capabilities

    def check(self):
        """Raise :class:`QueueSetupError` unless the three folders exist and
        the server can move messages (see :func:`check_setup`)."""
        problems = check_setup(self.session, self.queue_folders)
        if problems:
            raise QueueSetupError(problems)

    def batches(self):
        """Yield :class:`QueueBatch` objects: the messages in the queue when
        it was opened, oldest first, ``batch_size`` at a time. Asking for
        the next batch moves the previous one (see the module's contract).
        One empty batch when the queue is empty.

        :raises QueueSetupError: a folder is missing, or the server cannot move
        :raises mailsync.errors.MailConnectionError: the server cannot be used
        """
        self.check()
        name = self.queue_folders.queue
        with self._errors():
            info = self.client.select_folder(name)  # read-write: processed messages leave it
            self._selected = name
            uids = sorted(self.client.search(["NOT", "DELETED"]))
        uidvalidity = int(info.get(b"UIDVALIDITY", 0))
        total = len(uids)
        state = SyncState({name: FolderState(name=name, role=QUEUE, uidvalidity=uidvalidity, total=total)})
        if not uids:
            yield QueueBatch(name, [], state, self)
            return
        done = 0
        for start in range(0, total, self.batch_size):
            chunk = uids[start : start + self.batch_size]
            records = self._fetch_headers(name, QUEUE, chunk)
            done += len(chunk)
            batch_state = SyncState(
                {name: FolderState(name=name, role=QUEUE, uidvalidity=uidvalidity, total=total, done=done)}
            )
            batch = QueueBatch(name, records, batch_state, self)
            self._pending = batch
            yield batch
            self.move_pending()

    def move_pending(self):
        """Move the last batch handed out (once the caller committed it)."""
        batch, self._pending = self._pending, None
        if batch is None:
            return
        targets = {STORAGE: self.queue_folders.storage, NOT_LOGGED: self.queue_folders.not_logged}
        by_target = {}
        for uid, where in batch.destinations.items():
            by_target.setdefault(where, []).append(uid)
        for where, uids in sorted(by_target.items()):
            batch.moved[where] = self.move(batch.folder, sorted(uids), targets[where])
        if self.on_moved and batch.moved:
            self.on_moved(batch)

    def move(self, folder, uids, target):
        """Move ``uids`` of ``folder`` to ``target``: ``(target UIDVALIDITY,
        {uid: new uid})`` as the server's COPYUID says (RFC 4315), or ``(0,
        {})`` without it. UIDs no longer there are ignored.

        MOVE (RFC 6851) when the server has it; else UID COPY, UID STORE
        +FLAGS.SILENT (\\Deleted) and UID EXPUNGE of exactly these UIDs
        (UIDPLUS): never a plain EXPUNGE.

        :raises QueueSetupError: the server has neither MOVE nor UIDPLUS
        :raises mailsync.errors.ConnectionLost: the connection dropped (the
            messages are then in the queue, or both in the queue and in
            ``target`` when it dropped between COPY and EXPUNGE: the next
            run moves them again, and the log is not duplicated)
        :raises mailsync.errors.MailboxRefused: the server refused the move
        """
        if not uids:
            return 0, {}
        capabilities = self.session.capabilities
        if not can_move(capabilities):
            raise QueueSetupError([(CANNOT_MOVE, None)])
        from .errors import MailboxRefused

        imap = self.client._imap
        with self._errors():
            if self._selected != folder:
                self.client.select_folder(folder)
                self._selected = folder
            # imaplib keeps response codes by name: the COPYUID of the
            # tagged OK (COPY) or of the untagged OK before it (MOVE).
            imap.untagged_responses.pop("COPYUID", None)
            try:
                if self._move:
                    self.client.move(uids, target)
                else:
                    self.client.copy(uids, target)
                texts = [b"[COPYUID " + code + b"]" for code in imap.untagged_responses.pop("COPYUID", [])]
                if not self._move:
                    self.client.add_flags(uids, [b"\\Deleted"], silent=True)
                    self.client.uid_expunge(uids)
            except imap_exc.IMAPClientError as exc:
                text, _status = _server_text(exc)
                raise MailboxRefused(
                    PROTOCOL, self.session.settings.host, self.session.settings.port, detail=text, step="move"
                ) from None
        return copyuid(texts)


@contextlib.contextmanager
def open_queue(session, folders, batch_size=200, on_moved=None):
    """A :class:`QueueReader` for the block; the batch handed out last is
    moved when the block ends without an exception (the caller committed
    it), and never when it raises."""
    reader = QueueReader(session, folders, batch_size=batch_size, on_moved=on_moved)
    yield reader
    reader.move_pending()
