"""The skeleton of the loopback TCP proxies that tests and the bench put before the pooler.

A ``Relay`` listens on 127.0.0.1, connects every client it accepts to the upstream port
and pumps bytes both ways, one thread per direction, until both have ended. ``cut()``
drops every open connection and ``close()`` stops the whole proxy. What a proxy adds
(counting round trips, emulating latency, misbehaving) goes in the hooks below, which run
on the threads of the connection they are given.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from types import TracebackType
from typing import Generic, Self, TypeVar

_CHUNK = 65536


class Link:
    """One relayed connection: the client's socket and, once connected, the upstream's."""

    def __init__(self, client: socket.socket) -> None:
        self.client = client
        self.upstream: socket.socket | None = None
        # Set when the link is shut, so a proxy's deliberate waits end with it.
        self.down = threading.Event()

    def ends(self, from_client: bool) -> tuple[socket.socket, socket.socket]:
        """(source, destination) of one direction."""
        assert self.upstream is not None, "not connected upstream yet"
        if from_client:
            return self.client, self.upstream
        return self.upstream, self.client

    def shut(self) -> None:
        """Shut both sockets down, both ways, waking every thread blocked on them."""
        self.down.set()
        for sock in self._sockets():
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        # Only once no thread uses the sockets: closing under a blocked recv could let a
        # new connection reuse the descriptor while that thread still reads from it.
        for sock in self._sockets():
            with contextlib.suppress(OSError):
                sock.close()

    def _sockets(self) -> list[socket.socket]:
        return [sock for sock in (self.client, self.upstream) if sock is not None]


L = TypeVar("L", bound=Link)


class Relay(Generic[L]):
    """Forward 127.0.0.1:<port> to 127.0.0.1:<upstream_port>, one ``L`` per connection."""

    def __init__(self, upstream_port: int) -> None:
        # Subclasses set their own attributes before calling this: it starts accepting.
        self.upstream_port = upstream_port
        self._lock = threading.Lock()
        self._links: set[L] = set()
        self._closed = False
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        threading.Thread(target=self._accept_loop, daemon=True).start()

    def url(self, database_url: str) -> str:
        """``database_url`` pointed at this proxy instead of at the upstream port."""
        head, sep, tail = database_url.rpartition(f":{self.upstream_port}/")
        assert sep, "the URL does not name the upstream port"
        return f"{head}:{self.port}/{tail}"

    @property
    def open_connections(self) -> int:
        """Client connections currently relayed."""
        with self._lock:
            return len(self._links)

    def cut(self) -> int:
        """Drop every open connection, both directions; return how many client links died."""
        with self._lock:
            victims = list(self._links)
            self._links.clear()
        for link in victims:
            link.shut()
        return len(victims)

    def close(self) -> None:
        """Stop accepting and drop every open connection."""
        self._closed = True
        # A plain close() would leave the accept loop blocked on the listener for good.
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        self.cut()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc: type[BaseException] | None, val: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # ------------------------------------------------------------------ hooks

    def _new_link(self, client: socket.socket) -> L:
        """The per-connection state this proxy keeps, for a client just accepted."""
        raise NotImplementedError

    def _accepted(self, link: L) -> None:
        """Called on the accept thread, before anything is relayed."""

    def _connect(self, link: L) -> bool:
        """Open ``link``'s upstream connection; False drops the client instead."""
        try:
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=10)
        except OSError:
            return False
        upstream.settimeout(None)
        link.upstream = upstream
        return True

    def _relay(self, link: L) -> None:
        """Pump both directions until both have ended."""
        replies = threading.Thread(target=self._pump, args=(link, False), daemon=True)
        replies.start()
        self._pump(link, True)
        replies.join()

    def _forward(self, link: L, data: bytes, from_client: bool) -> None:
        """Hand on one chunk read from one side."""
        link.ends(from_client)[1].sendall(data)

    def _drained(self, link: L, from_client: bool) -> None:
        """One direction has ended (end of stream or error)."""
        # The other side cannot go on alone: a pooler that closed must not leave the
        # client's connection looking open, nor a client that left the pooler's.
        link.shut()

    def _finished(self, link: L) -> None:
        """Called once ``link`` is over and its sockets are closed."""

    # ------------------------------------------------------------------ machinery

    def _accept_loop(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            link = self._new_link(client)
            with self._lock:
                self._links.add(link)
            self._accepted(link)
            threading.Thread(target=self._serve, args=(link,), daemon=True).start()

    def _serve(self, link: L) -> None:
        try:
            if self._connect(link):
                self._relay(link)
        finally:
            link.close()
            with self._lock:
                self._links.discard(link)
            self._finished(link)

    def _pump(self, link: L, from_client: bool) -> None:
        src, _ = link.ends(from_client)
        try:
            while data := src.recv(_CHUNK):
                self._forward(link, data, from_client)
        except OSError:
            pass
        finally:
            self._drained(link, from_client)
