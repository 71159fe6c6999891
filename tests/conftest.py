"""Fixtures every suite shares: one private Neon-like stack per test session.

The stack is real PostgreSQL behind real PgBouncer (transaction mode, TLS, SCRAM) on
free loopback ports, with DATABASE_URL in Neon's exact shape. Tests isolate their data
by user id (or by a scratch database), never by sharing rows.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator

import pytest

from infra.local import neon_local
from shared.core.settings import get_settings
from tests.support.client import Secrets
from tests.support.gateway import GATEWAY_ENV, RunningGateway, running_gateway
from tests.support.jwks_server import KeyServer
from tests.support.output import Output, captured, logged_records
from tests.support.resets import Configure, new_container


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[neon_local.Stack]:
    """The session's database stack, migrated, with its URLs in the environment."""
    state = tmp_path_factory.mktemp("neon-local")
    started = neon_local.start(state, neon_local.free_port(), neon_local.free_port())
    try:
        with pytest.MonkeyPatch.context() as environment:  # restored when the session ends
            environment.setenv("DATABASE_URL", started.database_url)
            environment.setenv("DATABASE_URL_DIRECT", started.direct_url)
            new_container()
            from shared.jobs.migrate import migrate

            migrate(get_settings())
            yield started
    finally:
        new_container()
        neon_local.stop(started.state_dir)
        shutil.rmtree(started.state_dir, ignore_errors=True)


@pytest.fixture
def fresh_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """Let a test change the environment: settings, engine and keys are new around it."""
    new_container()
    yield monkeypatch
    monkeypatch.undo()
    new_container()


@pytest.fixture
def configure(fresh_settings: pytest.MonkeyPatch) -> Configure:
    """Set environment variables (``db_reuse_connection="true"``…) and start a new container."""

    def apply(**env: str) -> None:
        for name, value in env.items():
            fresh_settings.setenv(name.upper(), value)
        new_container()

    return apply


@pytest.fixture
def user_id() -> str:
    """A user nobody else in the session uses, so tests never see each other's rows."""
    return f"user-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def scratch_database(stack: neon_local.Stack) -> Iterator[str]:
    """An empty database owned by the app role, dropped afterwards."""
    name = f"scratch_{uuid.uuid4().hex[:10]}"
    stack.admin_psql(f'CREATE DATABASE "{name}" OWNER {stack.user}')
    yield name
    stack.admin_psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def key_server() -> Iterator[KeyServer]:
    """Better Auth's JWKS endpoint on loopback, with one fresh signing key."""
    server = KeyServer()
    yield server
    server.stop()


@pytest.fixture
def secrets(stack: neon_local.Stack) -> Secrets:
    """What must never leak: the database password now, tokens as they are minted."""
    found = Secrets()
    found.add(stack.password)
    return found


@pytest.fixture
def output(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture, secrets: Secrets
) -> Iterator[Output]:
    """Captured stdout/stderr (Powertools logs, EMF metrics) and stdlib log records.

    At the end of the test none of them may contain a secret.
    """
    with captured(capsys) as printed:
        yield printed
        secrets.assert_absent(printed.read(), "the printed logs")
        secrets.assert_absent(logged_records(caplog), "the logging records")


@pytest.fixture
def gateway(
    stack: neon_local.Stack, fresh_settings: pytest.MonkeyPatch, user_id: str
) -> Iterator[RunningGateway]:
    """The local gateway as `make run` serves it (its own development auth, CORS for the
    default FRONTEND_ORIGIN), with a development token for a user of its own."""
    for name in GATEWAY_ENV:
        fresh_settings.delenv(name, raising=False)
    with running_gateway(fresh_settings.setenv, user_id) as running:
        yield running
