"""Read a mailbox's new mail, read-only, in batches, resumable at any point.

Per synced folder (the inbox and the sent folder) we keep a
:class:`FolderState`: the folder's UIDVALIDITY, the highest UID already handed
off, and the server's UIDNEXT (so an idle poll needs one STATUS per folder and
no SELECT). :meth:`MailboxSync.batches` examines each folder read-only
(EXAMINE: nothing, not even \\Seen, can change), finds the new UIDs, and
yields them as :class:`Batch` objects: the header blocks of up to
``batch_size`` messages, fetched in one round trip, plus the full state to
persist once the batch is handled. Bodies are fetched only on demand
(:meth:`Batch.fetch_bodies`, ``BODY.PEEK[]``), for the messages that matter.

The exactly-once contract: the caller logs a batch and stores its ``state``
in the same database transaction. A crash before that commit re-delivers
the batch next time; the caller's idempotent message identity makes the
re-delivery harmless. A UIDVALIDITY change (the server renumbered the folder)
resets that folder's state and re-delivers it, for the same reason.
"""

import copy
import dataclasses
import datetime
import json

from imapclient import exceptions as imap_exc

from .imap import _translate

DEFAULT_WINDOW_DAYS = 30
INBOX, SENT = "inbox", "sent"

# Names of the sent folder where the server does not flag it \Sent (RFC 6154),
# compared case-insensitively with the whole name and with its last segment.
SENT_NAMES = (
    "sent",
    "sent items",
    "sent messages",
    "sent mail",
    "[gmail]/sent mail",
    "[google mail]/sent mail",
    "envoyés",
    "éléments envoyés",
    "messages envoyés",
    "elementos enviados",
    "enviados",
    "correo enviado",
    "mensajes enviados",
    "gesendet",
    "gesendete elemente",
    "gesendete objekte",
    "posta inviata",
    "inviata",
    "verzonden",
    "verzonden items",
    "itens enviados",
)

HEADER_FIELDS = b"FROM TO CC BCC DATE MESSAGE-ID IN-REPLY-TO REFERENCES SUBJECT"
_HEADER_ITEM = b"BODY.PEEK[HEADER.FIELDS (" + HEADER_FIELDS + b")]"
_HEADER_KEY = b"BODY[HEADER.FIELDS (" + HEADER_FIELDS + b")]"
_BODY_CHUNK = 50  # messages per BODY.PEEK[] fetch: bounds memory, not round trips per message


@dataclasses.dataclass
class FolderState:
    name: str
    role: str
    uidvalidity: int = 0
    last_uid: int = 0
    uidnext: int = 0
    highestmodseq: int = 0
    total: int = 0
    done: int = 0


@dataclasses.dataclass
class SyncState:
    folders: dict = dataclasses.field(default_factory=dict)

    def to_json(self):
        return json.dumps({name: dataclasses.asdict(state) for name, state in self.folders.items()}, sort_keys=True)

    @classmethod
    def from_json(cls, text):
        if not text:
            return cls()
        try:
            data = json.loads(text)
        except ValueError:
            return cls()
        fields = {field.name for field in dataclasses.fields(FolderState)}
        return cls(
            {
                name: FolderState(**{key: value for key, value in values.items() if key in fields})
                for name, values in data.items()
                if isinstance(values, dict) and "name" in values and "role" in values
            }
        )

    @property
    def progress(self):
        """Share of the initial window handed off, 0..1 (1 when nothing to do)."""
        total = sum(state.total for state in self.folders.values())
        done = sum(min(state.done, state.total) for state in self.folders.values())
        return done / total if total else 1.0


def find_sync_folders(folders):
    """``{"inbox": Folder, "sent": Folder}`` (sent only where one exists)."""
    found = {}
    for folder in folders:
        if folder.selectable and folder.name.upper() == "INBOX":
            found[INBOX] = folder
    sent = [folder for folder in folders if folder.selectable and folder.special_use == "\\Sent"]
    if not sent:
        for wanted in SENT_NAMES:
            sent = [
                folder
                for folder in folders
                if folder.selectable
                and wanted in (folder.name.lower(), folder.name.rsplit(folder.delimiter or "/", 1)[-1].lower())
            ]
            if sent:
                break
    if sent:
        found[SENT] = sent[0]
    return found


@dataclasses.dataclass(frozen=True)
class HeaderRecord:
    folder: str
    role: str
    uid: int
    raw_headers: bytes
    size: int
    internaldate: datetime.datetime | None
    flags: frozenset
    gm_msgid: int | None = None


@dataclasses.dataclass
class Batch:
    folder: str
    role: str
    records: list
    state: SyncState
    _sync: object = dataclasses.field(repr=False, default=None)

    def fetch_bodies(self, uids):
        """``{uid: raw message}`` for ``uids`` of this batch; never sets \\Seen."""
        return self._sync._fetch_bodies(self.folder, sorted(uids))


class MailboxSync:
    """Sync one mailbox over an open :class:`mailsync.imap.ImapSession`."""

    def __init__(self, session, state=None, since=None, batch_size=500):
        self.session = session
        self.client = session.client
        self.state = copy.deepcopy(state) if state else SyncState()
        self.since = since
        self.batch_size = batch_size
        self._selected = None
        self._gmail = session.capabilities >= {"X-GM-EXT-1"}

    def _errors(self):
        return _translate(self.session.settings)

    def sync_folders(self):
        with self._errors():
            return find_sync_folders(self.session.folders())

    # -- idle poll -------------------------------------------------------
    def changed(self):
        """Whether anything new may be there: one STATUS per synced folder, no
        SELECT, no LIST (a folder renamed or gone makes STATUS fail: True)."""
        if {state.role for state in self.state.folders.values()} != {INBOX, SENT}:
            return True  # never synced, or no sent folder found yet: look again
        for known in self.state.folders.values():
            try:
                with self._errors():
                    status = self.client.folder_status(known.name, [b"UIDNEXT", b"UIDVALIDITY"])
            except imap_exc.IMAPClientError:
                return True  # let the full sync find out
            if status.get(b"UIDVALIDITY") != known.uidvalidity or status.get(b"UIDNEXT") != known.uidnext:
                return True
        return False

    # -- full sync -------------------------------------------------------
    def batches(self):
        """Yield :class:`Batch` objects, inbox first, oldest UID first."""
        folders = self.sync_folders()
        # Folders no longer there are forgotten; the others are synced.
        self.state.folders = {
            name: state
            for name, state in self.state.folders.items()
            if name in {folder.name for folder in folders.values()}
        }
        for role in (INBOX, SENT):
            folder = folders.get(role)
            if folder:
                yield from self._folder_batches(folder.name, role)

    def _examine(self, name):
        with self._errors():
            info = self.client.select_folder(name, readonly=True)
        self._selected = name
        return info

    def _folder_batches(self, name, role):
        try:
            info = self._examine(name)
        except imap_exc.IMAPClientError:
            return  # deleted or renamed since LIST: next run sees the new listing
        uidvalidity = int(info.get(b"UIDVALIDITY", 0))
        uidnext = int(info.get(b"UIDNEXT", 0))
        state = self.state.folders.get(name)
        if state is None or state.uidvalidity != uidvalidity or state.role != role:
            state = FolderState(name=name, role=role, uidvalidity=uidvalidity)
            initial = True
        else:
            initial = state.last_uid == 0 and state.total == 0
        self.state.folders[name] = state

        with self._errors():
            if initial:
                criteria = ["SINCE", self.since] if self.since else ["ALL"]
                uids = sorted(self.client.search(criteria))
                state.total, state.done = len(uids), 0
            else:
                uids = sorted(
                    uid for uid in self.client.search(["UID", f"{state.last_uid + 1}:*"]) if uid > state.last_uid
                )
                state.total += len(uids)
        if not uids:
            if initial:  # older mail, outside the window, stays behind
                state.last_uid = max(uidnext - 1, state.last_uid)
            state.uidnext = uidnext
            state.highestmodseq = int(info.get(b"HIGHESTMODSEQ", 0) or 0)
            yield Batch(name, role, [], copy.deepcopy(self.state), self)
            return

        for start in range(0, len(uids), self.batch_size):
            chunk = uids[start : start + self.batch_size]
            records = self._fetch_headers(name, role, chunk)
            state.last_uid = chunk[-1]
            state.done += len(chunk)
            if start + self.batch_size >= len(uids):
                state.uidnext = max(uidnext, state.last_uid + 1)
                state.highestmodseq = int(info.get(b"HIGHESTMODSEQ", 0) or 0)
            yield Batch(name, role, records, copy.deepcopy(self.state), self)

    def _fetch_headers(self, name, role, uids):
        items = [_HEADER_ITEM, b"RFC822.SIZE", b"INTERNALDATE", b"FLAGS"]
        if self._gmail:
            items.append(b"X-GM-MSGID")
        if self._selected != name:
            self._examine(name)
        with self._errors():
            response = self.client.fetch(uids, items)
        records = []
        for uid in uids:
            data = response.get(uid)
            if data is None:  # expunged meanwhile
                continue
            records.append(
                HeaderRecord(
                    folder=name,
                    role=role,
                    uid=uid,
                    raw_headers=data.get(_HEADER_KEY, b"") or b"",
                    size=int(data.get(b"RFC822.SIZE", 0) or 0),
                    internaldate=data.get(b"INTERNALDATE"),
                    flags=frozenset(
                        flag.decode() if isinstance(flag, bytes) else flag for flag in data.get(b"FLAGS", ())
                    ),
                    gm_msgid=data.get(b"X-GM-MSGID"),
                )
            )
        return records

    def _fetch_bodies(self, name, uids):
        if not uids:
            return {}
        if self._selected != name:
            self._examine(name)
        bodies = {}
        for start in range(0, len(uids), _BODY_CHUNK):
            chunk = uids[start : start + _BODY_CHUNK]
            with self._errors():
                response = self.client.fetch(chunk, [b"BODY.PEEK[]"])
            for uid, data in response.items():
                if uid in chunk and data.get(b"BODY[]") is not None:
                    bodies[uid] = data[b"BODY[]"]
        return bodies


def _text(value):
    return value.decode() if isinstance(value, bytes) else value


def poll(jobs, workers=16):
    """Idle-poll many mailboxes at once: ``jobs`` is ``[(ImapSettings,
    SyncState)]``; returns, in order, True (something new, or an error the
    full sync will report) or False. The wait is the network's, so threads
    overlap the round trips of up to ``workers`` mailboxes."""
    from concurrent.futures import ThreadPoolExecutor

    from .imap import connect

    def one(job):
        settings, state = job
        try:
            with connect(settings) as session:
                return MailboxSync(session, state).changed()
        except Exception:  # noqa: BLE001 - the full sync reports it properly
            return True

    if not jobs:
        return []
    with ThreadPoolExecutor(max_workers=min(workers, len(jobs))) as pool:
        return list(pool.map(one, jobs))
