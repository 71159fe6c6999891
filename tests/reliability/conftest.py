"""Fixtures of the reliability suites: production auth, containers, and the leak guard.

Every test here runs with the guard (the ``output`` fixture of tests/conftest.py): all it
prints (Powertools JSON logs and EMF metrics: from this process, echoed from the functions'
worker processes, or handed back by the load test's clients) and every reply are checked at
the end for the database password and every bearer token the test minted.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from infra.local import neon_local
from tests.support.client import Secrets, Tokens
from tests.support.jwks_server import KeyServer
from tests.support.output import Output
from tests.support.resets import Configure
from tests.support.tokens import AUTH_ENV_VARS

from .harness import Api


@pytest.fixture(autouse=True)
def leak_guard(output: Output) -> Output:
    """Every test of these suites is checked for leaked secrets."""
    return output


@pytest.fixture
def api(
    stack: neon_local.Stack,
    configure: Configure,
    fresh_settings: pytest.MonkeyPatch,
    key_server: KeyServer,
    secrets: Secrets,
) -> Iterator[Api]:
    """The API as deployed: JWKS-mode auth against ``key_server``, the pooled DATABASE_URL;
    its worker processes stop when the test ends."""
    for name in AUTH_ENV_VARS:
        fresh_settings.delenv(name, raising=False)
    configure(better_auth_url=key_server.origin, database_url=stack.database_url)
    api = Api(Tokens(key_server, secrets), secrets)
    yield api
    api.close()
