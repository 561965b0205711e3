"""A private Dovecot 2.3 IMAP server on 127.0.0.1 for tests, benchmarks and the demo.

It runs from its own configuration, ports, base_dir and Maildir tree under a
temporary directory, so any number of them can run beside each other and
beside a system Dovecot. It installs nothing: Debian's ``dovecot-imapd``
package must be there (the test command installs it).

Dovecot's login processes refuse to run as root, so when we are root they run
as the package's ``dovenull``/``dovecot`` users and the mail files belong to
``nobody``; as an ordinary user everything runs as that user.
"""

import dataclasses
import getpass
import grp
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import imapclient

from .certs import make_certificates
from .local_server import ServerContext

# Folders every test mailbox has, with their RFC 6154 special-use flag.
DEFAULT_FOLDERS = {"Sent": "\\Sent", "Drafts": "\\Drafts", "Trash": "\\Trash", "Junk": "\\Junk", "Archive": "\\Archive"}


class DovecotNotInstalled(RuntimeError):
    pass


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def dovecot_binary():
    path = shutil.which("dovecot") or ("/usr/sbin/dovecot" if os.path.exists("/usr/sbin/dovecot") else None)
    if not path:
        raise DovecotNotInstalled(
            "Dovecot is not installed: the IMAP tests run against a real Dovecot. "
            "Install Debian's dovecot-imapd package (`make test` does it for you)."
        )
    return path


@dataclasses.dataclass
class _Accounts:
    uid: int
    gid: int
    login_user: str
    internal_user: str


def _accounts():
    if os.geteuid() == 0:
        nobody = pwd.getpwnam("nobody")
        return _Accounts(nobody.pw_uid, nobody.pw_gid, "dovenull", "dovecot")
    me = getpass.getuser()
    return _Accounts(os.getuid(), os.getgid(), me, me)


class DovecotServer(ServerContext):
    """A running private Dovecot. Use as a context manager or call start()/stop().

    :param users: ``{login: password}``
    :param folders: ``{name: special-use flag or None}`` created for every user;
        ``None`` as a flag leaves the folder without one (clients must then
        recognise it by its name).
    """

    def __init__(self, users=None, folders=None, extra_config="", port=0, ssl_port=0, oauth2_introspection_url=None):
        self.users = dict(users or {"alice@example.com": "alice-password"})
        self.folders = DEFAULT_FOLDERS if folders is None else dict(folders)
        self.extra_config = extra_config
        # XOAUTH2/OAUTHBEARER sign-in, checked by RFC 7662 introspection at this URL.
        self.oauth2_introspection_url = oauth2_introspection_url
        self.host = "127.0.0.1"
        self.port = port or free_port()  # plain IMAP and STARTTLS
        self.ssl_port = ssl_port or free_port()  # IMAP over TLS
        self.root = None
        self.certs = None
        self._process = None
        self._accounts = _accounts()

    # -- lifecycle -------------------------------------------------------
    def start(self):
        binary = dovecot_binary()
        self.root = tempfile.mkdtemp(prefix="crm_mail_sync_dovecot_")
        os.chmod(self.root, 0o755)  # noqa: S103 - the mail processes run as another user
        self.certs = make_certificates(self.root)
        mail_dir = os.path.join(self.root, "mail")
        os.mkdir(mail_dir)
        os.chown(mail_dir, self._accounts.uid, self._accounts.gid)
        self._write_users()
        config = os.path.join(self.root, "dovecot.conf")
        with open(config, "w") as f:
            f.write(self._config())
        with open(os.path.join(self.root, "stderr.log"), "wb") as stderr:
            self._process = subprocess.Popen(
                [binary, "-F", "-c", config],
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                start_new_session=True,
            )
        self._wait_ready()
        return self

    def stop(self):
        if self._process and self._process.poll() is None:
            os.killpg(self._process.pid, signal.SIGTERM)
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self._process.pid, signal.SIGKILL)
                self._process.wait(5)
        self._process = None
        if self.root and not os.environ.get("CRM_MAIL_SYNC_KEEP_DOVECOT"):
            shutil.rmtree(self.root, ignore_errors=True)

    def _wait_ready(self, timeout=15):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"Dovecot exited at start:\n{self.log()}")
            try:
                with socket.create_connection((self.host, self.port), timeout=1) as sock:
                    if sock.recv(64).startswith(b"* OK"):
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"Dovecot did not start within {timeout}s:\n{self.log()}")

    def log(self):
        text = ""
        for name in ("stderr.log", "dovecot.log"):
            path = os.path.join(self.root or "", name)
            if os.path.exists(path):
                with open(path, errors="replace") as f:
                    text += f.read()
        return text

    # -- configuration ---------------------------------------------------
    def _write_users(self):
        acc = self._accounts
        lines = []
        for login, password in self.users.items():
            home = os.path.join(self.root, "mail", login)
            lines.append(f"{login}:{{PLAIN}}{password}:{acc.uid}:{acc.gid}::{home}::")
        path = os.path.join(self.root, "users")
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        os.chmod(path, 0o644)

    def add_user(self, login, password):
        """Add a user to the running server (the passwd-file is re-read on change)."""
        self.users[login] = password
        self._write_users()

    def _config(self):
        acc = self._accounts
        root = self.root
        mailboxes = "\n".join(
            f'    mailbox "{name}" {{\n      auto = subscribe\n'
            + (f"      special_use = {flag}\n" if flag else "")
            + "    }"
            for name, flag in self.folders.items()
        )
        not_root = os.geteuid() != 0
        chroot = "  chroot =\n" if not_root else ""
        group = grp.getgrgid(acc.gid).gr_name
        mechanisms = "plain login"
        oauth2 = ""
        if self.oauth2_introspection_url:
            mechanisms += " xoauth2 oauthbearer"
            with open(os.path.join(root, "oauth2.conf.ext"), "w") as f:
                f.write(
                    f"introspection_url = {self.oauth2_introspection_url}\n"
                    "introspection_mode = post\n"
                    "username_attribute = email\n"
                    "active_attribute = active\n"
                    "active_value = true\n"
                )
            oauth2 = f"""passdb {{
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = {root}/oauth2.conf.ext
}}
"""
        return f"""# Private test Dovecot written by crm_mail_sync's test harness.
base_dir = {root}/run
state_dir = {root}/state
instance_name = crm_mail_sync_{os.path.basename(root)}
listen = 127.0.0.1
protocols = imap
log_path = {root}/dovecot.log
default_login_user = {acc.login_user}
default_internal_user = {acc.internal_user}
default_internal_group = {grp.getgrgid(pwd.getpwnam(acc.internal_user).pw_gid).gr_name}
first_valid_uid = {min(acc.uid, 500)}
first_valid_gid = {min(acc.gid, 500)}
mail_privileged_group = {group}
ssl = yes
ssl_cert = <{self.certs.cert_file}
ssl_key = <{self.certs.key_file}
ssl_min_protocol = TLSv1.2
disable_plaintext_auth = no
auth_mechanisms = {mechanisms}
mail_location = maildir:~/Maildir
{oauth2}passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/users
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {root}/users
}}
namespace inbox {{
  inbox = yes
  separator = /
{mailboxes}
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {self.ssl_port}
    ssl = yes
  }}
{chroot}}}
service stats {{
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
service anvil {{
{chroot}}}
protocol imap {{
  mail_max_userip_connections = 200
}}
{self.extra_config}
"""

    # -- mailbox content -------------------------------------------------
    def client(self, login):
        """A logged-in imapclient connection (plain, for seeding and inspection)."""
        client = imapclient.IMAPClient(self.host, port=self.port, ssl=False, timeout=10)
        client.login(login, self.users[login])
        return client

    def append(self, login, folder, message, flags=(), msg_time=None):
        """Store a raw RFC 5322 message (bytes) in a folder, over IMAP APPEND."""
        client = self.client(login)
        try:
            if not client.folder_exists(folder):
                client.create_folder(folder)
            client.append(folder, message, flags=flags, msg_time=msg_time)
        finally:
            client.logout()

    def clear(self, login):
        """Delete every message of every folder of a user (between tests)."""
        client = self.client(login)
        try:
            for _flags, _delimiter, name in client.list_folders():
                client.select_folder(name)
                messages = client.search(["ALL"])
                if messages:
                    client.delete_messages(messages)
                    client.expunge()
        finally:
            client.logout()
