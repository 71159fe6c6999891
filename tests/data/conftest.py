"""Fixtures of the data-layer suites."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from infra.local import neon_local
from tests.support import postgres18
from tests.support.client import Client, Secrets, Tokens, User
from tests.support.counting import CountingProxy
from tests.support.hangups import HangingUpProxy
from tests.support.jwks_server import KeyServer
from tests.support.resets import Configure
from tests.support.tokens import AUTH_ENV_VARS

# Half a millisecond each way: bytes a client sends without waiting for an answer (its
# TLS Finished, then its startup message) reach the proxy before any server bytes sent
# in reply to the first can, so they count as the one flight they are. At zero delay
# the server's TLS session tickets can slip between them and be counted as a turn.
_DELAY = 0.0005


@pytest.fixture
def proxy(stack: neon_local.Stack) -> Iterator[CountingProxy]:
    """A flight-counting proxy in front of the pooler."""
    with CountingProxy(stack.pooler_port, delay=_DELAY) as counting:
        yield counting


@pytest.fixture(scope="session")
def pg18() -> Iterator[postgres18.Postgres18]:
    """A PostgreSQL 18 server (it accepts direct TLS) on its own port beside the stack."""
    server = postgres18.start()
    yield server
    server.stop()


@pytest.fixture
def hanging_proxy(stack: neon_local.Stack) -> Iterator[HangingUpProxy]:
    """A flight-counting proxy in front of the pooler whose server end can go away."""
    with HangingUpProxy(stack.pooler_port, delay=_DELAY) as proxy:
        yield proxy


@pytest.fixture
def kept_connection_api(
    stack: neon_local.Stack,
    hanging_proxy: HangingUpProxy,
    configure: Configure,
    fresh_settings: pytest.MonkeyPatch,
    key_server: KeyServer,
    secrets: Secrets,
) -> tuple[Client, User]:
    """The handlers as deployed with DB_REUSE_CONNECTION=true, through ``hanging_proxy``
    (JWKS auth against ``key_server``), and a user with a valid token."""
    for name in AUTH_ENV_VARS:
        fresh_settings.delenv(name, raising=False)
    url = hanging_proxy.url(stack.database_url)
    configure(better_auth_url=key_server.origin, database_url=url, db_reuse_connection="true")
    return Client(secrets), Tokens(key_server, secrets).user()
