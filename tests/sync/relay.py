"""A TCP relay between `backfill sync` and Postgres that counts the bytes each way (what a slow link would carry)."""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading
from collections.abc import Iterator


class Relay:
    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.up = 0  # client -> Postgres
        self.down = 0  # Postgres -> client
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._stop = threading.Event()

    def reset(self) -> None:
        self.up = self.down = 0

    @contextlib.contextmanager
    def running(self) -> Iterator[Relay]:
        thread = threading.Thread(target=self._accept, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            self._listener.close()
            thread.join(10)

    def _accept(self) -> None:
        self._listener.settimeout(0.1)
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.target_port))
            threading.Thread(target=self._pump, args=(client, server), daemon=True).start()

    def _pump(self, client: socket.socket, server: socket.socket) -> None:
        with client, server, selectors.DefaultSelector() as sel:
            sel.register(client, selectors.EVENT_READ, (server, "up"))
            sel.register(server, selectors.EVENT_READ, (client, "down"))
            while not self._stop.is_set():
                for key, _ in sel.select(0.1):
                    sink, way = key.data
                    data = key.fileobj.recv(65536)  # type: ignore[union-attr]
                    if not data:
                        return
                    sink.sendall(data)
                    if way == "up":
                        self.up += len(data)
                    else:
                        self.down += len(data)
