"""A TCP proxy on 127.0.0.1 that adds a fixed delay in each direction: real
mail servers are tens of milliseconds away, and on loopback a round trip
costs nothing, which would hide the cost of one-message-per-round-trip code.
"""

import asyncio
import socket
import threading
import time


class LatencyProxy:
    """Forward 127.0.0.1:<port> to ``host:port``, each chunk delayed by half
    of ``rtt`` seconds each way (order kept). A zero ``rtt`` still proxies."""

    def __init__(self, host, port, rtt):
        self.target = (host, port)
        self.delay = rtt / 2
        self.port = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server = None

    def __enter__(self):
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._handle, sock=sock), self._loop
        ).result()
        return self

    def __exit__(self, *exc_info):
        self._loop.call_soon_threadsafe(self._server.close)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    async def _handle(self, client_reader, client_writer):
        try:
            server_reader, server_writer = await asyncio.open_connection(*self.target)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(
            self._pipe(client_reader, server_writer), self._pipe(server_reader, client_writer), return_exceptions=True
        )

    async def _pipe(self, reader, writer):
        queue = asyncio.Queue()

        async def deliver():
            while True:
                due, data = await queue.get()
                if data is None:
                    break
                wait = due - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                writer.write(data)
                await writer.drain()
            writer.close()

        sender = asyncio.ensure_future(deliver())
        try:
            while data := await reader.read(65536):
                queue.put_nowait((time.monotonic() + self.delay, data))
        finally:
            queue.put_nowait((0, None))
            await sender
