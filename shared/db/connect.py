"""Open one pg8000 connection to Neon: TCP, TLS, SCRAM, retried while the server wakes.

Connecting retries a few times (a suspended Neon compute takes a moment to wake); a wrong
password, database or host fails at once with ``DatabaseMisconfigured``, saying which and
with the server's own sentence (``shared.db.failures.misconfiguration``). A refused
password is first asked of the deployment's secret again (``shared.db.credentials``):
after a rotation the function logs in with the new one. Statements are never retried
here or anywhere. The time to a usable connection, retries included, is published as the
``DatabaseConnectTime`` metric (milliseconds; docs/operations.md: Metrics).
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import time
from typing import NoReturn

import pg8000.dbapi
import scramp
from aws_lambda_powertools.metrics import MetricUnit

from shared.adapters.pg8000_driver import SingleFlightConnection
from shared.core.errors import DatabaseMisconfigured, DatabaseUnavailable
from shared.core.observability import logger, metrics
from shared.core.settings import Settings
from shared.db import credentials
from shared.db.failures import Misconfiguration, misconfiguration, sqlstate
from shared.db.tls import (
    check_channel_binding,
    remember_session,
    scram_channel_binding,
    start_tls,
)
from shared.db.url import ConnectParams

_BACKOFF_SECONDS = 0.25
CONNECT_METRIC = "DatabaseConnectTime"


class _PasswordRefused(Exception):
    """The server refused the password (``str()``: why): the secret may hold a newer one."""


def connect(params: ConnectParams, settings: Settings) -> SingleFlightConnection:
    """Open one connection, retrying while the server is unreachable or waking up; a
    refused password is replaced by the secret's once (``shared.db.credentials``)."""
    started = time.monotonic()
    used = credentials.current(params)
    try:
        conn = _connect(used, settings)
    except _PasswordRefused as refused:
        fresh = credentials.fresh_password(used, settings)
        if fresh is None:
            raise DatabaseMisconfigured(str(refused)) from None
        conn = _connect_or_misconfigured(fresh, settings)
        credentials.remember(params, fresh)
    elapsed_ms = (time.monotonic() - started) * 1000
    metrics.add_metric(name=CONNECT_METRIC, unit=MetricUnit.Milliseconds, value=elapsed_ms)
    return conn


def _connect_or_misconfigured(params: ConnectParams, settings: Settings) -> SingleFlightConnection:
    try:
        return _connect(params, settings)
    except _PasswordRefused as refused:
        raise DatabaseMisconfigured(str(refused)) from None


def _connect(params: ConnectParams, settings: Settings) -> SingleFlightConnection:
    for attempt in range(1, settings.db_connect_attempts + 1):
        try:
            return _open(params, settings)
        except DatabaseUnavailable:
            raise
        except (pg8000.dbapi.Error, OSError, scramp.ScramException) as exc:
            wrong = misconfiguration(exc, params.host, params.password)
            if wrong is not None:
                _refuse(wrong, exc)
            fatal, reason = _classify(exc)
            logger.warning(
                "database connection attempt failed",
                extra={"attempt": attempt, "reason": reason, "error": type(exc).__name__},
            )
            if fatal or attempt == settings.db_connect_attempts:
                raise DatabaseUnavailable(reason) from None
            time.sleep(_BACKOFF_SECONDS * 2 ** (attempt - 1))
    raise AssertionError("unreachable")  # pragma: no cover


def _refuse(wrong: Misconfiguration, exc: BaseException) -> NoReturn:
    """Log why the settings cannot work (an operator must act) and stop: no retry."""
    logger.error(
        "database connection refused",
        extra={"reason": wrong.reason, "sqlstate": sqlstate(exc), "error": type(exc).__name__},
    )
    if wrong.password_refused:
        raise _PasswordRefused(wrong.reason) from None
    raise DatabaseMisconfigured(wrong.reason) from None


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
            scram_channel_binding=scram_channel_binding(sock, params),
            sock=sock,
        )
    except BaseException:
        sock.close()
        raise
    finally:
        deadline.cancel()
    remember_session(sock, params)
    try:
        check_channel_binding(sock, params, conn.auth_mechanism)
    except DatabaseUnavailable:
        conn.close()
        raise
    # The connect timeout bounded the login; statements get their own bound.
    conn.socket.settimeout(settings.db_query_timeout)
    return conn


class _Deadline:
    """Ends a connection attempt when time is up, waking whatever read waits on it.

    It holds its own descriptor of the socket (wrapping it in TLS, shared/db/tls.py,
    detaches the original): shutting that down ends the connection for every descriptor.
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


def _classify(exc: BaseException) -> tuple[bool, str]:
    """Whether retrying is pointless, and a message safe to show and log."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return True, "the database server's TLS certificate could not be verified"
    return False, DatabaseUnavailable.detail
