"""A TCP relay on 127.0.0.1 that behaves like a slower network link: a one-way delay and a bandwidth cap in
each direction. The bench puts it between a client and the local PostgreSQL server to stand for a hosted
Postgres reached over the internet. Bytes are never changed, only delivered later.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator


class Link:
    def __init__(self, target_port: int, *, delay: float, bytes_per_second: float) -> None:
        self.target_port = target_port
        self.delay = delay  # one way, seconds
        self.rate = bytes_per_second  # each direction
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._server: asyncio.Server | None = None

    @contextlib.contextmanager
    def running(self) -> Iterator[Link]:
        thread = threading.Thread(target=self._run, daemon=True)
        thread.start()
        self._ready.wait(10)
        try:
            yield self
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            thread.join(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(asyncio.start_server(self._serve, "127.0.0.1", 0))
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()
        self._server.close()

    async def _serve(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            server_r, server_w = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            client_w.close()
            return
        await asyncio.gather(self._pump(client_r, server_w), self._pump(server_r, client_w), return_exceptions=True)

    async def _pump(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        """Forward one direction: each chunk occupies the link for len/rate, then arrives `delay` later."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def deliver() -> None:
            while True:
                due, data = await queue.get()
                if not data:
                    sink.close()
                    return
                wait = due - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                sink.write(data)
                await sink.drain()

        delivering = asyncio.create_task(deliver())
        link_free = 0.0
        try:
            while data := await source.read(65536):
                link_free = max(loop.time(), link_free) + len(data) / self.rate
                queue.put_nowait((link_free + self.delay, data))
        finally:
            queue.put_nowait((0.0, b""))
            with contextlib.suppress(Exception):
                await delivering
