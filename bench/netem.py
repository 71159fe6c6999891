"""A loopback TCP proxy that counts client round trips and emulates network latency.

It differs from tests/support/proxy.py in two ways the bench needs:

* Latency is a delay line, not a sleep per chunk: every chunk is due ``rtt / 2`` after
  it arrived and is forwarded then, so two chunks in flight together are delayed once,
  as on a real link, and the delay of one direction never holds up the other. A new
  connection's first client bytes also wait one extra RTT: the TCP handshake a real
  network charges (loopback connects at once).
* The counters live in shared memory, so a handler running in another process (a
  "container") can reset and read them while this process forwards its traffic. The
  proxy runs in the bench's main process, which is otherwise idle, so its threads do
  not compete with the handler for the GIL.

A round trip is a client flight: bytes the client sends after the proxy has delivered
something from the server to it (or its first bytes). TLS and SCRAM set-up count, and
so does the closing Terminate, which nothing waits for.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import queue
import socket
import threading
import time
from dataclasses import dataclass
from multiprocessing.context import BaseContext
from multiprocessing.sharedctypes import SynchronizedArray
from types import TracebackType

_CHUNK = 65536
_FLIGHTS, _CONNECTIONS, _OPEN, _RTT = range(4)


@dataclass
class Counters:
    """Shared-memory counters and the emulated RTT; picklable into child processes."""

    values: SynchronizedArray[float]

    @classmethod
    def create(cls, ctx: BaseContext | None = None) -> Counters:
        """New zeroed counters (with ``ctx``'s shared memory, default: spawn)."""
        context = ctx or multiprocessing.get_context("spawn")
        return cls(context.Array("d", 4))

    @property
    def flights(self) -> int:
        return int(self.values[_FLIGHTS])

    @property
    def connections(self) -> int:
        return int(self.values[_CONNECTIONS])

    @property
    def open(self) -> int:
        return int(self.values[_OPEN])

    @property
    def rtt(self) -> float:
        """Emulated round-trip time in seconds (each direction gets half)."""
        return float(self.values[_RTT])

    def set_rtt(self, seconds: float) -> None:
        self.values[_RTT] = seconds

    def reset(self) -> None:
        with self.values.get_lock():
            self.values[_FLIGHTS] = 0
            self.values[_CONNECTIONS] = 0

    def add(self, index: int, amount: float = 1) -> None:
        with self.values.get_lock():
            self.values[index] += amount

    def settle(self, timeout: float = 5.0) -> None:
        """Wait until every proxied connection has closed, so the counts are final."""
        deadline = time.monotonic() + timeout
        while self.open and time.monotonic() < deadline:
            time.sleep(0.001)


class _Flow:
    """One proxied connection: two delay lines and the flight-counting state."""

    def __init__(self, client: socket.socket, upstream: socket.socket, counters: Counters):
        self.client = client
        self.upstream = upstream
        self.counters = counters
        self.delivered_to_client = True  # the client's first bytes are a flight
        self.lock = threading.Lock()
        self.finished = 0

    def start(self) -> None:
        rtt = self.counters.rtt
        lines = (
            (self.client, self.upstream, True, rtt),  # the first client bytes also pay TCP's RTT
            (self.upstream, self.client, False, 0.0),
        )
        for src, dst, from_client, extra in lines:
            line: queue.SimpleQueue[tuple[float, bytes | None]] = queue.SimpleQueue()
            threading.Thread(
                target=self._receive, args=(src, line, from_client, extra), daemon=True
            ).start()
            threading.Thread(
                target=self._deliver, args=(dst, line, from_client), daemon=True
            ).start()

    def _receive(
        self,
        src: socket.socket,
        line: queue.SimpleQueue[tuple[float, bytes | None]],
        from_client: bool,
        extra: float,
    ) -> None:
        try:
            while data := src.recv(_CHUNK):
                now = time.perf_counter()
                if from_client:
                    self._note_client_bytes()
                line.put((now + self.counters.rtt / 2 + extra, data))
                extra = 0.0
        except OSError:
            pass
        line.put((time.perf_counter() + self.counters.rtt / 2, None))

    def _deliver(
        self,
        dst: socket.socket,
        line: queue.SimpleQueue[tuple[float, bytes | None]],
        from_client: bool,
    ) -> None:
        try:
            while True:
                due, data = line.get()
                wait = due - time.perf_counter()
                if wait > 0:
                    time.sleep(wait)
                if data is None:
                    dst.shutdown(socket.SHUT_WR)
                    break
                if not from_client:
                    # Marked before sending: the client cannot answer bytes it has not got.
                    with self.lock:
                        self.delivered_to_client = True
                dst.sendall(data)
        except OSError:
            for sock in (self.client, self.upstream):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
        self._finish_direction()

    def _note_client_bytes(self) -> None:
        with self.lock:
            flight = self.delivered_to_client
            self.delivered_to_client = False
        if flight:
            self.counters.add(_FLIGHTS)

    def _finish_direction(self) -> None:
        with self.lock:
            self.finished += 1
            done = self.finished == 2
        if done:
            for sock in (self.client, self.upstream):
                sock.close()
            self.counters.add(_OPEN, -1)


class LatencyProxy:
    """Forward 127.0.0.1:<port> to an upstream loopback port with counters and latency."""

    def __init__(self, upstream_port: int, counters: Counters) -> None:
        self.upstream_port = upstream_port
        self.counters = counters
        self._listener = socket.create_server(("127.0.0.1", 0), backlog=128)
        self.port: int = self._listener.getsockname()[1]
        self._closed = False
        threading.Thread(target=self._accept_loop, daemon=True).start()

    def _accept_loop(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=10)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            upstream.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.counters.add(_CONNECTIONS)
            self.counters.add(_OPEN)
            _Flow(client, upstream, self.counters).start()

    def close(self) -> None:
        self._closed = True
        self._listener.close()

    def __enter__(self) -> LatencyProxy:
        return self

    def __exit__(
        self, exc: type[BaseException] | None, val: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
