"""The rehearsal's requests: one API Gateway (HTTP API, payload 2.0) event per route.

Each route of serverless.yml (infra/serverless/routes.py) gets a request that should succeed: a
task is created first (its id fills ``{task_id}``), the delete route goes last, bodies
are valid for their method, and the token is an HS256 one signed with the secret the
rehearsal deployed. A success is 201 for POST, 204 for DELETE and 200 otherwise.
"""

from __future__ import annotations

import json
import time
from typing import Any

import jwt

from infra.local.gateway.events import Request, http_api_event
from infra.local.runtime.fleet import Fleet
from infra.serverless.routes import HttpRoute, function, routes
from shared.api.docs import ASSETS

USER = "rehearsal-user"
BODIES: dict[str, dict[str, Any]] = {
    "POST": {"title": "rehearsed"},
    "PUT": {"title": "rehearsed again"},
    "PATCH": {"completed": True},
}
SUCCESS = {"POST": 201, "DELETE": 204}


class RouteFailed(Exception):
    """A route did not answer as a successful request should."""


def token(secret: str) -> str:
    """A bearer token for USER, valid for ten minutes."""
    now = int(time.time())
    return jwt.encode({"sub": USER, "id": USER, "iat": now, "exp": now + 600}, secret, "HS256")


def request(route: HttpRoute, secret: str, task_id: int) -> Request:
    """A valid request to ``route``."""
    path = route.path(user_id=USER, task_id=task_id, asset=next(iter(ASSETS)))
    body = BODIES.get(route.method)
    headers = [("authorization", f"Bearer {token(secret)}"), ("host", "rehearsal.local")]
    if body is not None:
        headers.append(("content-type", "application/json"))
    raw = b"" if body is None else json.dumps(body).encode()
    return Request(route.method, path, "", headers, raw)


def answer(fleet: Fleet, route: HttpRoute, secret: str, task_id: int) -> dict[str, Any]:
    """What the route's function answers; RouteFailed unless it is the route's success."""
    result = fleet.invoke(route.function, http_api_event(route, request(route, secret, task_id)))
    status = result.get("statusCode") if isinstance(result, dict) else None
    if status != SUCCESS.get(route.method, 200):
        raise RouteFailed(f"{route.key} answered {json.dumps(result)[:300]}")
    reply: dict[str, Any] = result
    return reply


def check_routes(fleet: Fleet, secret: str) -> list[str]:
    """Every route once, a task created first and deleted last; a line per route."""
    created = answer(fleet, function("createTask").routes[0], secret, 0)
    task_id = int(json.loads(created["body"])["id"])
    ordered = sorted(routes(), key=lambda route: route.method == "DELETE")
    return [
        f"{route.key}: {answer(fleet, route, secret, task_id)['statusCode']}" for route in ordered
    ]
