"""Round-trip counting for relays: what a flight is, and counters another process can read.

A round trip here is a client flight: bytes the client sends after the proxy has delivered
something from the server to it (or its first bytes). TLS and SCRAM set-up count too,
which is what a request really pays. The closing Terminate also counts as a flight, though
nothing waits for it: compare counts taken the same way, after ``settle()``.

The counters live in shared memory so that a handler running in another process (a bench
"container") can reset and read them, and set the RTT a ``LatencyProxy`` emulates, while
the proxy forwards its traffic in this one.
"""

from __future__ import annotations

import multiprocessing
import socket
import threading
import time
from dataclasses import dataclass
from multiprocessing.context import BaseContext
from multiprocessing.sharedctypes import SynchronizedArray
from typing import TypeVar

from tests.support.relay import Link, Relay

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
        while self.values[_OPEN] and time.monotonic() < deadline:
            time.sleep(0.001)


class FlightLink(Link):
    """A link that knows whether the client has been delivered anything since it spoke."""

    def __init__(self, client: socket.socket, counters: Counters) -> None:
        super().__init__(client)
        self._counters = counters
        self._answered = True  # the client's first bytes are a flight
        self._turn = threading.Lock()

    def client_sent(self) -> None:
        """Note client bytes as they arrive at the proxy."""
        with self._turn:
            flight, self._answered = self._answered, False
        if flight:
            self._counters.add(_FLIGHTS)

    def delivered(self) -> None:
        """Note server bytes as they are handed to the client, before ``sendall``.

        Not when read: the client can only answer bytes it has got. And before sending,
        or its answer could be noted first.
        """
        with self._turn:
            self._answered = True


FL = TypeVar("FL", bound=FlightLink)


class FlightRelay(Relay[FL]):
    """A relay that counts client flights, connections and open links in ``counters``.

    Subclasses call ``client_sent()`` and ``delivered()`` on their links as bytes pass.
    """

    def __init__(self, upstream_port: int, counters: Counters) -> None:
        self.counters = counters
        super().__init__(upstream_port)

    @property
    def flights(self) -> int:
        """Round trips since the last ``reset()``."""
        return self.counters.flights

    @property
    def connections(self) -> int:
        """Connections accepted since the last ``reset()``."""
        return self.counters.connections

    def reset(self) -> None:
        self.counters.reset()

    def settle(self, timeout: float = 5.0) -> None:
        """Wait until every proxied connection has closed, so the counts are final."""
        self.counters.settle(timeout)

    def _accepted(self, link: FL) -> None:
        self.counters.add(_CONNECTIONS)
        self.counters.add(_OPEN)

    def _finished(self, link: FL) -> None:
        self.counters.add(_OPEN, -1)
