"""The Apps page's and README's screenshots, taken from the real UI (`make screenshots`).

Against a demo database like `make run`'s (Odoo's demo data and the addon's, the demo
mailbox of scripts/demo_servers.py): a salesperson, Sam Seller, connects the demo mailbox,
it syncs, and headless Chromium, driven through the Chrome DevTools protocol, captures

- screenshot_wizard.png: the setup wizard (*Connect a Mailbox*) after a Gmail address,
- screenshot_chatter.png: a contact's chatter with the logged emails,
- screenshot_emails.png: the Emails list,
- screenshot_mailbox.png: the mailbox's form,

into ``--out`` (static/description/). scripts/screenshots.sh prepares Odoo, PostgreSQL and
the virtualenv, runs this with the database to create, and drops it afterwards:

    python scripts/screenshots.py --odoo-bin ODOO/odoo-bin --addons-path PATHS \
        --db NAME [--db-arg=--db_host=...] [--out static/description]

Everything listens on 127.0.0.1 on free ports. Exits non-zero, saying which step failed
(with the last lines of Odoo's log), when a page does not show what it should.
"""

import argparse
import base64
import contextlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests
import websocket

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))

from demo_servers import DEMO_LOGIN, DEMO_PASSWORD  # noqa: E402

WIDTH, HEIGHT = 1600, 1000  # wide enough for Odoo to put the chatter beside the form
WIZARD_EMAIL = "sam.seller@gmail.com"
TIMEZONE = "Europe/Paris"
SALESPERSON = {"name": "Sam Seller", "login": "sam", "password": "sam-demo-password", "email": DEMO_LOGIN}


class StepFailed(Exception):
    """A step of the run did not reach its expected state."""


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(what, check, timeout, interval=0.5):
    """Calls ``check()`` until it returns something truthy (returned) or
    ``timeout`` seconds pass (:class:`StepFailed` naming ``what``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(requests.RequestException, ConnectionError):
            result = check()
            if result:
                return result
        time.sleep(interval)
    raise StepFailed(f"timed out after {timeout} s waiting for {what}")


class OdooRpc:
    """JSON-RPC to the web client's routes, with a session (a requests.Session)."""

    def __init__(self, url, db, login, password):
        self.url, self.session = url, requests.Session()
        result = self._post("/web/session/authenticate", {"db": db, "login": login, "password": password})
        self.uid = result["uid"]

    def _post(self, path, params):
        response = self.session.post(
            self.url + path, json={"jsonrpc": "2.0", "method": "call", "params": params}, timeout=300
        )
        response.raise_for_status()
        answer = response.json()
        if answer.get("error"):
            raise StepFailed(f"{path}: {answer['error'].get('data', {}).get('message') or answer['error']}")
        return answer["result"]

    def call(self, model, method, *args, **kwargs):
        return self._post("/web/dataset/call_kw", {"model": model, "method": method, "args": args, "kwargs": kwargs})

    @property
    def session_id(self):
        return self.session.cookies.get("session_id")


class Chromium:
    """Headless Chromium driven through the Chrome DevTools protocol (one page)."""

    def __init__(self, binary):
        self.profile = tempfile.mkdtemp(prefix="crm-mail-sync-chromium-")
        port = free_port()
        self.process = subprocess.Popen(
            [
                binary,
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-extensions",
                "--hide-scrollbars",
                "--lang=en-US",
                f"--window-size={WIDTH},{HEIGHT}",
                f"--user-data-dir={self.profile}",
                f"--remote-debugging-port={port}",
                "--remote-debugging-address=127.0.0.1",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        pages = wait_until(
            "Chromium's DevTools endpoint",
            lambda: [t for t in requests.get(f"{base}/json/list", timeout=5).json() if t["type"] == "page"],
            60,
        )
        self.ws = websocket.create_connection(pages[0]["webSocketDebuggerUrl"], timeout=60, suppress_origin=True)
        self.next_id = 0
        self.send("Page.enable")
        self.send("Runtime.enable")
        # The browser's time zone is the salesperson's, as on their own computer: Odoo's
        # dates (browser's) and the logged emails' headers (user's) then agree.
        self.send("Emulation.setTimezoneOverride", timezoneId=TIMEZONE)
        self.send(
            "Emulation.setDeviceMetricsOverride",
            width=WIDTH,
            height=HEIGHT,
            deviceScaleFactor=1,
            mobile=False,
        )

    def send(self, method, **params):
        """One DevTools command; returns its result (events in between are dropped)."""
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise StepFailed(f"{method}: {message['error']}")
                return message["result"]

    def evaluate(self, expression):
        result = self.send("Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True)
        if "exceptionDetails" in result:
            raise StepFailed(f"{expression[:80]}...: {result['exceptionDetails'].get('text')}")
        return result["result"].get("value")

    def goto(self, url):
        self.send("Page.navigate", url=url)

    def wait_for(self, selector, timeout=60):
        """Waits until ``selector`` matches a visible element."""
        found = f"document.querySelector({json.dumps(selector)})"
        check = f"(() => {{ const el = {found}; return !!(el && el.offsetParent); }})()"
        wait_until(f"{selector!r} on the page", lambda: self.evaluate(check), timeout)

    def do_action(self, arguments):
        """The web client's ``action.doAction(<arguments>)`` (JavaScript source)."""
        self.evaluate(f"odoo.__WOWL_DEBUG__.root.env.services.action.doAction({arguments}).then(() => true)")

    def settle(self):
        """Waits for fonts and images, then a moment for the last renders."""
        self.evaluate("document.fonts.ready.then(() => true)")
        time.sleep(1.5)

    def screenshot(self, path):
        data = self.send("Page.captureScreenshot", format="png", captureBeyondViewport=False)["data"]
        Path(path).write_bytes(base64.b64decode(data))
        print(f"  {path}", flush=True)

    def close(self):
        with contextlib.suppress(Exception):
            self.ws.close()
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        shutil.rmtree(self.profile, ignore_errors=True)


def find_chromium():
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    raise StepFailed("no Chromium found: install Debian's chromium package (make test installs it)")


def odoo_command(args, data_dir, *extra):
    return [
        sys.executable,
        args.odoo_bin,
        *args.db_arg,
        "-d",
        args.db,
        f"--db-filter=^{args.db}$",
        f"--addons-path={args.addons_path}",
        f"--data-dir={data_dir}",
        *extra,
    ]


def install(args, data_dir, env, log):
    """Creates the database with Odoo's demo data and the addon's, as `make run` does
    (no HTTP meanwhile: a request waiting for the registry would make Odoo restart)."""
    command = odoo_command(args, data_dir, "-i", "crm_mail_sync", "--with-demo", "--stop-after-init", "--no-http")
    done = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, env=env, check=False)
    if done.returncode:
        raise StepFailed(f"installing the addon in {args.db} failed (exit {done.returncode})")


def start_odoo(args, port, data_dir, env, log):
    command = odoo_command(
        args,
        data_dir,
        "--http-interface=127.0.0.1",
        f"--http-port={port}",
        "--workers=0",
        "--max-cron-threads=1",  # the sync runs in the cron, as in production
        "--limit-time-real=1200",  # the first page builds its assets, slowly on a busy machine
    )
    return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)


def installed(odoo, url, db):
    """Whether Odoo answers with the addon installed; :class:`StepFailed` if it stopped."""
    if odoo.poll() is not None:
        raise StepFailed(f"Odoo stopped (exit {odoo.returncode})")
    try:
        admin = OdooRpc(url, db, "admin", "admin")
    except StepFailed:
        return False  # the database is not ready yet
    return admin.call("ir.module.module", "search_count", [("name", "=", "crm_mail_sync"), ("state", "=", "installed")])


def prepare(url, db, imap_port):
    """The salesperson and their demo mailbox, synced; returns
    ``(rpc as the salesperson, mailbox id, id of the contact to show)``."""
    admin = OdooRpc(url, db, "admin", "admin")
    admin.call("ir.config_parameter", "set_param", "crm_mail_sync.allowed_ports", str(imap_port))
    group = admin.call(
        "ir.model.data",
        "search_read",
        [("module", "=", "sales_team"), ("name", "=", "group_sale_salesman")],
        fields=["res_id"],
    )[0]["res_id"]
    admin.call("res.users", "create", [{**SALESPERSON, "group_ids": [(4, group)], "tz": TIMEZONE}])
    sam = OdooRpc(url, db, SALESPERSON["login"], SALESPERSON["password"])
    mailbox = sam.call(
        "crm.mail.account",
        "create",
        [
            {
                "email": DEMO_LOGIN,
                "imap_host": "127.0.0.1",
                "imap_port": imap_port,
                "imap_security": "none",
                "imap_login": DEMO_LOGIN,
                "imap_password": DEMO_PASSWORD,
                "sharing": "team",
            }
        ],
    )[0]
    outcome = sam.call("crm.mail.account", "action_test_connection", [mailbox])
    if outcome["params"]["type"] != "success":
        raise StepFailed(f"the demo mailbox does not connect: {outcome['params']['message']}")
    sam.call("crm.mail.account", "action_sync_now", [mailbox])
    wait_until(
        "the sync to log the demo emails (4: two received, two sent replies)",
        lambda: sam.call("crm.mail.interaction", "search_count", []) >= 4,
        300,
        interval=2,
    )
    maria = sam.call("res.partner", "search", [("email", "=", "maria.garcia@acme-corp.example")])[0]
    return sam, mailbox, maria


def capture(url, sam, mailbox, contact, out):
    browser = Chromium(find_chromium())
    try:
        browser.send(
            "Network.setCookie", name="session_id", value=sam.session_id, domain="127.0.0.1", path="/", httpOnly=True
        )
        browser.goto(f"{url}/odoo/contacts/{contact}")
        browser.wait_for(".o-mail-Chatter .o_crm_mail_sync_email .o_crm_mail_sync_block_sender")
        browser.settle()
        browser.screenshot(out / "screenshot_chatter.png")

        # The other pages from the CRM app, as a salesperson opens them from its menus.
        browser.goto(f"{url}/odoo/crm")
        browser.wait_for(".o_kanban_view .o_kanban_record")
        browser.do_action("'crm_mail_sync.crm_mail_interaction_action', {clearBreadcrumbs: true}")
        browser.wait_for(".o_list_view .o_data_row td[name=direction]")
        browser.settle()
        browser.screenshot(out / "screenshot_emails.png")

        browser.do_action(
            "{type: 'ir.actions.act_window', res_model: 'crm.mail.account', "
            f"res_id: {int(mailbox)}, views: [[false, 'form']]}}, {{clearBreadcrumbs: true}}"
        )
        browser.wait_for(".o_form_view div[name=imap_host]")
        browser.settle()
        browser.screenshot(out / "screenshot_mailbox.png")

        browser.do_action("'crm_mail_sync.crm_mail_account_action', {clearBreadcrumbs: true}")
        browser.wait_for(".o_list_view .o_data_row td[name=imap_host]")
        browser.evaluate(
            "[...document.querySelectorAll('.o_control_panel button')]"
            ".find((button) => button.textContent.includes('Connect a Mailbox')).click()"
        )
        browser.wait_for(".modal .o_form_view div[name=email] input")
        # A Gmail address: its servers and sign-in come from the addon's presets, offline.
        browser.evaluate(
            "(() => { const input = document.querySelector('.modal div[name=email] input');"
            f" input.value = {json.dumps(WIZARD_EMAIL)};"
            " input.dispatchEvent(new Event('input', {bubbles: true}));"
            " input.dispatchEvent(new Event('change', {bubbles: true})); return true; })()"
        )
        browser.evaluate("document.querySelector('.modal footer button[name=action_detect]').click() || true")
        browser.wait_for(".modal .o_form_view div[name=provider_id]")
        browser.settle()
        browser.screenshot(out / "screenshot_wizard.png")
    finally:
        browser.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--odoo-bin", required=True)
    parser.add_argument("--addons-path", required=True)
    parser.add_argument("--db", required=True, help="the database to create (it must not exist)")
    parser.add_argument(
        "--db-arg", action="append", default=[], help="passed to odoo-bin, e.g. --db-arg=--db_port=5432"
    )
    parser.add_argument("--out", type=Path, default=REPO / "static" / "description")
    parser.add_argument("--log", type=Path, default=REPO / ".test-results" / "screenshots-odoo.log")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    args.log.parent.mkdir(parents=True, exist_ok=True)

    imap_port, port = free_port(), free_port()
    url = f"http://127.0.0.1:{port}"
    data_dir = tempfile.mkdtemp(prefix="crm-mail-sync-screenshots-")
    processes = []
    try:
        print("Installing the addon in a demo database (a few minutes), starting the demo mail servers...", flush=True)
        demo = subprocess.Popen(
            [
                sys.executable,
                str(REPO / "scripts" / "demo_servers.py"),
                f"--imap-port={imap_port}",
                f"--imaps-port={free_port()}",
                f"--smtp-port={free_port()}",
            ],
            stdout=subprocess.DEVNULL,
        )
        processes.append(demo)
        env = {**os.environ, "CRM_MAIL_SYNC_KEY": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()}
        with args.log.open("w") as log:
            install(args, data_dir, env, log)
            odoo = start_odoo(args, port, data_dir, env, log)
            processes.append(odoo)
            wait_until("Odoo to answer", lambda: installed(odoo, url, args.db), 300, 2)
            print("Connecting and syncing the demo mailbox...", flush=True)
            sam, mailbox, contact = prepare(url, args.db, imap_port)
            print(f"Capturing into {args.out}:", flush=True)
            capture(url, sam, mailbox, contact, args.out)
    except StepFailed as error:
        tail = args.log.read_text(errors="replace").splitlines()[-30:] if args.log.exists() else []
        sys.exit(f"make screenshots failed: {error}\nLast lines of Odoo's log ({args.log}):\n" + "\n".join(tail))
    finally:
        for process in reversed(processes):
            process.terminate()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
