"""Fixtures of the data-layer suites."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from infra.local import neon_local
from tests.support import postgres18
from tests.support.counting import CountingProxy

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
