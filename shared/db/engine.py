"""The engine: one per process, NullPool, single-flight pg8000 connections.

Neon's pooled endpoint is PgBouncer in transaction mode, so nothing here keeps session
state; a Lambda container that is frozen between invocations holds no connection, unless
DB_REUSE_CONNECTION keeps one (checked by its socket before each use, not by a ping).
"""

from __future__ import annotations

import time
from functools import lru_cache, partial
from typing import Any

import pg8000.dbapi
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.dialects import registry
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.pool import ConnectionPoolEntry, NullPool, PoolProxiedConnection, QueuePool

from shared.core.settings import Settings, get_settings
from shared.db.connect import connect
from shared.db.liveness import is_quiet
from shared.db.url import ConnectParams, parse_database_url

_BROKEN = "broken"
_LAST_USED = "last_used"  # time.monotonic() when the kept connection was last checked in
# A kept connection used this recently is trusted on its socket's word alone. Longer idle,
# it is pinged too (one round trip more): a peer can vanish without a FIN or RST reaching
# us (an AWS NAT gateway forgets a link idle for 350 s and resets it when it next speaks),
# and a statement sent into such a link fails with a 503 where a ping would have found a
# new connection. A container busy enough to care about one round trip is used sooner.
TRUSTED_IDLE_SECONDS = 60.0
# pg8000 with the server's facts taken from its startup report (no round trips); loaded
# by name when the first engine is made, as SQLAlchemy loads its own dialects.
_DIALECT = "pg8000_reported"
DRIVER_URL = f"postgresql+{_DIALECT}://"
registry.register(
    f"postgresql.{_DIALECT}", "shared.adapters.sqlalchemy_dialect", "ReportedServerDialect"
)


def create_db_engine(
    params: ConnectParams,
    settings: Settings,
    *,
    autocommit: bool,
    reuse: bool = False,
    trusted_idle: float = TRUSTED_IDLE_SECONDS,
) -> Engine:
    """An engine opening a fresh connection per checkout (NullPool), or keeping one (reuse).

    A kept connection idle for more than ``trusted_idle`` seconds is pinged before use.
    """
    options: dict[str, Any] = {"isolation_level": "AUTOCOMMIT"} if autocommit else {}
    if reuse:
        # One connection kept per warm container, created lazily so SnapStart never
        # snapshots it, and checked before each use (a Neon compute may have been
        # suspended meanwhile): by its socket, not by a ping's round trip.
        options |= {"poolclass": QueuePool, "pool_size": 1, "max_overflow": 8}
    else:
        options["poolclass"] = NullPool
    engine = create_engine(DRIVER_URL, creator=partial(connect, params, settings), **options)
    if reuse:
        _check_kept_connections(engine, trusted_idle)
        _drop_connections_after_errors(engine)
    return engine


def _check_kept_connections(engine: Engine, trusted_idle: float) -> None:
    """Replace a kept connection that is closed or spoke unasked, before anything is sent.

    Raising DisconnectionError from the pool's checkout event is SQLAlchemy's way to have
    the pool discard the connection and open another. The statement itself is never
    re-sent: once it may have reached the server, a failure is the request's (a 503).
    """

    @event.listens_for(engine, "checkout")
    def check(
        dbapi_connection: Any,
        record: ConnectionPoolEntry,
        _: PoolProxiedConnection,
    ) -> None:
        last_used = record.info.get(_LAST_USED)
        if last_used is None:  # just opened by connect(): nothing to doubt
            return
        if not is_quiet(dbapi_connection.socket):  # a SingleFlightConnection (connect())
            raise DisconnectionError("the kept connection was closed or spoke unasked")
        idle = time.monotonic() - last_used
        if idle > trusted_idle and not _answers(engine, dbapi_connection):
            raise DisconnectionError("the kept connection, idle for long, did not answer a ping")

    @event.listens_for(engine, "checkin")
    def used(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        record.info[_LAST_USED] = time.monotonic()


def _answers(engine: Engine, dbapi_connection: Any) -> bool:
    """Whether the server answers the dialect's ping (an empty statement) on the connection."""
    try:
        return engine.dialect.do_ping(dbapi_connection)
    except (pg8000.dbapi.Error, OSError):
        return False


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
