"""A loopback TCP proxy that counts client round trips and can add network delay.

A round trip here is a client flight: bytes the client sends after it has received
something from the server (or its first bytes). TLS and SCRAM set-up count too, which
is what a request really pays. The closing Terminate also counts as a flight, though
nothing waits for it: compare counts taken the same way, after ``settle()``.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from types import TracebackType

_CHUNK = 65536


class CountingProxy:
    """Forward 127.0.0.1:<port> to an upstream port, counting client flights."""

    def __init__(self, upstream_port: int, *, delay: float = 0.0) -> None:
        self.upstream_port = upstream_port
        self.delay = delay  # seconds added to each direction (so RTT grows by 2 * delay)
        self.flights = 0  # round trips
        self.connections = 0
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._closed = False
        self._open = 0
        threading.Thread(target=self._accept_loop, daemon=True).start()

    def reset(self) -> None:
        with self._lock:
            self.flights = 0
            self.connections = 0

    def _accept_loop(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=10)
        except OSError:
            client.close()
            return
        with self._lock:
            self.connections += 1
            self._open += 1
        state = {"last": ""}
        threading.Thread(
            target=self._pump, args=(upstream, client, "server", state), daemon=True
        ).start()
        self._pump(client, upstream, "client", state)
        with self._lock:
            self._open -= 1

    def settle(self, timeout: float = 5.0) -> None:
        """Wait until every proxied connection has closed, so the counts are final."""
        deadline = time.monotonic() + timeout
        while self._open and time.monotonic() < deadline:
            time.sleep(0.005)

    def _pump(
        self, src: socket.socket, dst: socket.socket, side: str, state: dict[str, str]
    ) -> None:
        try:
            while data := src.recv(_CHUNK):
                if side == "client":
                    self._note(side, state)
                if self.delay:
                    time.sleep(self.delay)
                if side == "server":
                    # Noted when delivered, not when read: the client can only answer
                    # bytes it has got; and before sending, or its answer could win.
                    self._note(side, state)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def _note(self, side: str, state: dict[str, str]) -> None:
        with self._lock:
            if side == "client" and state["last"] != "client":
                self.flights += 1
            state["last"] = side

    def close(self) -> None:
        self._closed = True
        self._listener.close()

    def __enter__(self) -> CountingProxy:
        return self

    def __exit__(
        self, exc: type[BaseException] | None, val: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
