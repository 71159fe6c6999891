"""Users, tokens and a client that sends requests through the Lambda handlers, leak-checked.

Every token a test mints and the database password are ``Secrets``: the client fails a
test whose reply contains one, and the output fixtures check every log line for them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from functions import create_task
from shared.api.handler import LambdaHandler
from tests.support.events import HTTP_API, Query, Reply, http_api_event, invoke, rest_api_event
from tests.support.jwks_server import KeyServer
from tests.support.tokens import SECRET, SigningKey, better_auth_id, claims, hs256, sign


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

    def user(self) -> User:
        """A fresh Better Auth user with a valid EdDSA token."""
        user_id = better_auth_id()
        return User(user_id, self.eddsa(user_id))


@dataclass
class Client:
    """Sends one request through a Lambda handler as an API Gateway event."""

    secrets: Secrets

    def __call__(self, handler: LambdaHandler, method: str, path: str, **options: Any) -> Reply:
        """Invoke ``handler`` with the event :meth:`event` builds from ``options``."""
        return self.checked(invoke(handler, self.event(method, path, **options)))

    def event(
        self,
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
    ) -> dict[str, Any]:
        """The API Gateway event of a request; ``json_body`` is serialised with application/json."""
        sent = dict(headers or {})
        if token is not None:
            sent.setdefault("Authorization", f"Bearer {token}")
        if json_body is not None:
            body = json.dumps(json_body)
            sent.setdefault("Content-Type", "application/json")
        common: dict[str, Any] = {"headers": sent, "query": query, "body": body}
        common |= {"base64_body": base64_body, "request_id": request_id}
        if version == HTTP_API:
            return http_api_event(method, path, raw_query=raw_query, **common)
        assert raw_query is None, "REST API events carry parsed query parameters only"
        return rest_api_event(method, path, **common)

    def checked(self, reply: Reply) -> Reply:
        """``reply``, once it is known to hold no secret."""
        self.secrets.assert_absent(json.dumps(reply.raw), "a response")
        return reply

    def create(self, user: User, title: str = "a task", **fields: Any) -> dict[str, Any]:
        """Create one of ``user``'s tasks; the test fails unless that is a 201."""
        body = {"title": title, **fields}
        reply = self(create_task.handler, "POST", user.tasks, token=user.token, json_body=body)
        assert reply.status == 201, reply.text
        task: dict[str, Any] = reply.json()
        return task
