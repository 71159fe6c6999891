"""What the reliability suites share: route dispatch to the real handlers, users, database checks.

Each request goes to the Lambda function that owns its route (method + path template), as
API Gateway would route it, in an HTTP API (payload 2.0) event built by ``tests/api/events``.
Every reply is checked for the session's secrets before a test sees it.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from functions import (
    complete_task,
    create_task,
    delete_task,
    get_task,
    health,
    list_tasks,
    replace_task,
    update_task,
)
from infra import neon_local
from shared.api import auth
from shared.api.handler import LambdaHandler
from shared.core.settings import get_settings
from shared.db.engine import get_engine
from tests.api.conftest import Client, Secrets, Tokens, User
from tests.api.events import Reply
from tests.auth.tokens import better_auth_id

COLLECTION = "/api/{user_id}/tasks"
ITEM = COLLECTION + "/{task_id}"
COMPLETE = ITEM + "/complete"

# Which function serves which operation: serverless.yml wires the same pairs.
ROUTES: dict[tuple[str, str], LambdaHandler] = {
    ("GET", "/health"): health.handler,
    ("GET", COLLECTION): list_tasks.handler,
    ("POST", COLLECTION): create_task.handler,
    ("GET", ITEM): get_task.handler,
    ("PUT", ITEM): replace_task.handler,
    ("PATCH", ITEM): update_task.handler,
    ("DELETE", ITEM): delete_task.handler,
    ("PATCH", COMPLETE): complete_task.handler,
}
TASK_FIELDS = ("id", "user_id", "title", "description", "completed")


def template_of(path: str) -> str | None:
    """The route template a concrete (percent-encoded) path matches, if any."""
    segments = path.split("/")
    for template in {t for _, t in ROUTES}:
        parts = template.split("/")
        if len(parts) != len(segments):
            continue
        pairs = zip(parts, segments, strict=True)
        if all(part == seg or (part.startswith("{") and seg) for part, seg in pairs):
            return template
    return None


def function_for(method: str, path: str) -> LambdaHandler:
    """The handler of the function that owns ``method path``."""
    template = template_of(path)
    if template is None or (method, template) not in ROUTES:
        raise LookupError(f"no function serves {method} {path}")
    return ROUTES[(method, template)]


@dataclass
class Api:
    """Sends requests through the owning functions' handlers; mints users and tokens."""

    tokens: Tokens
    secrets: Secrets

    def user(self) -> User:
        """A fresh Better Auth user with a valid token."""
        user_id = better_auth_id()
        return User(user_id, self.tokens.eddsa(user_id))

    def call(self, method: str, path: str, **options: Any) -> Reply:
        """Invoke the function owning the route with an API Gateway event (``Client``'s options)."""
        return send(self.secrets, method, path, **options)


def send(secrets: Secrets, method: str, path: str, **options: Any) -> Reply:
    """One request through the owning function; the reply must hold none of ``secrets``."""
    return Client(secrets)(function_for(method, path), method, path, **options)


def background(threads: int = 1) -> ThreadPoolExecutor:
    """Threads that can invoke handlers while the test does something else.

    Lambda calls a handler on its main thread; Mangum expects that thread's event loop,
    so each thread gets one of its own.
    """
    return ThreadPoolExecutor(threads, initializer=_new_event_loop)


def _new_event_loop() -> None:
    asyncio.set_event_loop(asyncio.new_event_loop())


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


def reset_container() -> None:
    """Forget settings, engine (closing any kept connection) and auth state: a new container."""
    if get_engine.cache_info().currsize:
        get_engine().dispose()
    get_engine.cache_clear()
    get_settings.cache_clear()
    auth._verifier.cache_clear()
    auth._jwks_client.cache_clear()
