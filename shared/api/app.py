"""The FastAPI app factory: each Lambda function builds an app with just its routes."""

from __future__ import annotations

from collections.abc import Iterable

from fastapi import APIRouter, FastAPI

from shared.api import errors

TITLE = "Todo tasks API"
VERSION = "1.0.0"


def create_app(routers: Iterable[APIRouter], *, docs: bool = False) -> FastAPI:
    """An app serving ``routers``; only the docs function serves /openapi.json and /docs."""
    app = FastAPI(
        title=TITLE,
        version=VERSION,
        openapi_url="/openapi.json" if docs else None,
        docs_url="/docs" if docs else None,
        redoc_url=None,
    )
    for router in routers:
        app.include_router(router)
    errors.install(app)
    return app
