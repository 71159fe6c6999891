"""The data suites' proxy: counts client round trips (see ``flights``), with a fixed delay."""

from __future__ import annotations

import socket
import time

from tests.support.flights import Counters, FlightLink, FlightRelay


class CountingProxy(FlightRelay[FlightLink]):
    """Forward 127.0.0.1:<port> to an upstream port, counting client flights."""

    def __init__(self, upstream_port: int, *, delay: float = 0.0) -> None:
        self.delay = delay  # seconds added to each direction (so RTT grows by 2 * delay)
        super().__init__(upstream_port, Counters.create())

    def _new_link(self, client: socket.socket) -> FlightLink:
        return FlightLink(client, self.counters)

    def _forward(self, link: FlightLink, data: bytes, from_client: bool) -> None:
        if from_client:
            link.client_sent()
        if self.delay:
            time.sleep(self.delay)
        if not from_client:
            link.delivered()
        super()._forward(link, data, from_client)
