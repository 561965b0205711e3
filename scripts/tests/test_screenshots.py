"""scripts/screenshots.py (`make screenshots`), its fast parts: the Chromium driver against a
page served on 127.0.0.1, and the clear failure when Odoo fails.

The whole run (a demo database installed, the demo mailbox synced, four pages captured)
takes several minutes, so it is not in this suite: `make screenshots` is that test, and the
pictures it produced are committed.
"""

import importlib.util
import struct
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "screenshots.py"

PAGE = b"""<!DOCTYPE html><html><body style="background: #0a0">
<script>setTimeout(() => { const p = document.createElement("p"); p.className = "late";
p.textContent = "rendered later"; document.body.appendChild(p); }, 500);</script>
</body></html>"""


def load_script():
    spec = importlib.util.spec_from_file_location("screenshots", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def page_url():
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(PAGE)))
            self.end_headers()
            self.wfile.write(PAGE)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def png_size(path):
    data = Path(path).read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", data[16:24])


def test_chromium_waits_for_what_a_page_renders_later_and_captures_it(page_url, tmp_path):
    screenshots = load_script()
    browser = screenshots.Chromium(screenshots.find_chromium())
    try:
        browser.goto(page_url)
        browser.wait_for("p.late", timeout=30)
        assert browser.evaluate("document.querySelector('p.late').textContent") == "rendered later"
        browser.screenshot(tmp_path / "page.png")
        with pytest.raises(screenshots.StepFailed, match="'p.missing' on the page"):
            browser.wait_for("p.missing", timeout=2)
    finally:
        browser.close()
    assert png_size(tmp_path / "page.png") == (screenshots.WIDTH, screenshots.HEIGHT)
    assert (tmp_path / "page.png").stat().st_size > 1000


def test_odoo_failing_is_said_with_its_log(tmp_path):
    fake_odoo = tmp_path / "odoo-bin"
    fake_odoo.write_text("import sys\nprint('could not connect to the database server')\nsys.exit(3)\n")
    done = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            f"--odoo-bin={fake_odoo}",
            "--addons-path=/nonexistent",
            "--db=unused",
            f"--out={tmp_path / 'out'}",
            f"--log={tmp_path / 'odoo.log'}",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode != 0
    assert "make screenshots failed: installing the addon in unused failed (exit 3)" in done.stderr
    assert "could not connect to the database server" in done.stderr, "the end of Odoo's log is shown"
    assert not list((tmp_path / "out").glob("*.png"))
