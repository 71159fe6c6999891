"""Fixtures for the auth tests: a clean environment, a loopback JWKS server, a movable clock,
and a client sending API Gateway events through the handlers (with the database stack)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from infra.local import neon_local
from shared.api import auth
from shared.api.auth import reset_key_cache
from shared.core.observability import metrics
from tests.support.client import Client, Secrets
from tests.support.clock import MovableClock
from tests.support.jwks_server import JwksServer
from tests.support.output import Output
from tests.support.resets import new_container
from tests.support.tokens import AUTH_ENV_VARS, SigningKey, new_key


@pytest.fixture(autouse=True)
def clean_auth_state(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Isolate every test from the environment and from the module-level caches."""
    for name in AUTH_ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    reset_key_cache()
    yield
    reset_key_cache()


@pytest.fixture
def jwks_server() -> Iterator[JwksServer]:
    """A running loopback JWKS server with no keys yet."""
    server = JwksServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def signing_key(jwks_server: JwksServer) -> SigningKey:
    """A fresh Ed25519 key, already published by the JWKS server."""
    key = new_key()
    jwks_server.publish(key)
    return key


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> MovableClock:
    """The clock auth reads, for the test to move (a key set takes it when first built)."""
    moved = MovableClock()
    monkeypatch.setattr(auth, "CLOCK", moved)
    return moved


@pytest.fixture
def client(
    stack: neon_local.Stack,
    fresh_settings: pytest.MonkeyPatch,
    jwks_server: JwksServer,
    secrets: Secrets,
    output: Output,
) -> Client:
    """Requests through the Lambda handlers as API Gateway events, in JWKS mode as deployed
    (only BETTER_AUTH_URL set, naming the loopback server), logs captured and leak-checked."""
    fresh_settings.setenv("BETTER_AUTH_URL", jwks_server.origin)
    new_container()
    # Metrics that other tests' direct authenticate() calls added outside any invocation
    # would be published with this test's first one.
    metrics.clear_metrics()
    return Client(secrets)
