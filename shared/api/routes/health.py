"""GET /health: is the function up, and can it reach the database? No auth."""

from __future__ import annotations

from fastapi.responses import JSONResponse
from sqlalchemy import text

from shared.api.problems import error_response, openapi_responses
from shared.api.route import route
from shared.core.errors import DatabaseUnavailable
from shared.core.observability import logger
from shared.db.engine import get_engine
from shared.db.failures import is_unavailable

# The fields /health has always answered with, beside the error body's own.
_DOWN = {"status": "error", "database": "unavailable"}


@route("GET", "/health", tags=["health"], responses=openapi_responses([DatabaseUnavailable]))
async def health() -> JSONResponse:
    """Report the service and database status."""
    try:
        with get_engine().connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        if not is_unavailable(exc):
            raise
        logger.warning("health check: database unavailable", extra={"error": type(exc).__name__})
        return error_response(DatabaseUnavailable(), extra=_DOWN)
    return JSONResponse({"status": "ok", "database": "ok"})
