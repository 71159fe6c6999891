"""GET /health: is the function up, can it reach the database, and is that migrated? No auth.

One statement, one round trip, as before: it reads the schema's revision, so a database
that never saw the migrate function (no ``alembic_version``: 42P01) or is behind this
release (``shared.db.schema_revision``) answers 503 ``SCHEMA_NOT_MIGRATED`` naming it.
"""

from __future__ import annotations

from fastapi.responses import JSONResponse
from sqlalchemy import text

from shared.api.problems import error_response, openapi_responses
from shared.api.route import route
from shared.core.errors import (
    AppError,
    DatabaseMisconfigured,
    DatabaseUnavailable,
    SchemaNotMigrated,
)
from shared.core.observability import logger
from shared.db.engine import get_engine
from shared.db.failures import is_unavailable, refusal
from shared.db.schema_revision import is_behind, shipped_revision

_ERRORS = openapi_responses([DatabaseUnavailable, DatabaseMisconfigured, SchemaNotMigrated])
# Alembic's table of the revision a database is at (migrate writes it).
_REVISION = text("SELECT version_num FROM alembic_version")
# The "database" field /health has always answered with, by what is wrong.
_STATES: dict[type[AppError], str] = {
    DatabaseUnavailable: "unavailable",
    DatabaseMisconfigured: "misconfigured",
    SchemaNotMigrated: "not migrated",
}


@route("GET", "/health", tags=["health"], responses=_ERRORS)
async def health() -> JSONResponse:
    """Report the service and database status."""
    try:
        with get_engine().connect() as conn:
            found = conn.execute(_REVISION).scalar()
    except Exception as exc:
        return _down(_problem(exc), type(exc).__name__)
    if is_behind(found):
        needed = shipped_revision()
        at = f"at revision {found}" if found else "at no revision"
        behind = f"{SchemaNotMigrated.detail} (it is {at}; this release needs {needed})"
        return _down(SchemaNotMigrated(behind), "SchemaBehind")
    return JSONResponse({"status": "ok", "database": "ok"})


def _problem(exc: Exception) -> AppError:
    """What a failure of the check tells the caller; anything unforeseen is raised (a 500)."""
    if isinstance(exc, DatabaseMisconfigured):
        return exc
    if is_unavailable(exc):
        return DatabaseUnavailable()
    if refusal(exc) is SchemaNotMigrated:  # no alembic_version table: never migrated
        return SchemaNotMigrated()
    raise exc


def _down(problem: AppError, error: str) -> JSONResponse:
    kind = type(problem)
    # A database that is down may come back by itself; the others need an operator.
    level = logger.warning if kind is DatabaseUnavailable else logger.error
    level(f"health check: database {_STATES[kind]}", extra={"error": error, "code": kind.code})
    return error_response(problem, extra={"status": "error", "database": _STATES[kind]})
