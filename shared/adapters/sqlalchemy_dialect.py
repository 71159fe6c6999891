"""SQLAlchemy's pg8000 dialect, told what the server already said instead of asking it.

On an engine's first connection the stock dialect learns four facts with four statements,
one round trip each: ``select pg_catalog.version()``, ``select current_schema()``,
``show transaction isolation level`` and ``show standard_conforming_strings``. Every cold
Lambda container pays them on its first request (measured: 87 ms of 339 at 20 ms RTT,
8 ms at 1 ms; docs/design.md). PostgreSQL reports
two of them unasked in its startup ParameterStatus messages (``server_version`` and
``standard_conforming_strings``, which PgBouncer and Neon's proxy pass on); the other two
are Neon's defaults for an application role: ``read committed`` and the ``public``
schema (no schema named after the role, the default ``search_path``). A server that does
not report a parameter is asked, as the stock dialect would.

``shared.db.engine`` registers the class by name with SQLAlchemy's dialect registry, so
this module (and SQLAlchemy's postgresql package under it, about 40 ms of import) loads
when the first engine is made, where SQLAlchemy loads the stock dialect too.

It relies on SQLAlchemy's private dialect hooks (the four methods below, which
``DefaultDialect.initialize`` and ``PGDialect.initialize`` call once per engine) as the
SQLAlchemy in ``versions.py`` has them; ``tests/data/test_sqlalchemy_dialect.py`` checks
that a first connection sends no statement and that every attribute ``initialize`` sets
comes out as the stock dialect's, on PostgreSQL directly and through the pooler.
"""

from __future__ import annotations

import contextlib
import re
from typing import Any

import pg8000.dbapi
from sqlalchemy.dialects.postgresql.pg8000 import PGDialect_pg8000
from sqlalchemy.engine import Connection
from sqlalchemy.engine.interfaces import IsolationLevel

from shared.adapters.pg8000_driver import SingleFlightConnection

__all__ = ["DEFAULT_ISOLATION_LEVEL", "DEFAULT_SCHEMA", "ReportedServerDialect"]

DEFAULT_ISOLATION_LEVEL: IsolationLevel = "READ COMMITTED"
DEFAULT_SCHEMA = "public"
# The leading numbers of server_version ("17.5", "15.20 (Debian 15.20-0+deb12u1)",
# "18beta1"), read as SQLAlchemy reads them from version().
_VERSION = re.compile(r"(\d+)(?:\.(\d+))?(?:\.(\d+))?")


class ReportedServerDialect(PGDialect_pg8000):
    """The pg8000 dialect, initialised from the startup report: no round trip."""

    # SQLAlchemy compiles statements once only for dialects that say they allow it; a
    # subclass must say so itself (else every statement is compiled afresh, with a warning).
    supports_statement_cache = True

    def _get_server_version_info(self, connection: Connection) -> Any:
        reported = _reported(connection).get("server_version", "")
        found = _VERSION.match(reported)
        if found is None:
            return super()._get_server_version_info(connection)  # type: ignore[no-untyped-call]
        return tuple(int(part) for part in found.groups() if part is not None)

    def _get_default_schema_name(self, connection: Connection) -> str:
        return DEFAULT_SCHEMA

    def get_default_isolation_level(self, dbapi_conn: Any) -> IsolationLevel:
        return DEFAULT_ISOLATION_LEVEL

    def do_close(self, dbapi_connection: Any) -> None:
        _close_quietly(dbapi_connection)

    def do_terminate(self, dbapi_connection: Any) -> None:
        _close_quietly(dbapi_connection)

    def _set_backslash_escapes(self, connection: Connection) -> None:
        reported = _reported(connection).get("standard_conforming_strings")
        if reported is None:
            super()._set_backslash_escapes(connection)  # type: ignore[no-untyped-call]
        else:
            self._backslash_escapes = reported == "off"


def _reported(connection: Connection) -> dict[str, str]:
    """The ParameterStatus values the connection's server sent at login."""
    dbapi_connection = connection.connection.dbapi_connection
    if isinstance(dbapi_connection, SingleFlightConnection):
        return dbapi_connection.server_parameters
    return {}


def _close_quietly(dbapi_connection: Any) -> None:
    """Close a connection that the server or the network may have ended already.

    pg8000's close() then fails sending its Terminate (and closes the socket anyway, in its
    ``finally``); SQLAlchemy's pool would log that failure with a traceback, a stack trace
    in the function's log for a connection that was being discarded on purpose.
    """
    with contextlib.suppress(pg8000.dbapi.InterfaceError, OSError):
        dbapi_connection.close()
