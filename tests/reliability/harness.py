"""What the reliability suites share: route dispatch to the real handlers, users, database checks.

Each request goes to the Lambda function that owns its route (method + path template), as
API Gateway would route it, in an HTTP API (payload 2.0) event built by ``tests/support/events``.
A request sent on its own runs in this process (one container, one invocation at a time);
requests in flight together run as Lambda runs them, each in a warm worker process of
its function (infra/local/runtime/workers.py), whose output is echoed into the test's.
Every reply is checked for the session's secrets before a test sees it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from infra.local import neon_local
from infra.local.runtime.workers import Workers, serverless_workers
from shared.api.handler import LambdaHandler
from tests.support.client import Client, Secrets, Tokens, User
from tests.support.events import Reply, decode_response
from tests.support.routes import HttpRoute, api_routes, handler_of, route_for

TASK_FIELDS = ("id", "user_id", "title", "description", "completed")
IN_FLIGHT = 16  # the most requests a test has in flight at once, and each function's processes


def owner(method: str, path: str) -> HttpRoute:
    """The route of ``method path``, as API Gateway picks it (its function serves it)."""
    route = route_for(method, path)
    if route is None or route not in api_routes():
        raise LookupError(f"no function serves {method} {path}")
    return route


def function_for(method: str, path: str) -> LambdaHandler:
    """The handler of the function that owns ``method path``."""
    return handler_of(owner(method, path))


@dataclass
class Api:
    """Sends requests through the owning functions' handlers; mints users and tokens."""

    tokens: Tokens
    secrets: Secrets
    # Started on the first request in flight, so with the environment the test configured.
    workers: Workers = field(default_factory=lambda: serverless_workers(limit=IN_FLIGHT))
    waiting: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(IN_FLIGHT))

    def user(self) -> User:
        """A fresh Better Auth user with a valid token."""
        return self.tokens.user()

    def call(self, method: str, path: str, **options: Any) -> Reply:
        """Invoke the function owning the route with an API Gateway event (``Client``'s options)."""
        return send(self.secrets, method, path, **options)

    def submit(self, method: str, path: str, **options: Any) -> Future[Reply]:
        """Send a request to a worker process of the owning function while the test goes on."""
        client = Client(self.secrets)
        function, event = owner(method, path).function, client.event(method, path, **options)
        return self.waiting.submit(
            lambda: client.checked(decode_response(self.workers(function, event)))
        )

    def warm(self, method: str, path: str, count: int) -> None:
        """Have ``count`` warm worker processes of the function owning the route."""
        self.workers.provision(owner(method, path).function, count)

    def close(self) -> None:
        """Stop the worker processes (once every request in flight is answered)."""
        self.waiting.shutdown()
        self.workers.close()


def send(secrets: Secrets, method: str, path: str, **options: Any) -> Reply:
    """One request through the owning function; the reply must hold none of ``secrets``."""
    return Client(secrets)(function_for(method, path), method, path, **options)


def background() -> ThreadPoolExecutor:
    """A thread that invokes a handler in this process while the test does something else."""
    return ThreadPoolExecutor(1)


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
