"""A loopback TCP proxy that can misbehave like a real network.

Modelled on ``tests/support/proxy.py`` (which counts round trips) but built for faults:

* ``open_delay``: every new connection waits this long before anything is relayed, the
  way a suspended Neon compute takes a moment to answer the first bytes after waking.
* ``reply_delay``: every chunk the server sends waits this long (a slow link), so a login
  made of several flights takes several times as long as any one of them.
* ``cut()``: close every open connection at once, both sides (the network drops, or a
  frozen Lambda container's socket died while it slept).
"""

from __future__ import annotations

import contextlib
import socket
import threading
from types import TracebackType

_CHUNK = 65536


class FaultProxy:
    """Forward 127.0.0.1:<port> to 127.0.0.1:<upstream_port>, with switchable faults."""

    def __init__(
        self, upstream_port: int, *, open_delay: float = 0.0, reply_delay: float = 0.0
    ) -> None:
        self.upstream_port = upstream_port
        self.open_delay = open_delay
        self.reply_delay = reply_delay
        self.connections = 0  # connections accepted so far
        self._lock = threading.Lock()
        self._open: dict[socket.socket, str] = {}  # socket -> "client" or "server"
        self._closed = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        threading.Thread(target=self._accept_loop, daemon=True).start()

    def url(self, database_url: str) -> str:
        """``database_url`` pointed at this proxy instead of its own port."""
        head, sep, tail = database_url.rpartition(f":{self.upstream_port}/")
        assert sep, "the URL does not name the upstream port"
        return f"{head}:{self.port}/{tail}"

    @property
    def open_connections(self) -> int:
        """Client connections currently relayed."""
        with self._lock:
            return sum(1 for side in self._open.values() if side == "client")

    def cut(self) -> int:
        """Drop every open connection, both directions; return how many client links died."""
        with self._lock:
            victims = dict(self._open)
            self._open.clear()
        for sock in victims:
            _kill(sock)
        return sum(1 for side in victims.values() if side == "client")

    def close(self) -> None:
        """Stop accepting and drop everything."""
        self._closed.set()
        _kill(self._listener)
        self.cut()

    def _accept_loop(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self.connections += 1
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _track(self, sock: socket.socket, side: str) -> None:
        with self._lock:
            self._open[sock] = side

    def _serve(self, client: socket.socket) -> None:
        self._track(client, "client")
        # The client's first bytes wait in the socket buffer meanwhile, unanswered.
        if self.open_delay and self._closed.wait(self.open_delay):
            _kill(client)
            return
        try:
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=10)
        except OSError:
            _kill(client)
            return
        upstream.settimeout(None)
        self._track(upstream, "server")
        threading.Thread(target=self._pump, args=(upstream, client, True), daemon=True).start()
        self._pump(client, upstream, False)

    def _pump(self, src: socket.socket, dst: socket.socket, from_server: bool) -> None:
        try:
            while data := src.recv(_CHUNK):
                if from_server and self.reply_delay and self._closed.wait(self.reply_delay):
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                _kill(sock)
            with self._lock:
                self._open.pop(src, None)
                self._open.pop(dst, None)

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(
        self, exc: type[BaseException] | None, val: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _kill(sock: socket.socket) -> None:
    """Shut a socket down (waking any thread blocked on it) and close it."""
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()
