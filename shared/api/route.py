"""A route declared on its endpoint, mounted only by the apps that serve it.

``@route("POST", PATH, ...)`` over ``async def create_task(...)`` makes ``create_task`` the
route: one name for the operation, where it is defined, where a function imports it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

__all__ = ["Endpoint", "Route", "route"]

Endpoint = Callable[..., Any]


class Route:
    """One route: method, path, FastAPI's options for it, and its endpoint.

    FastAPI analyses a route's signature when it is added; an APIRouter per route would
    have every function pay for every route of its module, and then again on inclusion.
    """

    def __init__(self, method: str, path: str, endpoint: Endpoint, options: dict[str, Any]):
        self.method, self.path, self.endpoint, self.options = method, path, endpoint, options

    def mount(self, app: FastAPI) -> None:
        # The router's own method: the app's does not take ``route_class_override``.
        app.router.add_api_route(self.path, self.endpoint, methods=[self.method], **self.options)


def route(method: str, path: str, **options: Any) -> Callable[[Endpoint], Route]:
    """Declare the decorated endpoint as the route ``method path`` with FastAPI's ``options``."""

    def declare(endpoint: Endpoint) -> Route:
        return Route(method, path, endpoint, options)

    return declare
