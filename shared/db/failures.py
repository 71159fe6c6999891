"""Which driver errors mean "the database cannot serve you now" (a 503, not a 500)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pg8000.dbapi
from sqlalchemy.exc import DBAPIError

from shared.core.errors import DatabaseUnavailable
from shared.core.observability import logger

# SQLSTATEs that mean "the server cannot serve you right now", not "your SQL is wrong".
_UNAVAILABLE_STATES = ("08", "53300", "57P01", "57P02", "57P03")


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
