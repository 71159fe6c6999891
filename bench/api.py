"""What a bench "container" needs to call the handlers: tokens, events and the operations.

Auth runs as deployed: EdDSA tokens shaped like Better Auth's, verified through a JWKS
served on loopback (BETTER_AUTH_URL), fetched once per container and then cached.
Events are the API suite's API Gateway HTTP API (payload 2.0) events, built from the
captured one in tests/events/, and its Lambda context.
"""

from __future__ import annotations

import importlib
import json
import time
from collections.abc import Callable
from typing import Any

from tests.support.events import LambdaContext, http_api_event
from tests.support.jwks_server import KeyServer
from tests.support.tokens import claims, sign

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]

# The contract's routes: operation name -> (function module, method, path template).
ROUTES: dict[str, tuple[str, str, str]] = {
    "list": ("functions.list_tasks", "GET", "/api/{user_id}/tasks"),
    "create": ("functions.create_task", "POST", "/api/{user_id}/tasks"),
    "get": ("functions.get_task", "GET", "/api/{user_id}/tasks/{task_id}"),
    "put": ("functions.replace_task", "PUT", "/api/{user_id}/tasks/{task_id}"),
    "patch": ("functions.update_task", "PATCH", "/api/{user_id}/tasks/{task_id}"),
    "complete": ("functions.complete_task", "PATCH", "/api/{user_id}/tasks/{task_id}/complete"),
    "delete": ("functions.delete_task", "DELETE", "/api/{user_id}/tasks/{task_id}"),
    "health": ("functions.health", "GET", "/health"),
}
OPERATIONS = tuple(ROUTES)
# One cycle of a user's session: every route once, leaving no rows behind.
CYCLE = ("create", "get", "put", "patch", "complete", "list", "delete", "health")
_EXPECTED = {"create": 201, "delete": 204}


class AuthServer(KeyServer):
    """Better Auth's JWKS endpoint on 127.0.0.1 with one Ed25519 key; mints its tokens."""

    def token(self, user_id: str, lifetime: int = 3600) -> str:
        """A Better Auth-shaped EdDSA token for ``user_id``."""
        expiry = int(time.time()) + lifetime
        return sign(self.key, claims(self.origin, id=user_id, sub=user_id, exp=expiry))


def load_handlers() -> dict[str, Handler]:
    """Each route's Lambda handler, imported the way the runtime imports it."""
    handlers: dict[str, Handler] = {}
    for name, (module, _, _) in ROUTES.items():
        handlers[name] = getattr(importlib.import_module(module), "handler")  # noqa: B009
    return handlers


class Session:
    """One user calling the routes through their handlers, as API Gateway would."""

    def __init__(self, handlers: dict[str, Handler], user_id: str, token: str) -> None:
        self.handlers = handlers
        self.user_id = user_id
        self.token = token
        self.task_id: int | None = None
        self.toggle = 0

    def event(self, operation: str) -> dict[str, Any]:
        _, method, template = ROUTES[operation]
        if operation == "health":
            return http_api_event(method, template)
        path = template.format(user_id=self.user_id, task_id=self.task_id)
        self.toggle += 1
        body: Any = {
            "create": {"title": "Buy milk", "description": "2 litres, semi-skimmed"},
            "put": {"title": f"Buy oat milk {self.toggle}", "description": "1 litre"},
            "patch": {"description": f"revision {self.toggle}"},
        }.get(operation)
        headers = {"authorization": f"Bearer {self.token}", "accept": "application/json"}
        if body is not None:
            headers["content-type"] = "application/json"
        text = None if body is None else json.dumps(body)
        return http_api_event(method, path, headers=headers, body=text)

    def prepare(self, operation: str) -> None:
        """Make sure ``operation`` has a task of the user's to act on."""
        if "{task_id}" in ROUTES[operation][2] and self.task_id is None:
            self.call("create")

    def call(self, operation: str, event: dict[str, Any] | None = None) -> int:
        """Invoke one route's handler with ``event`` (default: a new one); its status.

        Raises on an unexpected status. Timed callers build the event first: API
        Gateway hands Lambda a ready event, so building one is not the handler's time.
        """
        response = self.handlers[operation](event or self.event(operation), LambdaContext())
        status = int(response["statusCode"])
        if status != _EXPECTED.get(operation, 200):
            raise UnexpectedStatus(operation, status, str(response.get("body", ""))[:200])
        if operation == "create":
            self.task_id = int(json.loads(response["body"])["id"])
        elif operation == "delete":
            self.task_id = None
        return status


class UnexpectedStatus(RuntimeError):
    """A route answered with a status the bench did not expect."""

    def __init__(self, operation: str, status: int, body: str) -> None:
        super().__init__(f"{operation}: HTTP {status}: {body}")
        self.operation = operation
        self.status = status
