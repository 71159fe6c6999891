"""serverless.yml's routes as tests and the bench use them: handlers and a sample request each.

The table itself is infra/serverless/routes.py's; nothing here restates a route. A route's sample
request fills its path parameters and sends its method's body, if the method takes one.
"""

from __future__ import annotations

import importlib
from typing import Any

from infra.serverless.routes import HttpRoute, function, route_for, routes
from shared.api.docs import ASSETS
from shared.api.handler import LambdaHandler

__all__ = [
    "HttpRoute",
    "api_routes",
    "function",
    "handler_of",
    "route_for",
    "routes",
    "sample",
    "task_routes",
]

# A body valid on every route of its method: create and replace need a title; update
# takes any field and complete only {"completed": ...}, so PATCH sends the flag.
# Path parameters besides the user's and the task's: a valid value each.
SAMPLE_PARAMS: dict[str, object] = {"asset": next(iter(ASSETS))}
SAMPLE_BODIES: dict[str, dict[str, Any]] = {
    "POST": {"title": "t"},
    "PUT": {"title": "t"},
    "PATCH": {"completed": True},
}


def handler_of(route: HttpRoute) -> LambdaHandler:
    """The Lambda handler serving ``route``, imported the way the runtime imports it."""
    module = importlib.import_module(route.module)
    handler: LambdaHandler = getattr(module, route.handler.rsplit(".", 1)[1])
    return handler


def api_routes() -> tuple[HttpRoute, ...]:
    """The routes the OpenAPI document describes: all but the docs function's own."""
    served = function("docs").routes
    return tuple(route for route in routes() if route not in served)


def task_routes() -> tuple[HttpRoute, ...]:
    """The routes under a user's path: each needs that user's bearer token."""
    return tuple(route for route in routes() if "user_id" in route.params)


def sample(
    route: HttpRoute, user_id: str, task_id: int | str = 1, **params: object
) -> tuple[str, Any]:
    """The path and JSON body (``None`` when the method takes none) of a request to ``route``;
    other path parameters come from SAMPLE_PARAMS unless ``params`` name them."""
    body = SAMPLE_BODIES.get(route.method)
    path = route.path(**{**SAMPLE_PARAMS, "user_id": user_id, "task_id": task_id, **params})
    return path, None if body is None else dict(body)
