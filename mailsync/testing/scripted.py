"""Scripted IMAP and SMTP servers on 127.0.0.1: they play a script of reply
lines per step, word for word, to replay what real providers answered.

A script is a dict of lists of lines (the format of the provider-reply cases,
``mailsync/tests/data/provider-replies/*.json``); ``{tag}`` is replaced by the
client's IMAP tag. Steps not in the script get an ordinary success reply.

IMAP steps: ``greeting``, ``capability`` (untagged lines; the tagged OK is
added), ``login`` (LOGIN), ``authenticate`` (AUTHENTICATE, after one ``+``
continuation), ``after_login`` (any later command but LOGOUT, NOOP and
CAPABILITY); ``close_after_greeting`` / ``close_after_login`` close the
connection after those steps. A line without ``{tag}`` in ``login``,
``authenticate`` or ``after_login`` is sent as is, and the step is complete
when a tagged line has been sent.

SMTP steps: ``greeting``, ``ehlo``, ``auth`` (the final reply to AUTH, after a
``334`` for each challenge LOGIN or PLAIN without initial response needs),
``mail``, ``rcpt`` (a list, or ``{address: lines}`` to refuse some addresses
only), ``data`` (the reply to DATA, 354 by default) and
``data_end`` (the reply after the message). Multi-line replies are written
out as the server sends them (``250-...``, ``250 ...``).

Each server records the commands it received (``commands``, upper-case verbs
with their arguments; AUTH and LOGIN arguments replaced by ``***``).
"""

import socket
import threading

IMAP_DEFAULT_CAPABILITY = ["* CAPABILITY IMAP4rev1 AUTH=PLAIN AUTH=XOAUTH2 SASL-IR ID IDLE LITERAL+"]


class ScriptedServer:
    """A one-port TCP server on 127.0.0.1 that plays ``script`` to each client.

    :param protocol: ``"IMAP"`` or ``"SMTP"``
    :param script: ``{step: [line, ...], ...}`` (see the module docstring)
    Use as a context manager; ``host`` and ``port`` say where it listens."""

    def __init__(self, protocol, script):
        self.protocol = protocol.upper()
        self.script = script
        self.host = "127.0.0.1"
        self.commands = []
        self._sock = socket.create_server((self.host, 0))
        self._sock.settimeout(0.2)
        self.port = self._sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc_info):
        self._stop.set()
        self._thread.join(5)
        self._sock.close()

    def _serve(self):
        while not self._stop.is_set():
            try:
                conn, _addr = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._session, args=(conn,), daemon=True).start()

    def _session(self, conn):
        conn.settimeout(10)
        reader = conn.makefile("rb")
        try:
            if self.protocol == "IMAP":
                self._imap(conn, reader)
            else:
                self._smtp(conn, reader)
        except OSError:
            return  # the client hung up or timed out: the session is over
        finally:
            reader.close()
            conn.close()

    @staticmethod
    def _send(conn, lines, tag=""):
        data = "".join(line.replace("{tag}", tag) + "\r\n" for line in lines)
        conn.sendall(data.encode())

    # -- IMAP (RFC 9051) -----------------------------------------------------
    def _imap(self, conn, reader):
        script = self.script
        self._send(conn, script.get("greeting", ["* OK IMAP4rev1 ready"]))
        if script.get("close_after_greeting"):
            return
        logged_in = False
        while True:
            line = reader.readline()
            if not line:
                return
            parts = line.decode(errors="replace").rstrip("\r\n").split(" ", 2)
            tag, verb = parts[0], (parts[1].upper() if len(parts) > 1 else "")
            self.commands.append(verb if verb in ("LOGIN", "AUTHENTICATE") else " ".join(parts[1:]))
            if verb == "CAPABILITY":
                self._send(
                    conn, [*script.get("capability", IMAP_DEFAULT_CAPABILITY), "{tag} OK CAPABILITY completed"], tag
                )
            elif verb == "LOGOUT":
                self._send(conn, ["* BYE logging out", "{tag} OK LOGOUT completed"], tag)
                return
            elif verb == "NOOP":
                self._send(conn, ["{tag} OK NOOP completed"], tag)
            elif verb in ("LOGIN", "AUTHENTICATE") and not logged_in:
                if verb == "AUTHENTICATE" and " " not in (parts[2] if len(parts) > 2 else ""):
                    conn.sendall(b"+ \r\n")
                    reader.readline()
                step = "login" if verb == "LOGIN" else "authenticate"
                lines = script.get(step, ["{tag} OK %s completed" % verb])  # noqa: UP031
                self._send(conn, lines, tag)
                logged_in = _tagged_ok(lines)
                if script.get("close_after_login"):
                    return
            else:
                lines = script.get("after_login") if logged_in else None
                if lines:
                    self._send(conn, lines, tag)
                elif verb == "LIST":
                    self._send(conn, ['* LIST (\\HasNoChildren) "/" INBOX', "{tag} OK LIST completed"], tag)
                else:
                    self._send(conn, ["{tag} OK completed"], tag)

    # -- SMTP (RFC 5321) -----------------------------------------------------
    def _smtp(self, conn, reader):
        script = self.script
        self._send(conn, script.get("greeting", ["220 scripted ESMTP"]))
        if script.get("close_after_greeting"):
            return
        while True:
            line = reader.readline()
            if not line:
                return
            text = line.decode(errors="replace").rstrip("\r\n")
            verb, _sep, argument = text.partition(" ")
            verb = verb.upper()
            self.commands.append("AUTH ***" if verb == "AUTH" else text)
            if verb in ("EHLO", "HELO"):
                self._send(conn, script.get("ehlo", ["250-scripted", "250 AUTH PLAIN LOGIN"]))
            elif verb == "AUTH":
                mechanism, _sep, initial = argument.partition(" ")
                challenges = {"LOGIN": 1 if initial else 2, "PLAIN": 0 if initial else 1}.get(mechanism.upper(), 0)
                for _n in range(challenges):
                    conn.sendall(b"334 \r\n")
                    reader.readline()
                self._send(conn, script.get("auth", ["235 2.7.0 Authentication successful"]))
            elif verb == "MAIL":
                self._send(conn, _for_address(script.get("mail"), argument, ["250 2.1.0 Ok"]))
            elif verb == "RCPT":
                self._send(conn, _for_address(script.get("rcpt"), argument, ["250 2.1.5 Ok"]))
            elif verb == "DATA":
                lines = script.get("data", ["354 End data with <CR><LF>.<CR><LF>"])
                self._send(conn, lines)
                if lines[-1].startswith("354"):
                    while reader.readline() not in (b".\r\n", b".\n", b""):
                        pass
                    self._send(conn, script.get("data_end", ["250 2.0.0 Ok: queued"]))
            elif verb == "QUIT":
                self._send(conn, ["221 2.0.0 Bye"])
                return
            elif verb == "STARTTLS":
                self._send(conn, ["454 4.7.0 TLS not available in this scripted server"])
            else:  # RSET, NOOP...
                self._send(conn, ["250 2.0.0 Ok"])


def _for_address(lines, argument, default):
    """``mail``/``rcpt`` lines: a list for every address, or ``{address: lines}``
    for some addresses only (the others get ``default``)."""
    if isinstance(lines, dict):
        address = argument.partition("<")[2].partition(">")[0].lower()
        return lines.get(address, default)
    return lines or default


def _tagged_ok(lines):
    return any(line.startswith("{tag} OK") for line in lines)


# -- playing a provider-reply case against the engine ---------------------------
PASSWORD = "Secret-Pa55word"  # what the client signs in with: must never show in a message
TOKEN = "ya29.secret-access-token"


def play_case(case, *, call=None, authenticate=None, senders=None, recipient=None):
    """Play one provider-reply case (a dict read from its JSON file) against
    the engine, through a :class:`ScriptedServer`; return the typed error the
    engine raised, or None if the call succeeded.

    ``call`` (default: the case's): ``"imap"`` (connect and list folders),
    ``"check"`` (:func:`mailsync.smtp.check` with ``senders``, by default the
    case's ``mail_from`` or login, and ``recipient``, by default the login) or
    ``"send"`` (:func:`mailsync.smtp.send_message`)."""
    from email.message import EmailMessage

    from .. import errors, imap, smtp

    call = call or case["call"]
    settings = case.get("settings", {})
    login = case.get("login", "user@example.com")
    mail_from = case.get("mail_from", login)
    with ScriptedServer(case["protocol"], case["script"]) as server:
        try:
            if call == "imap":
                imap_settings = imap.ImapSettings(
                    server.host,
                    server.port,
                    settings.get("security", "none"),
                    login,
                    "" if settings.get("access_token") else PASSWORD,
                    timeout=5,
                    access_token=TOKEN if settings.get("access_token") else "",
                )
                with imap.connect(imap_settings) as session:
                    session.folders()
                return None
            smtp_settings = smtp.SmtpSettings(
                server.host,
                server.port,
                settings.get("security", "none"),
                settings.get("authenticate", True) if authenticate is None else authenticate,
                login,
                "" if settings.get("access_token") else PASSWORD,
                timeout=5,
                access_token=TOKEN if settings.get("access_token") else "",
            )
            if call == "check":
                smtp.check(
                    smtp_settings,
                    senders=(mail_from,) if senders is None else senders,
                    recipient=login if recipient is None else recipient,
                )
                return None
            message = EmailMessage()
            message["From"], message["To"], message["Subject"] = mail_from, "customer@example.org", "Quote"
            message.set_content("Hello")
            smtp.send_message(smtp_settings, message)
            return None
        except errors.MailConnectionError as error:
            error.commands = list(server.commands)
            return error
