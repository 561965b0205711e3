"""A small HTTPS (or HTTP) server on 127.0.0.1 for autoconfig and Autodiscover tests.

Routes are chosen by the ``Host`` header and the path (the query is ignored),
so one server stands for many hosts: the client resolves ``autoconfig.good.example``
to 127.0.0.1 through the test DNS server, connects here, and asks with its name.

    routes = {("autoconfig.good.example", "/mail/config-v1.1.xml"): Reply(200, xml_bytes)}
    with HttpServer(routes, hostnames=["autoconfig.good.example"]) as server:
        server.port, server.certs.ca_file, server.requests

A route may be a :class:`Reply` or a callable ``(handler) -> Reply``; a
``Reply`` with ``delay`` waits before answering (a stalled server), with
``chunked`` sends its body without a Content-Length. Unknown routes get 404.
"""

import contextlib
import dataclasses
import http.server
import ssl
import tempfile
import time

from .certs import make_certificates
from .local_server import HttpServerContext


@dataclasses.dataclass(frozen=True)
class Reply:
    status: int = 200
    body: bytes = b""
    content_type: str = "text/xml"
    delay: float = 0.0
    no_length: bool = False  # stream the body with no Content-Length (connection closed at the end)
    headers: dict = dataclasses.field(default_factory=dict)  # e.g. {"Location": ...}


class HttpServer(HttpServerContext):
    """A running threaded HTTP server; ``tls=True`` serves HTTPS with a test CA."""

    def __init__(self, routes=None, hostnames=("localhost",), tls=True, host="127.0.0.1"):
        self.routes = dict(routes or {})
        self.hostnames = tuple(hostnames)
        self.tls = tls
        self.host = host
        self.port = 0
        self.requests = []  # (host, path with query), in arrival order
        self.certs = None
        self._tmp = None

    def start(self):
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):
                host = (self.headers.get("Host") or "").rsplit(":", 1)[0].lower()
                path = self.path.split("?", 1)[0]
                owner.requests.append((host, self.path))
                reply = owner.routes.get((host, path)) or owner.routes.get(("*", path))
                if callable(reply):
                    reply = reply(self)
                reply = reply or Reply(404, b"not found", "text/plain")
                if reply.delay:
                    time.sleep(reply.delay)
                # The client may stop reading (a size limit): expected, not an error.
                with contextlib.suppress(BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
                    self.send_response(reply.status)
                    self.send_header("Content-Type", reply.content_type)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    if not reply.no_length:
                        self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    for start in range(0, len(reply.body), 65536):
                        self.wfile.write(reply.body[start : start + 65536])

        if self.tls:
            self._tmp = tempfile.TemporaryDirectory(prefix="crm-mail-sync-https-")
            self.certs = make_certificates(self._tmp.name, hostnames=self.hostnames)
        self._serve_http((self.host, 0), Handler, self.certs if self.tls else None)
        return self

    def stop(self):
        self._stop_http()
        if self._tmp:
            self._tmp.cleanup()
            self._tmp = None

    def asked(self, host=None):
        return [(h, p) for h, p in self.requests if host is None or h == host]
