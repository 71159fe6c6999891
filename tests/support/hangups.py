"""A counting proxy whose server end goes away at the worst moments, as a kept connection's can.

* ``say(data)``: send bytes to every open client unasked, as a server's FATAL before it
  closes (the connection stays open meanwhile); ``heard_since_saying`` then counts the
  chunks those clients send back.
* ``hang_up_after_next_statement()``: the server's next answer is dropped and the link
  with it; the statement ran, its client never hears so.
* ``hang_up_when_spoken_to()``: the links open now are forgotten without a word; the next
  bytes a client sends on one end it, as a NAT that timed a link out resets it.
"""

from __future__ import annotations

import fcntl
import socket
import struct
import termios
import threading
import time

from tests.support.counting import CountingProxy
from tests.support.flights import FlightLink


def _error_response(*fields: tuple[bytes, str]) -> bytes:
    body = b"".join(code + text.encode() + b"\0" for code, text in fields) + b"\0"
    return b"E" + struct.pack("!i", len(body) + 4) + body


# What PostgreSQL sends a client before it closes the connection when an administrator
# shuts the server down (an ErrorResponse, FATAL 57P01). Said through ``say`` it arrives
# outside the TLS stream: to a client that does not read it, bytes are bytes.
ADMIN_SHUTDOWN = _error_response(
    (b"S", "FATAL"), (b"C", "57P01"), (b"M", "terminating connection due to administrator command")
)


class HangingUpProxy(CountingProxy):
    """A ``CountingProxy`` with the server-side departures above."""

    def __init__(self, upstream_port: int, *, delay: float = 0.0) -> None:
        self._drop_next_answer = threading.Event()
        self._forgotten: set[FlightLink] = set()
        self._told: set[FlightLink] = set()
        self.heard_since_saying = 0  # chunks from clients ``say`` spoke to, since it did
        super().__init__(upstream_port, delay=delay)

    def say(self, data: bytes) -> int:
        """Send ``data`` to every open client, and wait until their side has received it
        (acknowledged it); how many clients there were."""
        links = self._open_links()
        for link in links:
            link.delivered()
            # Sent at once: Nagle would hold these bytes until the client acknowledged
            # the last answer, up to its delayed-ACK timer (40 ms) later.
            link.client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            link.client.sendall(data)
            _until_acknowledged(link.client)
        self._told.update(links)
        return len(links)

    def hang_up_after_next_statement(self) -> None:
        """Drop the next answer from the server, and its connection."""
        self._drop_next_answer.set()

    def hang_up_when_spoken_to(self) -> int:
        """Forget the open links: each ends when its client next speaks; how many there were."""
        links = self._open_links()
        self._forgotten.update(links)
        return len(links)

    def _open_links(self) -> list[FlightLink]:
        with self._lock:
            return list(self._links)

    def _forward(self, link: FlightLink, data: bytes, from_client: bool) -> None:
        if from_client and link in self._told:
            self.heard_since_saying += 1
        if link in self._forgotten if from_client else self._takes_this_answer():
            link.shut()
            return
        super()._forward(link, data, from_client)

    def _takes_this_answer(self) -> bool:
        if not self._drop_next_answer.is_set():
            return False
        self._drop_next_answer.clear()
        return True


def _until_acknowledged(sock: socket.socket, timeout: float = 5.0) -> None:
    """Wait until the peer has acknowledged everything sent on ``sock`` (Linux SIOCOUTQ)."""
    deadline = time.monotonic() + timeout
    while struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, bytes(4)))[0]:
        assert time.monotonic() < deadline, "the client never acknowledged the bytes"
        time.sleep(0.001)
