"""The FastAPI app factory: each Lambda function builds an app with just its routes."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from fastapi import FastAPI

from shared.api import errors

TITLE = "Todo tasks API"
VERSION = "1.0.0"


Endpoint = Callable[..., Any]


class Route:
    """One route, declared where its endpoint is and mounted only by apps that serve it.

    FastAPI analyses a route's signature when it is added; an APIRouter per route would
    have every function pay for every route of its module, and then again on inclusion.
    """

    def __init__(self, method: str, path: str, **options: Any) -> None:
        self.method, self.path, self.options = method, path, options
        self.endpoint: Endpoint | None = None

    def __call__(self, endpoint: Endpoint) -> Endpoint:
        self.endpoint = endpoint
        return endpoint

    def mount(self, app: FastAPI) -> None:
        assert self.endpoint is not None, f"no endpoint for {self.method} {self.path}"
        # The router's own method: the app's does not take ``route_class_override``.
        app.router.add_api_route(self.path, self.endpoint, methods=[self.method], **self.options)


def create_app(routes: Iterable[Route], *, docs: bool = False) -> FastAPI:
    """An app serving ``routes``; only the docs function serves /openapi.json and /docs."""
    if docs:  # imported here: it imports Route, and only the docs function needs it
        from shared.api import docs as swagger

        routes = (*routes, *swagger.routes())
    app = FastAPI(
        title=TITLE,
        version=VERSION,
        openapi_url=swagger.OPENAPI if docs else None,
        # Not FastAPI's own page: it loads Swagger UI from a CDN (shared/api/docs.py).
        docs_url=None,
        redoc_url=None,
    )
    for route in routes:
        route.mount(app)
    errors.install(app)
    return app
