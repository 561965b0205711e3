"""Download and read the next chunk of message bodies while the caller
handles the current one.

A sync logs the bodies of a batch a chunk at a time (a few messages). Done
one after the other, the wait for chunk N+1 (round trips, transfer, MIME
parsing) adds to the caller's work on chunk N; :class:`ReadAhead` overlaps
them: when the caller takes chunk N, chunk N+1 is already being downloaded
and read on one background thread, and never more than that one chunk
ahead.

The contract, for whoever uses it:

- **Only ``fetch`` and ``read`` run on the other thread**, one call at a time;
  while they do, the caller must not use what ``fetch`` uses (the IMAP
  connection). Neither may touch the caller's database, cursor or other
  thread-bound state. The caller's own work (logging, commits) stays on
  its thread.
- **Order**: chunks are handed back in the order given, each as
  :class:`ChunkBodies` keyed by UID.
- **Memory**: a chunk is read ahead only when its size (the sum of its
  messages' sizes as the server announced them) plus that of the chunk the
  caller holds stays within ``max_bytes``; otherwise it is downloaded when
  the caller asks for it, on the caller's thread, as without read-ahead.
  So at most two chunks are held at once, and a chunk larger than
  ``max_bytes`` (one very large message) is held alone.
- **Errors**: an exception of ``fetch`` (for IMAP: the typed
  :class:`~mailsync.errors.MailConnectionError` subclasses, such as
  :class:`~mailsync.errors.ConnectionLost`) is raised to the caller, the
  same exception object, when it takes that chunk; nothing is read after it.
  An exception of ``read`` costs only its message: it is handed back in
  :attr:`ChunkBodies.failed` for the caller to record.
- **Lifetime**: use it as a context manager. Leaving the block, normally or
  by any exception (``BaseException`` included), waits for the chunk under
  way to finish and stops the thread: no thread outlives the block, and
  the connection is the caller's alone again. A chunk read ahead that the
  caller never took is dropped; the caller did not log it, so it commits
  nothing for it, and a later sync downloads it again.
"""

import concurrent.futures
import dataclasses

THREAD_NAME = "mailsync-read-ahead"


@dataclasses.dataclass
class ChunkBodies:
    """The bodies of one chunk.

    ``read``: ``{uid: read(raw message)}`` for each message downloaded;
    ``failed``: ``{uid: exception}`` for those ``read`` raised on. A UID in
    neither was not found on the server (expunged meanwhile)."""

    read: dict = dataclasses.field(default_factory=dict)
    failed: dict = dataclasses.field(default_factory=dict)


class ReadAhead:
    """Chunks of bodies, each downloaded and read one chunk ahead of the caller.

    :param fetch: ``fetch(uids) -> {uid: raw message bytes}`` (a message no
        longer there is absent), e.g. ``mailsync.imap_sync.Batch.fetch_bodies``
    :param chunks: ``[(uids, size in bytes)]`` in the order the caller takes
        them (:meth:`take`, or iteration)
    :param read: ``read(raw) -> value`` for each downloaded message (e.g. MIME
        parsing, :func:`mailsync.message.parse_message`); the raw bytes are
        dropped once read. None: the raw bytes themselves.
    :param max_bytes: bound of the bytes held at once, see the module's
        docstring (None: no bound)
    :param background: False runs everything on the caller's thread, one
        chunk when taken (for a ``fetch`` that may not leave its thread)
    """

    def __init__(self, fetch, chunks, read=None, max_bytes=None, background=True):
        self._fetch = fetch
        self._chunks = [(list(uids), max(int(size or 0), 0)) for uids, size in chunks]
        self._read = read
        self._max_bytes = max_bytes
        self._background = background
        self._next = 0  # the chunk the caller takes next
        self._ahead = None  # (index, Future) of the chunk being read ahead
        self._executor = None
        self._closed = False

    def __enter__(self):
        self._read_ahead(0, held=0)
        return self

    def __exit__(self, *_exc_info):
        self.close()

    def __len__(self):
        return len(self._chunks)

    def __iter__(self):
        while self._next < len(self._chunks):
            yield self.take()

    def take(self):
        """:class:`ChunkBodies` of the next chunk, waiting for it if need be,
        then starts reading the one after it. Raises what ``fetch`` raised
        for this chunk; ``IndexError`` when every chunk was taken."""
        if self._closed:
            raise RuntimeError("ReadAhead is closed")
        index = self._next
        if index >= len(self._chunks):
            raise IndexError("every chunk was taken")
        self._next += 1
        if self._ahead is not None and self._ahead[0] == index:
            future, self._ahead = self._ahead[1], None
            bodies = future.result()  # the fetch's own exception, raised here
        else:
            bodies = self._download(index)
        self._read_ahead(index + 1, held=self._chunks[index][1])
        return bodies

    def close(self):
        """Wait for the chunk under way (if any) and stop the thread; idempotent."""
        self._closed = True
        self._ahead = None
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)

    def _read_ahead(self, index, held):
        if not self._background or self._closed or index >= len(self._chunks):
            return
        if self._max_bytes is not None and held + self._chunks[index][1] > self._max_bytes:
            return  # downloaded when taken: memory stays that of one chunk
        if self._executor is None:
            self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix=THREAD_NAME)
        self._ahead = (index, self._executor.submit(self._download, index))

    def _download(self, index):
        uids = self._chunks[index][0]
        raws = self._fetch(uids) if uids else {}
        bodies = ChunkBodies()
        for uid in uids:
            raw = raws.pop(uid, None)
            if raw is None:
                continue
            if self._read is None:
                bodies.read[uid] = raw
                continue
            try:
                bodies.read[uid] = self._read(raw)
            except Exception as error:  # noqa: BLE001 - one message's fault costs that message (see failed)
                bodies.failed[uid] = error
            raw = None
        return bodies
