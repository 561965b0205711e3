"""A scripted IMAP server on 127.0.0.1 that plays given response lines.

For the server quirks a real Dovecot does not have (Courier-IMAP quoting the
header field names in FETCH, Exchange listing localized folder names without
special-use flags, a connection dropped in the middle of a command), tests
run the real client (imapclient, unpatched) against this server, which
answers each command with the lines the test gives it.

A script maps a command (``"LIST"``, ``"EXAMINE"``, ``"UID SEARCH"``,
``"UID FETCH"``, ``"STATUS"``, ...) to a :class:`Reply`, to a list of Replies
(one per command in turn, the last one repeating), or to a plain list of
untagged lines (then the command completes with OK). ``CAPABILITY``,
``LOGIN``, ``NOOP`` and ``LOGOUT`` answer by themselves; anything else not in
the script gets ``BAD``. Lines are the bytes after ``* `` on the wire; a
``(prefix, literal)`` tuple sends ``prefix`` (ending in ``{n}``), CRLF and the
literal, and the line after it continues that response (as in imaplib's own
representation, see :func:`untagged`).

The server is bounded: it serves at most ``max_connections`` connections,
listens only on 127.0.0.1, and stops by itself after ``lifetime`` seconds.
"""

import dataclasses
import socket
import struct
import threading
import time

from .local_server import LocalServer

CAPABILITIES = b"IMAP4rev1 LITERAL+ AUTH=PLAIN"


@dataclasses.dataclass
class Reply:
    """The answer to one command.

    :param lines: untagged response lines (bytes after ``* ``, or
        ``(prefix, literal)`` tuples followed by the rest of their line)
    :param status: ``"OK"``, ``"NO"`` or ``"BAD"`` for the tagged completion
    :param text: the completion's text (may start with a response code)
    :param drop: ``None`` to complete normally; ``"close"`` to close the
        connection (FIN) after sending ``lines`` and before the completion;
        ``"reset"`` to abort it (RST) instead
    """

    lines: list = dataclasses.field(default_factory=list)
    status: str = "OK"
    text: str = "done"
    drop: str | None = None


def untagged(kind, items):
    """Wire lines for imaplib's stored form of untagged ``kind`` responses.

    imaplib keeps ``* LIST (...) "/" "INBOX"`` as ``b'(...) "/" "INBOX"'`` and
    ``* 1 FETCH (...)`` as ``b'1 (...)'`` (a literal as a ``(prefix, bytes)``
    tuple, the rest of its line as the next item); this puts the kind back."""
    numbered = kind.upper() in {"FETCH", "EXISTS", "EXPUNGE", "RECENT"}
    kind = kind.upper().encode()
    lines = []
    after_literal = False
    for item in items:
        if after_literal:  # the rest of the line that held the literal
            lines.append(item)
            after_literal = isinstance(item, tuple)
            continue
        head = item[0] if isinstance(item, tuple) else item
        if numbered:
            number, _space, rest = head.partition(b" ")
            head = number + b" " + kind + (b" " + rest if rest else b"")
        else:
            head = kind + b" " + head
        if isinstance(item, tuple):
            lines.append((head, item[1]))
            after_literal = True
        else:
            lines.append(head)
    return lines


def select_lines(info):
    """Untagged lines of a SELECT/EXAMINE answer from ``{b"UIDVALIDITY": n, b"UIDNEXT": n, b"EXISTS": n}``."""
    lines = [b"FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)"]
    if b"EXISTS" in info:
        lines.append(b"%d EXISTS" % info[b"EXISTS"])
    for key in (b"UIDVALIDITY", b"UIDNEXT", b"HIGHESTMODSEQ"):
        if key in info:
            lines.append(b"OK [%s %d] ok" % (key, info[key]))
    return lines


class ScriptedImapServer(LocalServer):
    """Serve ``script`` (see the module docstring) on 127.0.0.1; a context manager.

    ``commands`` records every command received, as ``(verb, arguments)``
    strings (``("UID FETCH", "7 (...)")``), for tests to inspect."""

    thread_name = "scripted-imap"

    def __init__(self, script, max_connections=20, lifetime=60.0, greeting=b"OK scripted IMAP ready"):
        self.script = {key.upper(): value for key, value in script.items()}
        self.max_connections = max_connections
        self.lifetime = lifetime
        self.greeting = greeting
        super().__init__()
        self.commands = []

    def _serve(self):
        deadline = time.monotonic() + self.lifetime
        served = 0
        while not self._stop.is_set() and time.monotonic() < deadline and served < self.max_connections:
            try:
                conn, _addr = self._sock.accept()
            except TimeoutError:
                continue
            served += 1
            threading.Thread(target=self._session, args=(conn, deadline), daemon=True).start()

    def _session(self, conn, deadline):
        conn.settimeout(max(0.1, min(10.0, deadline - time.monotonic())))
        reader = conn.makefile("rb")
        try:
            conn.sendall(b"* " + self.greeting + b"\r\n")
            while not self._stop.is_set():
                line = self._read_command(conn, reader)
                if line is None:
                    return
                tag, _space, rest = line.partition(b" ")
                verb, arguments = _split_command(rest)
                self.commands.append((verb, arguments))
                if not self._answer(conn, tag, verb):
                    return
        except OSError:
            return
        finally:
            reader.close()
            conn.close()

    @staticmethod
    def _read_command(conn, reader):
        """One command line, with any literals the client sends inlined."""
        line = b""
        while True:
            part = reader.readline(1 << 20)
            if not part:
                return None
            part = part.rstrip(b"\r\n")
            line += part
            if not part.endswith(b"}") or b"{" not in part:
                return line
            size = part[part.rindex(b"{") + 1 : -1]
            synchronizing = not size.endswith(b"+")
            if synchronizing:
                conn.sendall(b"+ go ahead\r\n")
            line += reader.read(int(size.rstrip(b"+")))

    def _answer(self, conn, tag, verb):
        if verb in self.script:
            reply = self.script[verb]
            if isinstance(reply, list) and reply and all(isinstance(item, Reply) for item in reply):
                # Replies in turn, one per command; the last one repeats.
                reply = reply.pop(0) if len(reply) > 1 else reply[0]
            elif not isinstance(reply, Reply):
                reply = Reply(list(reply))
        elif verb == "CAPABILITY":
            reply = Reply([b"CAPABILITY " + CAPABILITIES])
        elif verb in {"LOGIN", "NOOP"}:
            reply = Reply()
        elif verb == "LOGOUT":
            reply = Reply([b"BYE logging out"])
        else:
            reply = Reply(status="BAD", text="not in the script")
        conn.sendall(_wire(reply.lines))
        if reply.drop == "reset":
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return False
        if reply.drop:
            return False
        conn.sendall(tag + b" " + reply.status.encode() + b" " + reply.text.encode() + b"\r\n")
        return verb != "LOGOUT"


def _split_command(rest):
    words = rest.decode("utf-8", "replace").split(" ")
    verb = words[0].upper()
    if verb == "UID" and len(words) > 1:
        return f"UID {words[1].upper()}", " ".join(words[2:])
    return verb, " ".join(words[1:])


def _wire(lines):
    out = b""
    after_literal = False
    for item in lines:
        if isinstance(item, tuple):
            out += (b"" if after_literal else b"* ") + item[0] + b"\r\n" + item[1]
            after_literal = True
        elif after_literal:
            out += item + b"\r\n"
            after_literal = False
        else:
            out += b"* " + item + b"\r\n"
    return out
