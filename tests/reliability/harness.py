"""What the reliability suites share: route dispatch to the real handlers, users, database checks.

Each request goes to the Lambda function that owns its route (method + path template), as
API Gateway would route it, in an HTTP API (payload 2.0) event built by ``tests/support/events``.
Every reply is checked for the session's secrets before a test sees it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from infra.local import neon_local
from shared.api.handler import LambdaHandler
from tests.support.client import Client, Secrets, Tokens, User
from tests.support.events import Reply
from tests.support.routes import api_routes, handler_of, route_for

TASK_FIELDS = ("id", "user_id", "title", "description", "completed")


def function_for(method: str, path: str) -> LambdaHandler:
    """The handler of the function that owns ``method path``, as API Gateway routes it."""
    route = route_for(method, path)
    if route is None or route not in api_routes():
        raise LookupError(f"no function serves {method} {path}")
    return handler_of(route)


@dataclass
class Api:
    """Sends requests through the owning functions' handlers; mints users and tokens."""

    tokens: Tokens
    secrets: Secrets

    def user(self) -> User:
        """A fresh Better Auth user with a valid token."""
        return self.tokens.user()

    def call(self, method: str, path: str, **options: Any) -> Reply:
        """Invoke the function owning the route with an API Gateway event (``Client``'s options)."""
        return send(self.secrets, method, path, **options)


def send(secrets: Secrets, method: str, path: str, **options: Any) -> Reply:
    """One request through the owning function; the reply must hold none of ``secrets``."""
    return Client(secrets)(function_for(method, path), method, path, **options)


def background(threads: int = 1) -> ThreadPoolExecutor:
    """Threads that can invoke handlers while the test does something else."""
    return ThreadPoolExecutor(threads)


def timed(call: Callable[[], Reply]) -> tuple[Reply, float]:
    """A reply and how long it took, in seconds."""
    started = time.monotonic()
    reply = call()
    return reply, time.monotonic() - started


def stored_tasks(stack: neon_local.Stack, user_ids: Iterable[str]) -> dict[int, dict[str, Any]]:
    """The users' rows as PostgreSQL itself holds them (superuser socket, not the pooler)."""
    quoted = ", ".join("'" + user.replace("'", "''") + "'" for user in user_ids)
    columns = ", ".join(TASK_FIELDS)
    sql = (
        "SELECT coalesce(json_agg(t ORDER BY t.id), '[]') FROM "  # noqa: S608  (test ids)
        f"(SELECT {columns} FROM tasks WHERE user_id IN ({quoted})) t"
    )
    rows: list[dict[str, Any]] = json.loads(stack.admin_psql(sql))
    return {row["id"]: row for row in rows}


def fields(task: dict[str, Any]) -> dict[str, Any]:
    """The stored fields of a task as the API returned it (timestamps left out)."""
    return {name: task[name] for name in TASK_FIELDS}
