"""GET /health: is the function up, and can it reach the database? No auth."""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse
from sqlalchemy import text

from shared.api.app import Route
from shared.core.errors import DatabaseUnavailable
from shared.core.observability import logger
from shared.db.engine import get_engine
from shared.db.failures import is_unavailable

_UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: {"description": "The database is unreachable"}
}
health = Route("GET", "/health", tags=["health"], responses=_UNAVAILABLE)


@health
async def check_health() -> JSONResponse:
    """Report the service and database status."""
    try:
        with get_engine().connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        if not is_unavailable(exc):
            raise
        logger.warning("health check: database unavailable", extra={"error": type(exc).__name__})
        retry = str(DatabaseUnavailable.retry_after_seconds)
        body = {"status": "error", "database": "unavailable"}
        return JSONResponse(body, status_code=503, headers={"Retry-After": retry})
    return JSONResponse({"status": "ok", "database": "ok"})
