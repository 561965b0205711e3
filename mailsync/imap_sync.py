"""Read a mailbox's new mail, read-only, in batches, resumable at any point.

Per synced folder (the inbox and the sent folder) we keep a
:class:`FolderState`: the folder's UIDVALIDITY, the highest UID already handed
off, and the server's UIDNEXT (so an idle poll needs one STATUS per folder and
no SELECT). :meth:`MailboxSync.batches` examines each folder read-only
(EXAMINE: nothing, not even \\Seen, can change), finds the new UIDs, and
yields them as :class:`Batch` objects: the header blocks of up to
``batch_size`` messages, fetched in one round trip, plus the full state to
persist once the batch is handled. Bodies are fetched only on demand, for
the messages that matter, a few at a time (:meth:`Batch.iter_bodies`,
``BODY.PEEK[]``): the caller holds a few bodies at once, never a batch's.
:meth:`Batch.read_ahead` downloads and parses the next chunk of bodies on a
background thread while the caller handles the current one
(:mod:`mailsync.read_ahead`).

The exactly-once contract: the caller logs a batch and stores its ``state``
in the same database transaction. A crash before that commit re-delivers
the batch next time; the caller's idempotent message identity makes the
re-delivery harmless. A UIDVALIDITY change (the server renumbered the folder)
resets that folder's state and re-delivers it, for the same reason.

Errors (all :class:`mailsync.errors.MailConnectionError` subclasses): a
connection dropped during any step (LIST, EXAMINE, SEARCH, FETCH, STATUS) is
:class:`~mailsync.errors.ConnectionLost`: connect again and pass the last
committed state to a new :class:`MailboxSync`, which continues where the
last committed batch stopped. A synced folder the server still lists but
refuses to open is :class:`~mailsync.errors.FolderUnavailable`; one that
disappeared since LIST is skipped (it is forgotten from the state). A
timeout stays :class:`~mailsync.errors.ConnectionTimeout`.
"""

import contextlib
import copy
import dataclasses
import functools
import imaplib
import json
import ssl
import time
import unicodedata

from imapclient import exceptions as imap_exc
from imapclient import imap_utf7
from imapclient.imapclient import as_pairs
from imapclient.response_parser import parse_response

from .errors import ConnectionLost, FolderUnavailable, MailboxRefused
from .imap import PROTOCOL, Folder, _server_text, _translate
from .polling import DEFAULT_WORKERS, poll_each
from .read_ahead import ReadAhead
from .refusals import imap_refusal, is_microsoft

DEFAULT_WINDOW_DAYS = 30
INBOX, SENT = "inbox", "sent"

# Names of the sent folder on servers that do not flag it \Sent (RFC 6154), as
# the common clients and servers create it in each language: Outlook and
# Exchange (localized "Sent Items"), Gmail ("[Gmail]/<localized Sent Mail>"),
# Thunderbird, Dovecot/cPanel/Roundcube ("Sent", "INBOX.Sent"), Apple Mail
# ("Sent Messages"). Compared after NFC normalisation and case folding (see
# _normalise) with the last segment of a folder at the top level, directly
# under INBOX, or directly under [Gmail] / [Google Mail]; never deeper.
SENT_NAMES_BY_LANGUAGE = {
    "English": ("Sent", "Sent Items", "Sent Messages", "Sent Mail", "Sent-Mail", "Sent Email"),
    "Bulgarian": ("Изпратени", "Изпратени елементи", "Изпратени писма", "Изпратени съобщения"),
    "Croatian": ("Poslano", "Poslane stavke", "Poslana pošta", "Poslane poruke"),
    "Czech": ("Odeslaná pošta", "Odeslané", "Odeslané položky", "Odeslané zprávy"),
    "Danish": ("Sendt post", "Sendt", "Sendte", "Sendte elementer", "Sendte e-mails", "Sendte beskeder"),
    "Dutch": ("Verzonden", "Verzonden items", "Verzonden berichten", "Verzonden e-mail"),
    "Estonian": ("Saadetud", "Saadetud üksused", "Saadetud kirjad", "Saadetud sõnumid"),
    "Finnish": ("Lähetetyt", "Lähetetyt kohteet", "Lähetetyt viestit", "Lähetetty posti"),
    "French": ("Envoyés", "Éléments envoyés", "Messages envoyés", "Courrier envoyé", "E-mails envoyés"),
    "German": ("Gesendet", "Gesendete Elemente", "Gesendete Objekte", "Gesendete Nachrichten", "Gesendete E-Mails"),
    "Greek": ("Απεσταλμένα", "Απεσταλμένα μηνύματα", "Απεσταλμένα στοιχεία", "Σταλμένα"),
    "Hungarian": ("Elküldött elemek", "Elküldött levelek", "Elküldött üzenetek", "Elküldött", "Küldött levelek"),
    "Irish": ("Míreanna seolta", "Seolta", "Post seolta", "Teachtaireachtaí seolta"),
    "Italian": ("Posta inviata", "Inviata", "Inviati", "Elementi inviati", "Messaggi inviati"),
    "Latvian": ("Nosūtītie", "Nosūtītie vienumi", "Nosūtītās", "Nosūtītās vēstules", "Nosūtītie ziņojumi"),
    "Lithuanian": ("Išsiųsti", "Išsiųsta", "Išsiųsti elementai", "Išsiųsti laiškai", "Išsiųsti pranešimai"),
    "Maltese": ("Mibgħuta", "Intbagħtu", "Oġġetti mibgħuta", "Messaġġi mibgħuta"),
    "Polish": ("Elementy wysłane", "Wysłane", "Wysłane elementy", "Wiadomości wysłane"),
    "Portuguese": (
        "Enviados",
        "Itens enviados",
        "Enviadas",
        "Mensagens enviadas",
        "E-mails enviados",
        "Correio enviado",
    ),
    "Romanian": ("Trimise", "Elemente trimise", "Mesaje trimise", "E-mailuri trimise"),
    "Slovak": ("Odoslaná pošta", "Odoslané", "Odoslané položky", "Odoslané správy"),
    "Slovenian": ("Poslano", "Poslana pošta", "Poslani elementi", "Poslani predmeti", "Poslana sporočila"),
    "Spanish": ("Enviados", "Elementos enviados", "Correo enviado", "Mensajes enviados", "Enviado"),
    "Swedish": ("Skickat", "Skickade", "Skickade objekt", "Skickade meddelanden", "Skickade brev"),
    "Catalan": ("Enviats", "Elements enviats", "Correu enviat", "Missatges enviats"),
    "Norwegian": ("Sendt", "Sendte elementer", "Sendt post", "Sendte", "Sendt e-post", "Sendte meldinger"),
    "Russian": ("Отправленные", "Отправленные элементы", "Отправленные письма", "Отправленные сообщения"),
    "Ukrainian": ("Надіслані", "Надіслані елементи", "Надіслані листи", "Відправлені", "Відправлені листи"),
    "Turkish": ("Gönderilmiş Öğeler", "Gönderilenler", "Gönderilmiş Postalar", "Gönderilen Öğeler", "Gönderilen"),
    "Chinese": (
        "已发送",
        "已发送邮件",
        "已发邮件",
        "已发送项目",
        "寄件備份",
        "已傳送",
        "已傳送郵件",
        "已寄出",
        "已寄出郵件",
    ),
    "Japanese": ("送信済みアイテム", "送信済み", "送信済みメール", "送信済メール", "送信済み項目"),
    "Korean": ("보낸 편지함", "보낸편지함", "보낸 메일함", "보낸메일함"),
}
SENT_NAMES = tuple(name for names in SENT_NAMES_BY_LANGUAGE.values() for name in names)
# Parents under which a sent folder may sit: (normalised parent, rank); a
# lower rank is preferred when several folders have a sent name.
_SENT_PARENTS = {(): 0, ("[gmail]",): 0, ("[google mail]",): 0, ("inbox",): 1}

# AUTHENTICATION-RESULTS is read by mailsync.authentication (the receiving server's verdict on
# the sender); the last five by mailsync.exclusions (bulk mail, auto-replies, invitations).
HEADER_FIELDS = (
    b"FROM TO CC BCC DATE MESSAGE-ID IN-REPLY-TO REFERENCES SUBJECT AUTHENTICATION-RESULTS"
    b" LIST-UNSUBSCRIBE LIST-ID PRECEDENCE AUTO-SUBMITTED CONTENT-TYPE"
)
_HEADER_ITEM = b"BODY.PEEK[HEADER.FIELDS (" + HEADER_FIELDS + b")]"
# The server echoes the header list its own way: Courier-IMAP quotes each
# field name (astrings, RFC 3501 section 9), others change case or order.
# Only one such item is requested, so any response key with this prefix is it.
_HEADER_KEY_PREFIX = b"BODY[HEADER.FIELDS"
SENT_SEARCH_INTERVAL = 3600  # seconds between listings while no sent folder is found
_BODY_CHUNK = 5  # messages per BODY.PEEK[] fetch: a few bodies in memory at once


@dataclasses.dataclass
class FolderState:
    """What is known of one synced folder. ``total``/``done`` count the UIDs
    to hand off and handed off since the sync of this folder began (initial
    window plus anything new since), for :attr:`SyncState.progress`.
    ``window_uidnext``: while an initial sync limited to a window (``since``)
    is under way, the folder's UIDNEXT when it began (0 otherwise): a resumed
    sync keeps the window for the UIDs below it."""

    name: str
    role: str
    uidvalidity: int = 0
    last_uid: int = 0
    uidnext: int = 0
    highestmodseq: int = 0
    total: int = 0
    done: int = 0
    window_uidnext: int = 0


@dataclasses.dataclass
class SyncState:
    """What is known of a mailbox: its synced folders by name, and, while no
    sent folder is found (none, or several candidates for the user to pick
    from), when the folders were last listed (``sent_search_at``, seconds
    since the epoch) and for which choice of the user (``sent_search_for``),
    so that an idle poll lists them again only hourly or when the user picks
    one (see :meth:`MailboxSync.changed`)."""

    folders: dict = dataclasses.field(default_factory=dict)
    sent_search_at: float = 0.0
    sent_search_for: str | None = None

    def to_json(self):
        folders = {name: dataclasses.asdict(state) for name, state in self.folders.items()}
        if not self.sent_search_at:
            return json.dumps(folders, sort_keys=True)  # the shape of earlier versions
        return json.dumps(
            {
                "version": 2,
                "folders": folders,
                "sent_search_at": self.sent_search_at,
                "sent_search_for": self.sent_search_for,
            },
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text):
        """The state :meth:`to_json` wrote (either shape); an empty state for
        nothing or for text that is not such JSON."""
        if not text:
            return cls()
        try:
            data = json.loads(text)
        except ValueError:
            return cls()
        if not isinstance(data, dict):
            return cls()
        extra = {}
        if data.get("version") == 2 and isinstance(data.get("folders"), dict):
            at, choice = data.get("sent_search_at"), data.get("sent_search_for")
            extra = {
                "sent_search_at": float(at) if isinstance(at, int | float) else 0.0,
                "sent_search_for": choice if isinstance(choice, str) else None,
            }
            data = data["folders"]
        fields = {field.name for field in dataclasses.fields(FolderState)}
        return cls(
            {
                name: FolderState(**{key: value for key, value in values.items() if key in fields})
                for name, values in data.items()
                if isinstance(values, dict) and "name" in values and "role" in values
            },
            **extra,
        )

    @property
    def progress(self):
        """Share of the known messages handed off, 0..1 (1 when nothing to do).

        1.0 once the initial sync is done, however often it was interrupted
        and resumed from a committed state."""
        total = sum(state.total for state in self.folders.values())
        done = sum(min(state.done, state.total) for state in self.folders.values())
        return done / total if total else 1.0


def _normalise(name):
    """A folder name (segment) for comparison: NFC, case-folded, spaces collapsed."""
    text = unicodedata.normalize("NFC", unicodedata.normalize("NFC", name).casefold())
    text = text.replace("i\u0307", "i")  # Turkish capital dotted I folds to i + combining dot
    return " ".join(text.split())


_SENT_KEYS = frozenset(_normalise(name) for name in SENT_NAMES)


def _sent_name_rank(folder):
    """0 (top level, or under [Gmail]) or 1 (under INBOX) when ``folder`` has
    a known sent name there (:data:`SENT_NAMES`); None otherwise."""
    parts = folder.name.split(folder.delimiter) if folder.delimiter else [folder.name]
    rank = _SENT_PARENTS.get(tuple(_normalise(part) for part in parts[:-1]))
    if rank is None or _normalise(parts[-1]) not in _SENT_KEYS:
        return None
    return rank


def _is_inbox(folder):
    return folder.name.upper() == "INBOX"


def sent_folder_candidates(folders):
    """The folders that plausibly are the sent folder, best first.

    :param folders: ``[mailsync.imap.Folder]`` as LIST gives them (names
        already decoded from modified UTF-7)
    :returns: ``[Folder]``: the selectable folders the server flags
        ``\\Sent`` (RFC 6154, or Gmail's XLIST), in the server's order; then
        those with a known sent name (:data:`SENT_NAMES_BY_LANGUAGE`,
        compared NFC-normalised and case-folded) at the top level or under
        ``[Gmail]``; then those under ``INBOX``. A folder deeper down
        (``Customers/Acme/Sent``) is never a candidate. Empty when none:
        the user then picks one among all folders.
    """
    selectable = [folder for folder in folders if folder.selectable and not _is_inbox(folder)]
    flagged = [folder for folder in selectable if folder.special_use == "\\Sent"]
    named = sorted(
        (rank, index, folder)
        for index, folder in enumerate(selectable)
        if folder not in flagged and (rank := _sent_name_rank(folder)) is not None
    )
    return flagged + [folder for _rank, _index, folder in named]


def _choose_sent(folders, sent_folder):
    selectable = [folder for folder in folders if folder.selectable and not _is_inbox(folder)]
    if sent_folder:
        wanted = unicodedata.normalize("NFC", sent_folder)
        for folder in selectable:
            if unicodedata.normalize("NFC", folder.name) == wanted:
                return folder
    flagged = [folder for folder in selectable if folder.special_use == "\\Sent"]
    if flagged:
        # Several flagged (RFC 6154 allows it): a sent name at the best place
        # settles it, else the first the server lists.
        return _best_named(flagged) or flagged[0]
    return _best_named(selectable)


def _best_named(folders):
    named = [(rank, folder) for folder in folders if (rank := _sent_name_rank(folder)) is not None]
    if not named:
        return None
    best = min(rank for rank, _folder in named)
    top = [folder for rank, folder in named if rank == best]
    return top[0] if len(top) == 1 else None  # several at the same level: ambiguous, the user picks


def find_sync_folders(folders, sent_folder=None):
    """The folders to sync: ``{"inbox": Folder, "sent": Folder}``.

    :param folders: ``[mailsync.imap.Folder]`` as listed by the server
    :param sent_folder: the user's explicit choice (a folder name as listed):
        used whenever a selectable folder has that name; else ignored
    :returns: ``"sent"`` is, in this order: the user's choice; the only
        folder flagged ``\\Sent`` (when several are, the one with a known
        sent name at the best level, else the first listed); else the only
        folder with a known sent name at the top level (or under
        ``[Gmail]``), else the only one directly under INBOX. Several at the
        same level, or none: no ``"sent"`` (see
        :func:`sent_folder_candidates` to let the user pick).
    """
    found = {}
    for folder in folders:
        if folder.selectable and _is_inbox(folder):
            found[INBOX] = folder
    sent = _choose_sent(folders, sent_folder)
    if sent:
        found[SENT] = sent
    return found


@dataclasses.dataclass(frozen=True)
class HeaderRecord:
    """One message of a batch, before its body is downloaded.

    ``raw_headers``: the header block (only :data:`HEADER_FIELDS`), bytes.
    ``size``: the whole message's size in bytes as the server reports it
    (``RFC822.SIZE``, RFC 3501 section 7.4.2), known before any download: the
    caller decides from it whether a message is too big to fetch.
    """

    folder: str
    role: str
    uid: int
    raw_headers: bytes
    size: int


@dataclasses.dataclass
class Batch:
    folder: str
    role: str
    records: list
    state: SyncState
    _sync: object = dataclasses.field(repr=False, default=None)

    def iter_bodies(self, uids, chunk=_BODY_CHUNK):
        """Yield ``(uid, raw message bytes)`` for ``uids`` of this batch, in
        UID order, downloading ``chunk`` messages per FETCH (``BODY.PEEK[]``:
        never sets \\Seen), so that only a few bodies are in memory at once
        if the caller does not keep them. A message expunged meanwhile is
        left out. Raises :class:`~mailsync.errors.ConnectionLost` when the
        connection drops."""
        return self._sync._iter_bodies(self.folder, sorted(uids), max(1, int(chunk)))

    def fetch_bodies(self, uids):
        """``{uid: raw message}`` for ``uids`` of this batch; never sets \\Seen.
        Holds them all at once: prefer :meth:`iter_bodies`."""
        return dict(self.iter_bodies(uids))

    def read_ahead(self, chunks, read=None, max_bytes=None):
        """The bodies of ``chunks`` (``[(uids, size in bytes)]``) of this batch,
        each downloaded (:meth:`fetch_bodies`) and read (``read(raw)``, e.g.
        :func:`mailsync.message.parse_message`) on a background thread one
        chunk ahead of the caller: a :class:`mailsync.read_ahead.ReadAhead`,
        to use as a context manager. Inside the block the connection belongs
        to that thread: the caller takes chunks and does not use this
        batch's :class:`MailboxSync` (nor resume :meth:`MailboxSync.batches`)
        until the block is left. A dropped connection is
        :class:`~mailsync.errors.ConnectionLost`, raised where the chunk is
        taken."""
        return ReadAhead(self.fetch_bodies, chunks, read=read, max_bytes=max_bytes)


class MailboxSync:
    """Sync one mailbox over an open :class:`mailsync.imap.ImapSession`.

    :param state: the last committed :class:`SyncState` (None: first sync)
    :param since: a ``datetime.date``: the initial sync takes the mail that
        arrived since then (None: all of it)
    :param batch_size: messages per :class:`Batch`
    :param sent_folder: the user's choice of sent folder (a folder name), see
        :func:`find_sync_folders`
    """

    def __init__(self, session, state=None, since=None, batch_size=500, sent_folder=None):
        self.session = session
        self.client = session.client
        self.state = copy.deepcopy(state) if state else SyncState()
        self.since = since
        self.batch_size = batch_size
        self.sent_folder = sent_folder or None
        self._selected = None
        self.listing = None  # the folders as last listed (LIST), for the caller to show

    @contextlib.contextmanager
    def _errors(self):
        """Typed errors for one IMAP step: a dropped connection is
        ConnectionLost (not the TlsError a reset means during the handshake),
        timeouts and the rest as :func:`mailsync.security.translate_socket_errors`."""
        settings = self.session.settings
        with _translate(settings):
            try:
                yield
            except imaplib.IMAP4.abort as exc:  # imapclient's IMAPClientAbortError; "socket error: EOF"
                raise ConnectionLost(PROTOCOL, settings.host, settings.port, detail=_server_text(exc)) from None
            except TimeoutError:
                raise
            except (OSError, EOFError) as exc:  # reset, broken pipe, TLS cut short (SSLEOFError)...
                detail = exc.reason if isinstance(exc, ssl.SSLError) else getattr(exc, "strerror", None)
                raise ConnectionLost(PROTOCOL, settings.host, settings.port, detail=detail or str(exc)) from None

    def folders(self):
        """All folders as :meth:`mailsync.imap.ImapSession.folders` lists
        them, with a dropped connection as ConnectionLost."""
        with self._errors():
            listing = self.client.list_folders()
        self.listing = [
            Folder(
                name=name,
                delimiter=(delimiter or b"").decode(),
                flags=frozenset(flag.decode() if isinstance(flag, bytes) else flag for flag in flags),
            )
            for flags, delimiter, name in listing
        ]
        return self.listing

    def sync_folders(self):
        return find_sync_folders(self.folders(), self.sent_folder)

    # -- idle poll -------------------------------------------------------
    def changed(self):
        """Whether anything new may be there: one STATUS per synced folder, no
        SELECT, no LIST (a folder renamed or gone makes STATUS fail: True).
        The STATUS commands are sent together (pipelined, RFC 3501 section
        5.5), so the poll costs one round trip whatever the number of
        folders. Raises ConnectionLost when the connection drops."""
        roles = {state.role for state in self.state.folders.values()}
        if INBOX not in roles:
            return True  # never synced
        if SENT not in roles and (
            self.sent_folder != self.state.sent_search_for
            or not 0 <= time.time() - self.state.sent_search_at < SENT_SEARCH_INTERVAL
        ):
            return True  # no sent folder found yet: list again hourly, or now that the user chose one
        known = list(self.state.folders.values())
        try:
            with self._errors():
                statuses = self._pipelined_status([folder.name for folder in known])
        except imap_exc.IMAPClientError:
            return True  # let the full sync find out
        for folder, status in zip(known, statuses, strict=True):
            if status.get(b"UIDVALIDITY") != folder.uidvalidity or status.get(b"UIDNEXT") != folder.uidnext:
                return True
        return False

    def _pipelined_status(self, names):
        """``[{b"UIDNEXT": int, b"UIDVALIDITY": int}]`` of the folders
        ``names``, in order, from STATUS commands sent at once. A folder the
        server refuses, or whose answer cannot be told apart, raises
        ``IMAPClientError`` (the caller looks again with a full sync)."""
        imap = self.client._imap
        tags = [imap._command("STATUS", self.client._normalise_folder(name), "(UIDNEXT UIDVALIDITY)") for name in names]
        for tag in tags:
            typ, data = imap._command_complete("STATUS", tag)
            if typ != "OK":
                raise imap_exc.IMAPClientError(f"STATUS: {data}")
        _typ, answers = imap._untagged_response("OK", [None], "STATUS")
        parsed = []
        for answer in answers:
            if answer is None:
                continue
            folder, items = parse_response([answer])[:2]
            parsed.append((folder if isinstance(folder, str) else imap_utf7.decode(folder), dict(as_pairs(items))))
        by_name = dict(parsed)
        if set(by_name) == set(names):
            return [by_name[name] for name in names]
        if len(parsed) == len(names):  # named its own way (case of INBOX...): answers come in order
            return [items for _name, items in parsed]
        raise imap_exc.IMAPClientError("STATUS answers do not match the folders asked")

    # -- full sync -------------------------------------------------------
    def batches(self):
        """Yield :class:`Batch` objects, inbox first, oldest UID first.

        Raises ConnectionLost, FolderUnavailable, or another
        :class:`~mailsync.errors.MailConnectionError`."""
        folders = self.sync_folders()
        # Folders no longer there are forgotten; the others are synced.
        self.state.folders = {
            name: state
            for name, state in self.state.folders.items()
            if name in {folder.name for folder in folders.values()}
        }
        if SENT in folders:
            self.state.sent_search_at, self.state.sent_search_for = 0.0, None
        else:
            self.state.sent_search_at, self.state.sent_search_for = time.time(), self.sent_folder
        for role in (INBOX, SENT):
            folder = folders.get(role)
            if folder:
                yield from self._folder_batches(folder.name, role)

    def _examine(self, name):
        with self._errors():
            info = self.client.select_folder(name, readonly=True)
        self._selected = name
        return info

    def _open(self, name):
        """EXAMINE ``name``; None when it disappeared since LIST."""
        try:
            return self._examine(name)
        except imap_exc.IMAPClientError as exc:
            refusal, status = _server_text(exc)
        settings = self.session.settings
        # A refusal of the account or the server (RFC 5530 codes such as
        # UNAVAILABLE, LIMIT, EXPIRED, or a provider's words) is not the folder's.
        error = imap_refusal(
            settings.host, settings.port, "select", refusal, microsoft=is_microsoft(settings.host), status=status
        )
        if not (isinstance(error, MailboxRefused) and error.reason is None):
            raise error
        if any(folder.name == name and folder.selectable for folder in self.folders()):
            raise FolderUnavailable(PROTOCOL, settings.host, settings.port, name, refusal)
        return None  # deleted or renamed since LIST: the next run sees the new listing

    def _folder_batches(self, name, role):
        info = self._open(name)
        if info is None:
            self.state.folders.pop(name, None)
            return
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
                state.window_uidnext = uidnext if self.since else 0
            else:
                uids = self._uids_after(state)
                # What is left: the rest of an interrupted sync (already counted
                # in total) plus what arrived since. Counting from ``done`` keeps
                # the progress right however often a sync was resumed.
                state.done = min(state.done, state.total)
                state.total = state.done + len(uids)
        if not uids:
            self._finish(state, uidnext, info)
            yield Batch(name, role, [], copy.deepcopy(self.state), self)
            return

        for start in range(0, len(uids), self.batch_size):
            chunk = uids[start : start + self.batch_size]
            records = self._fetch_headers(name, role, chunk)
            state.last_uid = chunk[-1]
            state.done += len(chunk)
            if start + self.batch_size >= len(uids):
                self._finish(state, uidnext, info)
            yield Batch(name, role, records, copy.deepcopy(self.state), self)

    def _uids_after(self, state):
        """The UIDs above ``state.last_uid`` still to hand off, sorted: the rest
        of an interrupted windowed initial sync (still within ``since``) and
        everything that arrived after it began."""
        after = state.last_uid + 1
        if self.since and state.window_uidnext > after:
            uids = self.client.search(["UID", f"{after}:{state.window_uidnext - 1}", "SINCE", self.since])
            uids += self.client.search(["UID", f"{state.window_uidnext}:*"])
        else:
            uids = self.client.search(["UID", f"{after}:*"])
        return sorted({uid for uid in uids if uid > state.last_uid})

    @staticmethod
    def _finish(state, uidnext, info):
        """The folder is handed off up to the UIDNEXT it had when examined:
        every UID below it was searched (older mail outside the window stays
        behind), so the next sync starts there."""
        state.last_uid = max(uidnext - 1, state.last_uid)
        state.uidnext = max(uidnext, state.last_uid + 1)
        state.highestmodseq = int(info.get(b"HIGHESTMODSEQ", 0) or 0)
        state.window_uidnext = 0

    def _reopen(self, name):
        if self._selected != name:
            self._examine(name)

    def _fetch_headers(self, name, role, uids):
        self._reopen(name)
        with self._errors():
            response = self.client.fetch(uids, [_HEADER_ITEM, b"RFC822.SIZE"])
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
                    raw_headers=header_block(data),
                    size=int(data.get(b"RFC822.SIZE", 0) or 0),
                )
            )
        return records

    def _iter_bodies(self, name, uids, chunk):
        for start in range(0, len(uids), chunk):
            part = uids[start : start + chunk]
            self._reopen(name)
            with self._errors():
                response = self.client.fetch(part, [b"BODY.PEEK[]"])
            for uid in part:
                body = (response.get(uid) or {}).get(b"BODY[]")
                if body is not None:
                    yield uid, body
            del response


def header_block(data):
    """The header block in one message's FETCH data (imapclient's ``{key:
    value}``), whatever the server's spelling of the key: ``BODY[HEADER.FIELDS
    (FROM TO)]``, ``BODY[HEADER.FIELDS ("FROM" "TO")]`` (Courier-IMAP), any
    case or order. ``b""`` when the server sent none."""
    for key, value in data.items():
        if isinstance(key, bytes) and key.upper().startswith(_HEADER_KEY_PREFIX):
            return value or b""
    return b""


def changed(settings, state, sent_folder=None):
    """Whether the mailbox of ``settings`` may have something new since
    ``state`` (:meth:`MailboxSync.changed` on a session of its own, hung up
    after). Raises the connection's errors."""
    from .imap import connect

    session = connect(settings)
    try:
        return MailboxSync(session, state, sent_folder=sent_folder).changed()
    finally:
        session.hang_up()


def poll(jobs, workers=DEFAULT_WORKERS):
    """Idle-poll many mailboxes at once: ``jobs`` is ``[(ImapSettings,
    SyncState, sent_folder)]`` (``sent_folder``: the user's choice, a folder
    name or None, see :class:`MailboxSync`); returns, in order, True
    (something new, or an error the full sync will report) or False. The wait
    is the network's, so threads overlap the round trips of up to ``workers``
    mailboxes (:func:`mailsync.polling.poll_each`)."""
    return poll_each([functools.partial(changed, *job) for job in jobs], workers)


def fetch_messages(session, folder, uids):
    """Whole messages of ``folder`` by UID, read-only (EXAMINE and
    ``BODY.PEEK[]``: no flag changes, RFC 3501 6.3.2 and 6.4.5).

    :param session: an open :class:`mailsync.imap.ImapSession`
    :param uids: UIDs (ints)
    :returns: ``(uidvalidity, {uid: raw message bytes})``; UIDs no longer in
        the folder are absent, and a different UIDVALIDITY than the caller's
        means the UIDs name other messages now (RFC 3501 2.3.1.1); a folder
        that no longer exists gives ``(0, {})``
    :raises mailsync.errors.MailConnectionError: the server cannot be used
    """
    with _translate(session.settings):
        try:
            info = session.client.select_folder(folder, readonly=True)
        except imap_exc.IMAPClientError:
            return 0, {}  # the folder is gone (deleted or renamed)
        response = session.client.fetch(sorted(uids), [b"BODY.PEEK[]"]) if uids else {}
    bodies = {uid: data[b"BODY[]"] for uid, data in response.items() if data.get(b"BODY[]") is not None}
    return int(info.get(b"UIDVALIDITY", 0)), bodies
