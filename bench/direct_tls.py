"""Direct TLS (sslnegotiation=direct): a connection's set-up counted at the socket.

The private stack's PgBouncer 1.18 and PostgreSQL 15 predate direct TLS, so this section
starts the tests' PostgreSQL 18 (tests/support/postgres18.py: TLS, SCRAM, channel binding
required) and counts the flights of opening and closing one connection with each
negotiation, through the tests' counting proxy with the same 0.5 ms delay.
"""

from __future__ import annotations

from collections import Counter

from bench.results import DirectTlsResult
from shared.db.connect import connect
from shared.db.url import parse_database_url
from tests.support import postgres18
from tests.support.counting import CountingProxy
from tests.support.tokens import settings

_DELAY = 0.0005
_TRIES = 3  # the most common count of three, as for the warm calls
NEGOTIATIONS = ("postgres", "direct")
_SETTINGS = settings()


def measure() -> DirectTlsResult:
    """Set-up flights per sslnegotiation against PostgreSQL 18, and its version."""
    server = postgres18.start()
    try:
        with CountingProxy(server.port, delay=_DELAY) as proxy:
            flights = {
                negotiation: _setup_flights(proxy, proxy.url(_url(server, negotiation)))
                for negotiation in NEGOTIATIONS
            }
            conn = connect(parse_database_url(proxy.url(server.url())), _SETTINGS)
            version = conn.server_parameters.get("server_version", "?")
            conn.close()
    finally:
        server.stop()
    return {"server_version": version, "setup_flights": flights}


def _url(server: postgres18.Postgres18, negotiation: str) -> str:
    return server.url(sslnegotiation=negotiation, channel_binding="require")


def _setup_flights(proxy: CountingProxy, url: str) -> int:
    params = parse_database_url(url)
    seen = []
    for _ in range(_TRIES):
        proxy.settle()
        proxy.reset()
        connect(params, _SETTINGS).close()
        proxy.settle()
        seen.append(proxy.flights)
    return Counter(seen).most_common(1)[0][0]
