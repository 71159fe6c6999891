"""Fixtures for the API tests: auth configured as in production, users, a client.

Every test runs against the session's real database stack, with tokens verified the
production way (EdDSA through a JWKS served on loopback, BETTER_AUTH_URL pointing at
it) unless it switches to HS256 mode. Every reply and every captured output line is
checked for the tokens the test minted and for the database password (the ``output``
and ``secrets`` fixtures of tests/conftest.py).
"""

from __future__ import annotations

import pytest

from infra.local import neon_local
from tests.support.client import Client, Secrets, Tokens, User
from tests.support.jwks_server import KeyServer
from tests.support.output import Output
from tests.support.resets import new_container
from tests.support.tokens import AUTH_ENV_VARS, SECRET


@pytest.fixture(autouse=True)
def production_auth(
    stack: neon_local.Stack,
    fresh_settings: pytest.MonkeyPatch,
    key_server: KeyServer,
    output: Output,
) -> None:
    """JWKS mode as deployed: BETTER_AUTH_URL names the auth server; nothing else is set.

    (``fresh_settings`` starts a new container again once the test is over.)
    """
    for name in AUTH_ENV_VARS:
        fresh_settings.delenv(name, raising=False)
    fresh_settings.setenv("BETTER_AUTH_URL", key_server.origin)
    new_container()


@pytest.fixture
def hs256_mode(fresh_settings: pytest.MonkeyPatch, secrets: Secrets) -> None:
    """Shared-secret mode: only BETTER_AUTH_SECRET is set (and must never leak either)."""
    secrets.add(SECRET)
    fresh_settings.delenv("BETTER_AUTH_URL", raising=False)
    fresh_settings.setenv("BETTER_AUTH_SECRET", SECRET)
    new_container()


@pytest.fixture
def tokens(key_server: KeyServer, secrets: Secrets) -> Tokens:
    """The token factory of this test."""
    return Tokens(key_server, secrets)


@pytest.fixture
def client(secrets: Secrets) -> Client:
    """Invoke handlers with API Gateway events."""
    return Client(secrets)


@pytest.fixture
def alice(tokens: Tokens) -> User:
    """A fresh user with a valid EdDSA token."""
    return tokens.user()


@pytest.fixture
def bob(tokens: Tokens) -> User:
    """Another fresh user with a valid EdDSA token."""
    return tokens.user()
