"""sslnegotiation=direct: TLS right after TCP, one round trip less on every connection."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import text

from infra.local import neon_local
from shared.core.errors import DatabaseUnavailable
from shared.core.settings import Settings
from shared.db.connect import connect
from shared.db.engine import create_db_engine
from shared.db.tls import ALPN_PROTOCOL, tls_of
from shared.db.url import parse_database_url
from tests.support.counting import CountingProxy
from tests.support.postgres18 import Postgres18
from tests.support.tls_front import TlsFront

_DELAY = 0.0005  # as the data suites' proxy: a client's unanswered bytes are one flight


@pytest.fixture
def pg18_proxy(pg18: Postgres18) -> Iterator[CountingProxy]:
    """A flight-counting proxy in front of the PostgreSQL 18 server."""
    with CountingProxy(pg18.port, delay=_DELAY) as counting:
        yield counting


def _setup_flights(proxy: CountingProxy, url: str) -> int:
    proxy.settle()
    proxy.reset()
    connect(parse_database_url(url), Settings()).close()
    proxy.settle()
    return proxy.flights


def test_direct_tls_saves_the_sslrequest_round_trip(
    pg18: Postgres18, pg18_proxy: CountingProxy
) -> None:
    # GIVEN PostgreSQL 18 with TLS and SCRAM (channel binding required)
    url = pg18_proxy.url(pg18.url(channel_binding="require"))
    # WHEN a connection is opened and closed with each negotiation
    negotiated = _setup_flights(pg18_proxy, url)
    direct = _setup_flights(pg18_proxy, url + "&sslnegotiation=direct")
    # THEN direct TLS costs one round trip less: 6 flights become 5
    assert (negotiated, direct) == (6, 5)


def test_a_first_call_over_direct_tls_costs_its_set_up_and_one_round_trip(
    pg18: Postgres18, pg18_proxy: CountingProxy
) -> None:
    # GIVEN a new engine (a cold container's) with sslnegotiation=direct
    url = pg18_proxy.url(pg18.url(sslnegotiation="direct"))
    setup = _setup_flights(pg18_proxy, url)
    engine = create_db_engine(parse_database_url(url), Settings(), autocommit=True)
    pg18_proxy.reset()
    # WHEN its first connection runs one statement
    with engine.connect() as conn:
        assert conn.execute(text("SELECT 1")).scalar() == 1
    pg18_proxy.settle()
    # THEN that is the 5-flight set-up and the statement, no dialect checks
    assert (setup, pg18_proxy.flights) == (5, setup + 1)
    engine.dispose()


def test_direct_tls_keeps_channel_binding(pg18: Postgres18) -> None:
    # GIVEN a URL that requires channel binding over direct TLS
    params = parse_database_url(pg18.url(sslnegotiation="direct", channel_binding="require"))
    # WHEN connecting
    conn = connect(params, Settings())
    # THEN the server agreed to ALPN "postgresql" and the login was channel-bound
    try:
        tls = tls_of(conn.socket)
        assert tls is not None
        assert tls.selected_alpn_protocol() == ALPN_PROTOCOL
        assert conn.auth_mechanism == "SCRAM-SHA-256-PLUS"
    finally:
        conn.close()


def test_direct_tls_resumes_the_previous_session(pg18: Postgres18) -> None:
    # GIVEN a front that resumes TLS sessions, as a pooler or Neon's proxy can, before
    # PostgreSQL 18 (which never resumes), presenting the server's own certificate
    with TlsFront(pg18.port, *pg18.cert_and_key, pg18.ca_file) as front:
        url = pg18.url(sslnegotiation="direct", channel_binding="require")
        params = parse_database_url(url.replace(f":{pg18.port}/", f":{front.port}/"))
        # WHEN three connections are made, as three NullPool requests make them
        mechanisms = []
        for _ in range(3):
            conn = connect(params, Settings())
            mechanisms.append(conn.auth_mechanism)
            conn.close()
        # THEN the first handshake is full, the next ones resume, all channel-bound
        assert front.resumed == [False, True, True]
        assert mechanisms == ["SCRAM-SHA-256-PLUS"] * 3


@pytest.mark.parametrize("endpoint", ["pooler", "postgresql 15"])
def test_a_server_without_direct_tls_fails_at_once_naming_the_parameter(
    stack: neon_local.Stack, endpoint: str
) -> None:
    # GIVEN PgBouncer 1.18 or PostgreSQL 15, which predate direct TLS
    port = stack.pooler_port if endpoint == "pooler" else stack.pg_port
    with CountingProxy(port) as proxy:
        url = proxy.url(stack.database_url if endpoint == "pooler" else stack.direct_url)
        params = parse_database_url(url + "&sslnegotiation=direct")
        # WHEN connecting with sslnegotiation=direct
        with pytest.raises(DatabaseUnavailable) as refused:
            connect(params, Settings(db_connect_attempts=3))
        # THEN one attempt, no retries, and the message names the parameter
        assert proxy.connections == 1
    assert "sslnegotiation=direct" in str(refused.value)
    assert stack.password not in str(refused.value)
