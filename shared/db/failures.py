"""Which driver errors mean "the database cannot serve you now" (a 503, not a 500), what
a statement the database refused tells the client (``refusal``), and which failed logins
no retry can mend (``misconfiguration``)."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pg8000.dbapi
import scramp
from sqlalchemy.exc import DBAPIError

from shared.core.errors import (
    AppError,
    DatabaseBusy,
    DatabaseFull,
    DatabaseUnavailable,
    SchemaNotMigrated,
    TaskIdsExhausted,
    ValueNotStorable,
)
from shared.core.observability import logger

# SQLSTATEs that mean "the server cannot serve you right now", not "your SQL is wrong".
_UNAVAILABLE_STATES = ("08", "53300", "57P01", "57P02", "57P03")


def sqlstate(exc: BaseException) -> str:
    """The SQLSTATE of a pg8000 (or SQLAlchemy-wrapped) error, or '' for network errors."""
    return _field(exc, "C")


def server_message(exc: BaseException) -> str:
    """The server's own sentence for an error (its ErrorResponse's M field), or ''."""
    return _field(exc, "M")


def table_named(exc: BaseException) -> str:
    """The table a server error names (constraint and data errors do), or ''."""
    return _field(exc, "t")


def _field(exc: BaseException, code: str) -> str:
    """One field of the server's ErrorResponse, as pg8000 keeps it (by its protocol code)."""
    orig = exc.orig if isinstance(exc, DBAPIError) else exc
    details = orig.args[0] if orig is not None and orig.args else None
    return str(details.get(code, "")) if isinstance(details, dict) else ""


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


# What a refused write tells the client, by SQLSTATE or SQLSTATE class, most specific first.
# Anything else (42xxx: our own SQL is wrong, ...) stays a 500.
_REFUSALS: tuple[tuple[str, type[AppError]], ...] = (
    ("2200H", TaskIdsExhausted),  # sequence_generator_limit_exceeded: only tasks.id has one
    ("22", ValueNotStorable),  # data exceptions: too long (22001), out of range (22003), ...
    ("23", ValueNotStorable),  # integrity: not null, check, foreign key, unique, exclusion
    ("40", DatabaseBusy),  # serialization failure, deadlock: the statement was rolled back
    ("55P03", DatabaseBusy),  # lock_not_available (lock_timeout)
    ("57014", DatabaseBusy),  # query_canceled (statement_timeout)
    ("53200", DatabaseBusy),  # out_of_memory
    ("53100", DatabaseFull),  # disk_full (Neon: the project's size limit)
    ("25006", DatabaseUnavailable),  # read_only_sql_transaction: a read-only compute
    # undefined_table, undefined_column: every statement the API sends names only its own
    # tables and columns, so the schema is behind the code (migrate has not run).
    ("42P01", SchemaNotMigrated),
    ("42703", SchemaNotMigrated),
)


def refusal(exc: BaseException) -> type[AppError] | None:
    """The client-facing error for a statement the database refused, if it has one."""
    state = sqlstate(exc)
    return next((kind for prefix, kind in _REFUSALS if state.startswith(prefix)), None)


@contextmanager
def translate_errors() -> Iterator[None]:
    """Turn driver errors that mean 'database unavailable' into DatabaseUnavailable."""
    try:
        yield
    except (DBAPIError, OSError) as exc:
        if is_unavailable(exc):
            logger.warning("database unavailable", extra={"error": type(exc).__name__})
            raise DatabaseUnavailable from None
        raise


# PgBouncer answers every refused client login with 08P01 (protocol_violation), so there
# its sentence tells a wrong password ("SASL authentication failed") or database
# ("no such database: x"; 'database "x" does not exist' where it passes the server's on)
# from a server that is merely down ("server login has been failing, try again later").
_FAILED_LOGIN_TEXT = "authentication failed"
_NO_DATABASE = re.compile(r"no such database|database .* does not exist", re.IGNORECASE)
# getaddrinfo's "no such name" answers (NXDOMAIN, or a name without addresses); a DNS
# server that did not answer (EAI_AGAIN) is retried like any network failure.
_UNRESOLVED = frozenset({socket.EAI_NONAME, getattr(socket, "EAI_NODATA", socket.EAI_NONAME)})


@dataclass(frozen=True)
class Misconfiguration:
    """A login no retry can mend: why (safe to show and log), and if the password was refused."""

    reason: str
    password_refused: bool = False


def misconfiguration(exc: BaseException, host: str, password: str) -> Misconfiguration | None:
    """What is wrong with the connection settings, when ``exc`` says so; None otherwise."""
    if isinstance(exc, socket.gaierror):
        if exc.errno in _UNRESOLVED:
            return Misconfiguration(f"the database host {host} does not resolve: check the URL")
        return None
    if isinstance(exc, scramp.ScramException):
        return Misconfiguration("the database login failed: the server's SCRAM proof was wrong")
    state = sqlstate(exc)
    # The server's sentence names the role or database, never the password; masked anyway.
    said = server_message(exc).replace(password, "***") if password else server_message(exc)
    pooler = state == "08P01"
    if state == "28P01" or (pooler and _FAILED_LOGIN_TEXT in said.lower()):
        return Misconfiguration(f"the database refused the password: {said}", True)
    if state.startswith("28"):
        return Misconfiguration(f"the database refused the login: {said}")
    if state == "3D000" or (pooler and _NO_DATABASE.search(said)):
        return Misconfiguration(f"the database named in the URL does not exist: {said}")
    return None
