"""The bench's proxy: counts client round trips (see ``flights``) and emulates latency.

Latency is a delay line, not a sleep per chunk: every chunk is due ``rtt / 2`` after it
arrived and is forwarded then, so two chunks in flight together are delayed once, as on a
real link, and the delay of one direction never holds up the other. A new connection's
first client bytes also wait one extra RTT: the TCP handshake a real network charges
(loopback connects at once). The end of a stream travels the line too, as a half-close.

The RTT is read from the shared ``Counters``, so a bench container can change it while the
proxy runs in the bench's main process, which is otherwise idle: its threads do not
compete with the handler for the GIL.
"""

from __future__ import annotations

import queue
import socket
import threading
import time

from tests.support.flights import Counters, FlightLink, FlightRelay

_Line = queue.SimpleQueue[tuple[float, bytes | None]]  # (due, chunk); None: end of stream


class _Flow(FlightLink):
    """A link with one delay line each way."""

    def __init__(self, client: socket.socket, counters: Counters) -> None:
        super().__init__(client, counters)
        self.lines: dict[bool, _Line] = {True: queue.SimpleQueue(), False: queue.SimpleQueue()}
        self.handshake = counters.rtt  # still to be paid by the first client bytes


class LatencyProxy(FlightRelay[_Flow]):
    """Forward 127.0.0.1:<port> to an upstream loopback port with counters and latency."""

    def _new_link(self, client: socket.socket) -> _Flow:
        return _Flow(client, self.counters)

    def _connect(self, link: _Flow) -> bool:
        if not super()._connect(link):
            return False
        # Each delayed chunk must leave when due, not wait for an ACK of the previous one.
        for sock in link.ends(True):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return True

    def _relay(self, link: _Flow) -> None:
        deliverers = [
            threading.Thread(target=self._deliver, args=(link, from_client), daemon=True)
            for from_client in (True, False)
        ]
        for thread in deliverers:
            thread.start()
        super()._relay(link)
        for thread in deliverers:
            thread.join()

    def _forward(self, link: _Flow, data: bytes, from_client: bool) -> None:
        due = time.perf_counter() + self.counters.rtt / 2
        if from_client:
            link.client_sent()
            due += link.handshake
            link.handshake = 0.0
        link.lines[from_client].put((due, data))

    def _drained(self, link: _Flow, from_client: bool) -> None:
        link.lines[from_client].put((time.perf_counter() + self.counters.rtt / 2, None))

    def _deliver(self, link: _Flow, from_client: bool) -> None:
        _, dst = link.ends(from_client)
        line = link.lines[from_client]
        try:
            while True:
                due, data = line.get()
                wait = due - time.perf_counter()
                if wait > 0:
                    time.sleep(wait)
                if data is None:
                    dst.shutdown(socket.SHUT_WR)
                    return
                if not from_client:
                    link.delivered()
                dst.sendall(data)
        except OSError:
            link.shut()
