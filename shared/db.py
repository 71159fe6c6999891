"""The engine: one per process, NullPool, single-flight pg8000 connections.

Neon's pooled endpoint is PgBouncer in transaction mode, so nothing here keeps session
state; a Lambda container that is frozen between invocations holds no connection.
Connecting retries a few times (a suspended Neon compute takes a moment to wake);
statements are never retried, because their outcome is unknown once sent.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache, partial
from typing import Any

import pg8000.dbapi
from sqlalchemy import Engine, create_engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from shared.dburl import ConnectParams, parse_database_url
from shared.driver import SingleFlightConnection
from shared.errors import DatabaseUnavailable
from shared.settings import Settings, get_settings

logger = logging.getLogger(__name__)

# SQLSTATEs that mean "the server cannot serve you right now", not "your SQL is wrong".
_UNAVAILABLE_STATES = ("08", "53300", "57P01", "57P02", "57P03")
# Login failures that waiting will not fix.
_FATAL_LOGIN_STATES = ("28000", "28P01", "3D000")
_BACKOFF_SECONDS = 0.25


def connect(params: ConnectParams, settings: Settings) -> SingleFlightConnection:
    """Open one connection, retrying while the server is unreachable or waking up."""
    for attempt in range(1, settings.db_connect_attempts + 1):
        try:
            return _open(params, settings)
        except DatabaseUnavailable:
            raise
        except (pg8000.dbapi.Error, OSError) as exc:
            state = sqlstate(exc)
            logger.warning(
                "database connection attempt failed",
                extra={"attempt": attempt, "sqlstate": state, "error": type(exc).__name__},
            )
            if state.startswith(_FATAL_LOGIN_STATES) or attempt == settings.db_connect_attempts:
                raise DatabaseUnavailable(_describe_failure(state)) from None
            time.sleep(_BACKOFF_SECONDS * 2 ** (attempt - 1))
    raise AssertionError("unreachable")  # pragma: no cover


def _open(params: ConnectParams, settings: Settings) -> SingleFlightConnection:
    conn = SingleFlightConnection(
        params.user,
        host=params.host,
        port=params.port,
        database=params.database,
        password=params.password,
        ssl_context=params.ssl_context(),
        timeout=params.connect_timeout or settings.db_connect_timeout,
        application_name=params.application_name,
        channel_binding=params.channel_binding,
    )
    try:
        _check_channel_binding(conn, params)
    except DatabaseUnavailable:
        conn.close()
        raise
    # The connect timeout bounded the login; statements get their own bound.
    conn._usock.settimeout(settings.db_query_timeout)
    return conn


def _check_channel_binding(conn: SingleFlightConnection, params: ConnectParams) -> None:
    # libpq's channel_binding=require refuses logins that are not SCRAM over TLS. The
    # -PLUS mechanism is used whenever the server offers it (Neon does); PgBouncer
    # never offers it, so there "require" still insists on TLS and SCRAM.
    if params.channel_binding != "require":
        return
    if conn.auth_mechanism is None or not hasattr(conn._usock, "cipher"):
        raise DatabaseUnavailable(
            "the server did not authenticate with SCRAM over TLS (channel_binding=require)"
        )


def _describe_failure(state: str) -> str:
    if state.startswith("28"):
        return "could not log in to the database: check the user and password in DATABASE_URL"
    if state == "3D000":
        return "the database named in DATABASE_URL does not exist"
    return "the database is unavailable; try again shortly"


def sqlstate(exc: BaseException) -> str:
    """The SQLSTATE of a pg8000 (or SQLAlchemy-wrapped) error, or '' for network errors."""
    orig = exc.orig if isinstance(exc, DBAPIError) else exc
    details = orig.args[0] if orig is not None and orig.args else None
    return str(details.get("C", "")) if isinstance(details, dict) else ""


def is_unavailable(exc: BaseException) -> bool:
    """True when an error means the database is down or unreachable (a 503, not a 500)."""
    if isinstance(exc, DatabaseUnavailable):
        return True
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated or isinstance(exc.orig, pg8000.dbapi.InterfaceError):
        return True
    return sqlstate(exc).startswith(_UNAVAILABLE_STATES)


def create_db_engine(params: ConnectParams, settings: Settings, *, autocommit: bool) -> Engine:
    """An engine whose every checkout opens a fresh connection (NullPool)."""
    options: dict[str, Any] = {"isolation_level": "AUTOCOMMIT"} if autocommit else {}
    return create_engine(
        "postgresql+pg8000://",
        creator=partial(connect, params, settings),
        poolclass=NullPool,
        **options,
    )


@lru_cache(maxsize=1)
def get_engine() -> Engine:
    """The API's engine, created on first use: each statement commits on its own."""
    settings = get_settings()
    params = parse_database_url(_secret(settings.database_url))
    return create_db_engine(params, settings, autocommit=True)


@contextmanager
def translate_errors() -> Iterator[None]:
    """Turn driver errors that mean 'database unavailable' into DatabaseUnavailable."""
    try:
        yield
    except DBAPIError as exc:
        if is_unavailable(exc):
            raise DatabaseUnavailable("the database is unavailable; try again shortly") from None
        raise


def _secret(value: Any) -> str | None:
    return None if value is None else str(value.get_secret_value())
