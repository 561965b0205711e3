"""A TCP proxy on 127.0.0.1 that cuts every connection after some bytes.

It stands for a flaky network, a NAT or a corporate proxy that drops long
connections: each accepted connection is relayed to the target until a
number of bytes drawn from ``cut_after_bytes`` (both directions together)
has passed, then both sides are cut, alternately by a reset (RST) and by an
orderly close (FIN), so clients see ECONNRESET, EOF and broken pipes.

Bounded: it listens on 127.0.0.1 only, accepts at most ``max_connections``
connections and stops by itself after ``lifetime`` seconds.
"""

import random
import selectors
import socket
import struct
import threading
import time

from .local_server import LocalServer


class CuttingProxy(LocalServer):
    """Relay 127.0.0.1:``port`` to ``target_host:target_port``, cutting each connection.

    :param cut_after_bytes: ``(min, max)``: each connection is cut after a
        number of bytes drawn uniformly in that range (inclusive)
    :param seed: seed of the draws (the same seed gives the same cuts for the
        same traffic)
    :param max_connections: connections accepted in all; later ones are refused
    :param lifetime: seconds after which the proxy stops by itself

    ``connections`` counts the connections accepted, ``cuts`` those cut.
    Use as a context manager, or call :meth:`start` and :meth:`stop`.
    """

    thread_name = "cutting-proxy"
    backlog = 16

    def __init__(
        self,
        target_host,
        target_port,
        cut_after_bytes=(50_000, 3_000_000),
        seed=None,
        max_connections=500,
        lifetime=300.0,
    ):
        if target_host not in {"127.0.0.1", "localhost", "::1"}:
            raise ValueError("CuttingProxy relays to this machine only")
        low, high = cut_after_bytes
        if not 0 < low <= high:
            raise ValueError("cut_after_bytes must be (min, max) with 0 < min <= max")
        self.target = (target_host, target_port)
        self.cut_after_bytes = (low, high)
        self.max_connections = max_connections
        self.lifetime = lifetime
        super().__init__()
        self.connections = 0
        self.cuts = 0
        self._random = random.Random(seed)  # noqa: S311 - test traffic, not security
        self._lock = threading.Lock()

    def _serve(self):
        deadline = time.monotonic() + self.lifetime
        while not self._stop.is_set() and time.monotonic() < deadline:
            try:
                client, _addr = self._sock.accept()
            except TimeoutError:
                continue
            if self.connections >= self.max_connections:
                client.close()
                continue
            self.connections += 1
            budget = self._random.randint(*self.cut_after_bytes)
            reset = self._random.random() < 0.5
            threading.Thread(target=self._relay, args=(client, budget, reset, deadline), daemon=True).start()
        self._stop.set()

    def _relay(self, client, budget, reset, deadline):
        try:
            server = socket.create_connection(self.target, timeout=5)
        except OSError:
            client.close()
            return
        peers = {client: server, server: client}
        cut = False
        with selectors.DefaultSelector() as selector:
            for sock in peers:
                sock.setblocking(False)
                selector.register(sock, selectors.EVENT_READ)
            try:
                while not self._stop.is_set() and time.monotonic() < deadline:
                    for key, _events in selector.select(0.2):
                        data = key.fileobj.recv(min(65536, budget))
                        if not data:
                            return  # one side closed: close the other
                        target = peers[key.fileobj]
                        target.setblocking(True)
                        target.sendall(data)
                        target.setblocking(False)
                        budget -= len(data)
                        if budget <= 0:
                            cut = True
                            return
            except OSError:
                return
            finally:
                if cut:
                    with self._lock:
                        self.cuts += 1
                    if reset:
                        for sock in peers:
                            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                for sock in peers:
                    sock.close()
