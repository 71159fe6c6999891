"""Which driver errors mean "the database cannot serve you now" (a 503, not a 500), and
what a statement the database refused tells the client (``refusal``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pg8000.dbapi
from sqlalchemy.exc import DBAPIError

from shared.core.errors import (
    AppError,
    DatabaseBusy,
    DatabaseFull,
    DatabaseUnavailable,
    TaskIdsExhausted,
    ValueNotStorable,
)
from shared.core.observability import logger

# SQLSTATEs that mean "the server cannot serve you right now", not "your SQL is wrong".
_UNAVAILABLE_STATES = ("08", "53300", "57P01", "57P02", "57P03")


def sqlstate(exc: BaseException) -> str:
    """The SQLSTATE of a pg8000 (or SQLAlchemy-wrapped) error, or '' for network errors."""
    return _field(exc, "C")


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
