"""The engine: one per process, NullPool, single-flight pg8000 connections.

Neon's pooled endpoint is PgBouncer in transaction mode, so nothing here keeps session
state; a Lambda container that is frozen between invocations holds no connection.
Connecting retries a few times (a suspended Neon compute takes a moment to wake);
statements are never retried, because their outcome is unknown once sent.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache, partial
from typing import Any

import pg8000.dbapi
import scramp
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import ConnectionPoolEntry, NullPool, QueuePool

from shared.dburl import ConnectParams, parse_database_url
from shared.driver import SingleFlightConnection
from shared.errors import DatabaseUnavailable
from shared.observability import logger
from shared.settings import Settings, get_settings
from shared.tls import remember_session, start_tls

# SQLSTATEs that mean "the server cannot serve you right now", not "your SQL is wrong".
_UNAVAILABLE_STATES = ("08", "53300", "57P01", "57P02", "57P03")
# PgBouncer reports a failed SCRAM login as 08P01, so the message is checked too.
_FAILED_LOGIN_TEXT = "authentication failed"
_BACKOFF_SECONDS = 0.25
_BROKEN = "broken"


def connect(params: ConnectParams, settings: Settings) -> SingleFlightConnection:
    """Open one connection, retrying while the server is unreachable or waking up."""
    for attempt in range(1, settings.db_connect_attempts + 1):
        try:
            return _open(params, settings)
        except DatabaseUnavailable:
            raise
        except (pg8000.dbapi.Error, OSError, scramp.ScramException) as exc:
            fatal, reason = _classify(exc)
            logger.warning(
                "database connection attempt failed",
                extra={"attempt": attempt, "reason": reason, "error": type(exc).__name__},
            )
            if fatal or attempt == settings.db_connect_attempts:
                raise DatabaseUnavailable(reason) from None
            time.sleep(_BACKOFF_SECONDS * 2 ** (attempt - 1))
    raise AssertionError("unreachable")  # pragma: no cover


def _open(params: ConnectParams, settings: Settings) -> SingleFlightConnection:
    timeout = params.connect_timeout or settings.db_connect_timeout
    started = time.monotonic()
    sock = socket.create_connection((params.host, params.port), timeout)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    # Nagle would hold the startup message back until the TLS handshake's last packet is
    # acknowledged: one more round trip on every connection.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    # The timeout bounds the whole attempt (TCP, TLS, SCRAM), as libpq's connect_timeout
    # does; a socket timeout alone bounds each read, and a slow link can need many.
    deadline = _Deadline(sock, timeout - (time.monotonic() - started))
    try:
        sock = start_tls(sock, params)
        conn = SingleFlightConnection(
            params.user,
            host=params.host,
            port=params.port,
            database=params.database,
            password=params.password,
            ssl_context=False,  # already negotiated on the socket
            timeout=timeout,
            application_name=params.application_name,
            channel_binding=params.channel_binding,
            sock=sock,
        )
    except BaseException:
        sock.close()
        raise
    finally:
        deadline.cancel()
    remember_session(sock, params)
    try:
        _check_channel_binding(conn, params)
    except DatabaseUnavailable:
        conn.close()
        raise
    # The connect timeout bounded the login; statements get their own bound.
    conn._usock.settimeout(settings.db_query_timeout)
    return conn


class _Deadline:
    """Ends a connection attempt when time is up, waking whatever read waits on it.

    It holds its own descriptor of the socket (pg8000 detaches the original when it
    wraps it in TLS): shutting that down ends the connection for every descriptor.
    """

    def __init__(self, sock: socket.socket, seconds: float) -> None:
        self._watch = sock.dup()
        self._lock = threading.Lock()
        self._timer = threading.Timer(max(seconds, 0.0), self._expire)
        self._timer.daemon = True
        self._timer.start()

    def _expire(self) -> None:
        with self._lock, contextlib.suppress(OSError):
            if self._watch.fileno() != -1:
                self._watch.shutdown(socket.SHUT_RDWR)

    def cancel(self) -> None:
        self._timer.cancel()
        with self._lock:
            self._watch.close()


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


def _classify(exc: BaseException) -> tuple[bool, str]:
    """Whether retrying is pointless, and a message safe to show and log."""
    state = sqlstate(exc)
    details = exc.args[0] if exc.args and isinstance(exc.args[0], dict) else {}
    failed_login = _FAILED_LOGIN_TEXT in str(details.get("M", "")).lower()
    if state.startswith("28") or failed_login or isinstance(exc, scramp.ScramException):
        return True, "could not log in to the database: check the user and password"
    if state == "3D000":
        return True, "the database named in the connection URL does not exist"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return True, "the database server's TLS certificate could not be verified"
    return False, "the database is unavailable; try again shortly"


def sqlstate(exc: BaseException) -> str:
    """The SQLSTATE of a pg8000 (or SQLAlchemy-wrapped) error, or '' for network errors."""
    orig = exc.orig if isinstance(exc, DBAPIError) else exc
    details = orig.args[0] if orig is not None and orig.args else None
    return str(details.get("C", "")) if isinstance(details, dict) else ""


def is_unavailable(exc: BaseException) -> bool:
    """True when an error means the database is down or unreachable (a 503, not a 500)."""
    # pg8000 lets socket errors out unwrapped: a statement timing out, a dropped link.
    if isinstance(exc, DatabaseUnavailable | OSError):
        return True
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated or isinstance(exc.orig, pg8000.dbapi.InterfaceError):
        return True
    return sqlstate(exc).startswith(_UNAVAILABLE_STATES)


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
    engine = create_engine(
        "postgresql+pg8000://", creator=partial(connect, params, settings), **options
    )
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


@lru_cache(maxsize=1)
def get_engine() -> Engine:
    """The API's engine, created on first use: each statement commits on its own."""
    settings = get_settings()
    params = parse_database_url(_secret(settings.database_url))
    return create_db_engine(params, settings, autocommit=True, reuse=settings.db_reuse_connection)


@contextmanager
def translate_errors() -> Iterator[None]:
    """Turn driver errors that mean 'database unavailable' into DatabaseUnavailable."""
    try:
        yield
    except (DBAPIError, OSError) as exc:
        if is_unavailable(exc):
            logger.warning("database unavailable", extra={"error": type(exc).__name__})
            raise DatabaseUnavailable("the database is unavailable; try again shortly") from None
        raise


def _secret(value: Any) -> str | None:
    return None if value is None else str(value.get_secret_value())
