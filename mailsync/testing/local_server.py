"""What the local test servers share: a socket on 127.0.0.1 served by one
daemon thread, started and stopped as a context manager.

A subclass sets :attr:`thread_name` (and :attr:`backlog` for TCP), implements
``_serve()`` — a loop that returns once ``self._stop`` is set, the socket's
timeout (:attr:`poll`) letting it look — and overrides ``_listen()`` for
anything but a listening TCP socket."""

import http.server
import socket
import ssl
import threading


class ServerContext:
    """``with server:`` runs it from :meth:`start` (which returns the server)
    to :meth:`stop`."""

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()


class HttpServerContext(ServerContext):
    """An :mod:`http.server` handler class served by one daemon thread
    (``ThreadingHTTPServer``), over TLS when given test certificates."""

    _server = None
    _thread = None

    def _serve_http(self, address, handler, certs=None, thread_name="test-http"):
        """Serve ``handler`` on ``address`` (``(host, port)``, port 0: a free
        one, then known in ``port``); HTTPS with ``certs`` (``make_certificates``)."""
        self._server = http.server.ThreadingHTTPServer(address, handler)
        self._server.daemon_threads = True
        if certs:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(certs.cert_file, certs.key_file)
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name=thread_name, daemon=True)
        self._thread.start()

    def _stop_http(self):
        """Stop serving and close the socket (waits up to 5 s for the thread)."""
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread:
            self._thread.join(5)
            self._thread = None


class LocalServer(ServerContext):
    """Listens on ``host:port`` (port 0: a free one, known in ``port`` once
    started) from :meth:`start` to :meth:`stop`; a context manager."""

    thread_name = "test-server"
    backlog = 8
    poll = 0.2  # seconds the serving loop waits on its socket before looking at ``_stop``

    def __init__(self, host="127.0.0.1", port=0):
        self.host = host
        self.port = port
        self._sock = None
        self._thread = None
        self._stop = threading.Event()

    def start(self):
        self._stop.clear()
        self._sock = self._listen()
        self._sock.settimeout(self.poll)
        self.port = self._sock.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, name=self.thread_name, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        if self._thread:
            self._thread.join(5)  # the serving loop sees ``_stop`` within ``poll`` seconds
        if self._sock:
            self._sock.close()  # after the loop: it may still be answering
        self._thread = self._sock = None

    def _listen(self):
        """The bound socket to serve (TCP, listening)."""
        sock = socket.socket()
        sock.bind((self.host, self.port))
        sock.listen(self.backlog)
        return sock

    def _serve(self):
        raise NotImplementedError
