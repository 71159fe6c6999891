"""What a bench "container" needs to call the handlers: tokens, events and the operations.

Auth runs as deployed: EdDSA tokens shaped like Better Auth's, verified through a JWKS
served on loopback (BETTER_AUTH_URL), fetched once per container and then cached.
Events are the tests' API Gateway HTTP API (payload 2.0) events, built from the captured
one in tests/events/, and their Lambda context; the routes are serverless.yml's.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from tests.support.events import LambdaContext, http_api_event
from tests.support.jwks_server import KeyServer
from tests.support.routes import HttpRoute, api_routes, handler_of
from tests.support.tokens import claims, sign

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]

# Every route API clients call, by the name of the function serving it (serverless.yml's);
# the docs function serves developers, not the API's traffic.
ROUTES: dict[str, HttpRoute] = {route.function: route for route in api_routes()}
OPERATIONS = tuple(ROUTES)
# One cycle of a user's session: every route once, creating first and deleting last, so
# it leaves no rows behind.
CYCLE = tuple(
    sorted(OPERATIONS, key=lambda name: {"POST": 0, "DELETE": 2}.get(ROUTES[name].method, 1))
)
_EXPECTED = {"POST": 201, "DELETE": 204}
# The routes that take an Idempotency-Key: every write but DELETE (create, and the
# TaskEdit routes of shared/api/routes/tasks.py: replace, update, complete).
KEYED = tuple(name for name in OPERATIONS if ROUTES[name].method in {"POST", "PUT", "PATCH"})


class AuthServer(KeyServer):
    """Better Auth's JWKS endpoint on 127.0.0.1 with one Ed25519 key; mints its tokens."""

    def token(self, user_id: str, lifetime: int = 3600) -> str:
        """A Better Auth-shaped EdDSA token for ``user_id``."""
        expiry = int(time.time()) + lifetime
        return sign(self.key, claims(self.origin, id=user_id, sub=user_id, exp=expiry))


def load_handlers() -> dict[str, Handler]:
    """Each route's Lambda handler, imported the way the runtime imports it."""
    return {name: handler_of(route) for name, route in ROUTES.items()}


class Session:
    """One user calling the routes through their handlers, as API Gateway would."""

    def __init__(self, handlers: dict[str, Handler], user_id: str, token: str) -> None:
        self.handlers = handlers
        self.user_id = user_id
        self.token = token
        self.task_id: int | None = None
        self.toggle = 0

    def event(self, operation: str, key: str | None = None) -> dict[str, Any]:
        """A fresh API Gateway event for ``operation``, as this user (with ``key``, keyed)."""
        route = ROUTES[operation]
        if "user_id" not in route.params:
            return http_api_event(route.method, route.template)
        self.toggle += 1
        body: Any = {
            "POST": {"title": "Buy milk", "description": "2 litres, semi-skimmed"},
            "PUT": {"title": f"Buy oat milk {self.toggle}", "description": "1 litre"},
            "PATCH": {"completed": self.toggle % 2 == 0},  # update and complete take it
        }.get(route.method)
        headers = {"authorization": f"Bearer {self.token}", "accept": "application/json"}
        if body is not None:
            headers["content-type"] = "application/json"
        if key is not None:
            headers["idempotency-key"] = key
        text = None if body is None else json.dumps(body)
        path = route.path(user_id=self.user_id, task_id=self.task_id)
        return http_api_event(route.method, path, headers=headers, body=text)

    def prepare(self, operation: str) -> None:
        """Make sure ``operation`` has a task of the user's to act on."""
        if "task_id" in ROUTES[operation].params and self.task_id is None:
            self.call(CYCLE[0])

    def call(self, operation: str, event: dict[str, Any] | None = None) -> int:
        """Invoke one route's handler with ``event`` (default: a new one); its status.

        Raises on an unexpected status. Timed callers build the event first: API
        Gateway hands Lambda a ready event, so building one is not the handler's time.
        """
        response = self.handlers[operation](event or self.event(operation), LambdaContext())
        status = int(response["statusCode"])
        method = ROUTES[operation].method
        if status != _EXPECTED.get(method, 200):
            raise UnexpectedStatus(operation, status, str(response.get("body", ""))[:200])
        if method == "POST":
            self.task_id = int(json.loads(response["body"])["id"])
        elif method == "DELETE":
            self.task_id = None
        return status


class UnexpectedStatus(RuntimeError):
    """A route answered with a status the bench did not expect."""

    def __init__(self, operation: str, status: int, body: str) -> None:
        super().__init__(f"{operation}: HTTP {status}: {body}")
        self.operation = operation
        self.status = status
