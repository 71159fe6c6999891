"""Fixtures of the reliability suites: production auth, containers, and the leak guard.

Every test here runs with the guard: all it prints (Powertools JSON logs and EMF metrics,
from this process or from worker processes that hand their output back) and every reply
are checked at the end for the database password and every bearer token the test minted.
"""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Callable, Iterator

import pytest

from infra import neon_local
from shared.core.observability import logger
from tests.api.conftest import Output, Secrets, Tokens
from tests.auth.jwks_server import KeyServer
from tests.auth.tokens import AUTH_ENV_VARS

from .harness import Api, reset_container

Configure = Callable[..., None]


@pytest.fixture
def secrets(stack: neon_local.Stack) -> Secrets:
    """What must never leak: the database password now, tokens as they are minted."""
    found = Secrets()
    found.add(stack.password)
    return found


class _LiveStdout(io.TextIOBase):
    """Writes to whatever sys.stdout is now (pytest swaps it), as Lambda's stdout would."""

    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()


def logged_records(caplog: pytest.LogCaptureFixture) -> str:
    """Every stdlib log record of the test so far, with its extra fields, as text."""
    records = [*caplog.get_records("setup"), *caplog.get_records("call")]
    return "\n".join(json.dumps(vars(record), default=str) for record in records)


@pytest.fixture(autouse=True)
def output(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture, secrets: Secrets
) -> Iterator[Output]:
    """Everything printed or logged during the test; at the end it must hold no secret."""
    handler = logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    previous = handler.setStream(_LiveStdout())
    captured = Output(capsys)
    try:
        yield captured
        secrets.assert_absent(captured.read(), "the printed logs")
        secrets.assert_absent(logged_records(caplog), "the logging records")
    finally:
        handler.setStream(previous)


@pytest.fixture
def configure(fresh_settings: pytest.MonkeyPatch) -> Iterator[Configure]:
    """Set environment variables (``db_reuse_connection="true"``…) and start a new container."""

    def apply(**env: str) -> None:
        for name, value in env.items():
            fresh_settings.setenv(name.upper(), value)
        reset_container()

    reset_container()
    yield apply
    reset_container()


@pytest.fixture
def api(
    stack: neon_local.Stack,
    configure: Configure,
    fresh_settings: pytest.MonkeyPatch,
    key_server: KeyServer,
    secrets: Secrets,
) -> Api:
    """The API as deployed: JWKS-mode auth against ``key_server``, the pooled DATABASE_URL."""
    for name in AUTH_ENV_VARS:
        fresh_settings.delenv(name, raising=False)
    configure(better_auth_url=key_server.origin, database_url=stack.database_url)
    return Api(Tokens(key_server, secrets), secrets)
