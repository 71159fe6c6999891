"""The engine: one per process, NullPool, single-flight pg8000 connections.

Neon's pooled endpoint is PgBouncer in transaction mode, so nothing here keeps session
state; a Lambda container that is frozen between invocations holds no connection.
"""

from __future__ import annotations

from functools import lru_cache, partial
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.dialects import registry
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.pool import ConnectionPoolEntry, NullPool, QueuePool

from shared.core.settings import Settings, get_settings
from shared.db.connect import connect
from shared.db.url import ConnectParams, parse_database_url

_BROKEN = "broken"
# pg8000 with the server's facts taken from its startup report (no round trips); loaded
# by name when the first engine is made, as SQLAlchemy loads its own dialects.
_DIALECT = "pg8000_reported"
DRIVER_URL = f"postgresql+{_DIALECT}://"
registry.register(
    f"postgresql.{_DIALECT}", "shared.adapters.sqlalchemy_dialect", "ReportedServerDialect"
)


def create_db_engine(
    params: ConnectParams, settings: Settings, *, autocommit: bool, reuse: bool = False
) -> Engine:
    """An engine opening a fresh connection per checkout (NullPool), or keeping one (reuse)."""
    options: dict[str, Any] = {"isolation_level": "AUTOCOMMIT"} if autocommit else {}
    if reuse:
        # One connection kept per warm container, pinged before each use (a Neon compute
        # may have been suspended meanwhile), created lazily so SnapStart never snapshots it.
        options |= {"poolclass": QueuePool, "pool_size": 1, "max_overflow": 8}
        options |= {"pool_pre_ping": True}
    else:
        options["poolclass"] = NullPool
    engine = create_engine(DRIVER_URL, creator=partial(connect, params, settings), **options)
    if reuse:
        _drop_connections_after_errors(engine)
    return engine


def _drop_connections_after_errors(engine: Engine) -> None:
    """A kept connection that saw any error is closed, not reused: its state is unknown."""

    @event.listens_for(engine, "handle_error")
    def mark(context: ExceptionContext) -> None:
        if context.connection is not None and not context.connection.invalidated:
            context.connection.connection.info[_BROKEN] = True

    @event.listens_for(engine, "checkin")
    def drop(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        if record.info.pop(_BROKEN, False):
            record.invalidate()


def reset_engine() -> None:
    """Close the API's engine (and any kept connection); the next use builds it anew."""
    if get_engine.cache_info().currsize:
        get_engine().dispose()
    get_engine.cache_clear()


@lru_cache(maxsize=1)
def get_engine() -> Engine:
    """The API's engine, created on first use: each statement commits on its own."""
    settings = get_settings()
    params = parse_database_url(_secret(settings.database_url))
    return create_db_engine(params, settings, autocommit=True, reuse=settings.db_reuse_connection)


def _secret(value: Any) -> str | None:
    return None if value is None else str(value.get_secret_value())
