"""Fixtures for the auth tests: a clean environment and a loopback JWKS server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from shared.api.auth import reset_key_cache
from tests.support.jwks_server import JwksServer
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
