"""The FastAPI app factory: each Lambda function builds an app with just its routes."""

from __future__ import annotations

from collections.abc import Iterable

from fastapi import FastAPI

from shared.api import errors
from shared.api.route import Route

TITLE = "Todo tasks API"
VERSION = "1.0.0"


def create_app(routes: Iterable[Route], *, docs: bool = False) -> FastAPI:
    """An app serving ``routes``; only the docs function serves /openapi.json and /docs."""
    if docs:  # imported here: only the docs function needs the page and its assets
        from shared.api import docs as swagger

        routes = (*routes, *swagger.ROUTES)
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
