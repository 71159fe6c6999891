"""Fixtures for the API tests: auth configured as in production, users, a client, log capture.

Every test runs against the session's real database stack, with tokens verified the
production way (EdDSA through a JWKS served on loopback, BETTER_AUTH_URL pointing at
it) unless it switches to HS256 mode. Every reply and every captured output line is
checked for the tokens the test minted and for the database password.
"""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from functions import create_task
from infra import neon_local
from shared.api import auth
from shared.api.handler import LambdaHandler
from shared.core.observability import logger
from shared.core.settings import get_settings
from tests.auth.jwks_server import KeyServer
from tests.auth.tokens import AUTH_ENV_VARS, SECRET, SigningKey, better_auth_id, claims, hs256, sign

from .events import HTTP_API, Query, Reply, http_api_event, invoke, rest_api_event


@dataclass
class Secrets:
    """Everything that must never appear in a response or a log line."""

    values: list[str] = field(default_factory=list)

    def add(self, value: str) -> str:
        """Remember a secret and return it."""
        self.values.append(value)
        return value

    def assert_absent(self, text: str, where: str) -> None:
        """Fail if any secret occurs in ``text``."""
        for value in self.values:
            assert value not in text, f"a secret leaked into {where}"


@dataclass
class Tokens:
    """Mints tokens the way the configured auth mode expects them; remembers each one."""

    server: KeyServer
    secrets: Secrets

    def eddsa(self, sub: str, *, key: SigningKey | None = None, **overrides: Any) -> str:
        """A Better Auth EdDSA token for ``sub`` (claims overridable), signed by the JWKS key."""
        payload = claims(self.server.origin, sub=sub, id=sub, **overrides)
        return self.secrets.add(sign(key or self.server.key, payload))

    def hs256(self, sub: str, secret: str = SECRET, **overrides: Any) -> str:
        """An HS256 token for ``sub`` signed with ``secret``."""
        payload = claims("", drop=("iss", "aud"), sub=sub, id=sub, **overrides)
        return self.secrets.add(hs256(payload, secret))

    def raw(self, token: str) -> str:
        """Remember a hand-built token so the leak checks look for it too."""
        return self.secrets.add(token)


@dataclass
class User:
    """A Better Auth user id and a valid token for it."""

    id: str
    token: str

    @property
    def tasks(self) -> str:
        """The path of the user's task collection."""
        return f"/api/{self.id}/tasks"

    def task(self, task_id: int | str) -> str:
        """The path of one of the user's tasks."""
        return f"/api/{self.id}/tasks/{task_id}"


@dataclass
class Client:
    """Sends one request through a Lambda handler as an API Gateway event."""

    secrets: Secrets

    def __call__(
        self,
        handler: LambdaHandler,
        method: str,
        path: str,
        *,
        token: str | None = None,
        json_body: Any = None,
        body: str | bytes | None = None,
        headers: dict[str, str] | None = None,
        query: Query | None = None,
        raw_query: str | None = None,
        base64_body: bool = False,
        version: str = HTTP_API,
        request_id: str | None = None,
    ) -> Reply:
        """Invoke ``handler``; ``json_body`` is serialised with application/json."""
        sent = dict(headers or {})
        if token is not None:
            sent.setdefault("Authorization", f"Bearer {token}")
        if json_body is not None:
            body = json.dumps(json_body)
            sent.setdefault("Content-Type", "application/json")
        common: dict[str, Any] = {"headers": sent, "query": query, "body": body}
        common |= {"base64_body": base64_body, "request_id": request_id}
        if version == HTTP_API:
            event = http_api_event(method, path, raw_query=raw_query, **common)
        else:
            assert raw_query is None, "REST API events carry parsed query parameters only"
            event = rest_api_event(method, path, **common)
        reply = invoke(handler, event)
        self.secrets.assert_absent(json.dumps(reply.raw), "a response")
        return reply

    def create(self, user: User, title: str = "a task", **fields: Any) -> dict[str, Any]:
        """Create one of ``user``'s tasks; the test fails unless that is a 201."""
        body = {"title": title, **fields}
        reply = self(create_task.handler, "POST", user.tasks, token=user.token, json_body=body)
        assert reply.status == 201, reply.text
        task: dict[str, Any] = reply.json()
        return task


@pytest.fixture
def secrets(stack: neon_local.Stack) -> Secrets:
    """The secrets of this test: the database password now, tokens as they are minted."""
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
    handler = logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    previous = handler.setStream(_CurrentStdout())
    captured = Output(capsys)
    try:
        yield captured
        captured.read()
        secrets.assert_absent(captured.text, "the logs")
        for record in caplog.records:  # message, arguments and every extra field
            secrets.assert_absent(json.dumps(vars(record), default=str), "a log record")
    finally:
        handler.setStream(previous)


class _CurrentStdout(io.TextIOBase):
    """Writes to whatever sys.stdout is now, as Lambda's stdout is, so capsys sees log lines.

    Powertools binds its handler to the sys.stdout of import time, and pytest swaps
    sys.stdout between test phases.
    """

    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()


class Output:
    """Everything the test printed so far; ``records`` parses the JSON lines."""

    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self._capsys = capsys
        self.text = ""

    def read(self) -> str:
        """Collect what was printed since the last read and return everything so far."""
        out, err = self._capsys.readouterr()
        self.text += out + err
        return self.text

    def records(self) -> list[dict[str, Any]]:
        """Every JSON object printed so far (log records and EMF metric blobs)."""
        found = []
        for line in self.read().splitlines():
            if line.startswith("{"):
                found.append(json.loads(line))
        return found

    def logs(self) -> list[dict[str, Any]]:
        """The Powertools log records printed so far."""
        return [r for r in self.records() if "level" in r and "message" in r]

    def metrics(self) -> list[dict[str, Any]]:
        """The CloudWatch EMF blobs printed so far."""
        return [r for r in self.records() if "_aws" in r]


@pytest.fixture(autouse=True)
def production_auth(
    stack: neon_local.Stack,
    fresh_settings: pytest.MonkeyPatch,
    key_server: KeyServer,
    output: Output,
) -> Iterator[None]:
    """JWKS mode as deployed: BETTER_AUTH_URL names the auth server; nothing else is set."""
    for name in AUTH_ENV_VARS:
        fresh_settings.delenv(name, raising=False)
    fresh_settings.setenv("BETTER_AUTH_URL", key_server.origin)
    _clear_auth_caches()
    yield
    _clear_auth_caches()


def _clear_auth_caches() -> None:
    get_settings.cache_clear()
    auth._verifier.cache_clear()
    auth._jwks_client.cache_clear()


@pytest.fixture
def hs256_mode(fresh_settings: pytest.MonkeyPatch, secrets: Secrets) -> None:
    """Shared-secret mode: only BETTER_AUTH_SECRET is set (and must never leak either)."""
    secrets.add(SECRET)
    fresh_settings.delenv("BETTER_AUTH_URL", raising=False)
    fresh_settings.setenv("BETTER_AUTH_SECRET", SECRET)
    _clear_auth_caches()


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
    user_id = better_auth_id()
    return User(user_id, tokens.eddsa(user_id))


@pytest.fixture
def bob(tokens: Tokens) -> User:
    """Another fresh user with a valid EdDSA token."""
    user_id = better_auth_id()
    return User(user_id, tokens.eddsa(user_id))
