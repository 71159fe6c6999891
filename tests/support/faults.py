"""The reliability suite's proxy: a loopback link that can misbehave like a real network.

* ``open_delay``: every new connection waits this long before anything is relayed, the
  way a suspended Neon compute takes a moment to answer the first bytes after waking.
* ``reply_delay``: every chunk the server sends waits this long (a slow link), so a login
  made of several flights takes several times as long as any one of them.
* ``cut()`` (from ``Relay``): close every open connection at once, both sides (the network
  drops, or a frozen Lambda container's socket died while it slept).
"""

from __future__ import annotations

import socket

from tests.support.relay import Link, Relay


class FaultProxy(Relay[Link]):
    """Forward 127.0.0.1:<port> to 127.0.0.1:<upstream_port>, with switchable faults."""

    def __init__(
        self, upstream_port: int, *, open_delay: float = 0.0, reply_delay: float = 0.0
    ) -> None:
        self.open_delay = open_delay
        self.reply_delay = reply_delay
        self.connections = 0  # connections accepted so far
        super().__init__(upstream_port)

    def _new_link(self, client: socket.socket) -> Link:
        return Link(client)

    def _accepted(self, link: Link) -> None:
        self.connections += 1

    def _connect(self, link: Link) -> bool:
        # The client's first bytes wait in the socket buffer meanwhile, unanswered.
        if self.open_delay and link.down.wait(self.open_delay):
            return False
        return super()._connect(link)

    def _forward(self, link: Link, data: bytes, from_client: bool) -> None:
        if not from_client and self.reply_delay and link.down.wait(self.reply_delay):
            return
        super()._forward(link, data, from_client)
