"""The dialect learns the server's facts from its startup report, and gets them right."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text

from infra.local import neon_local
from shared.adapters.sqlalchemy_dialect import ReportedServerDialect
from shared.core.settings import Settings
from shared.db.connect import connect
from shared.db.engine import DRIVER_URL, create_db_engine
from shared.db.url import parse_database_url
from tests.support.counting import CountingProxy
from tests.support.postgres18 import Postgres18

# The four statements the stock dialect sends on an engine's first connection.
_STOCK_CHECKS = (
    "select pg_catalog.version()",
    "select current_schema()",
    "show transaction isolation level",
    "show standard_conforming_strings",
)
_FACT_TYPES = (bool, int, float, str, tuple, type(None))  # not compilers, not the DBAPI

Servers = dict[str, Callable[[], str]]


def _servers(stack: neon_local.Stack, pg18: Postgres18) -> Servers:
    return {
        "pooler": lambda: stack.database_url,
        "postgresql 15": lambda: stack.direct_url,
        "postgresql 18": pg18.url,
    }


def _initialised(url: str, driver_url: str) -> tuple[Engine, dict[str, Any]]:
    params = parse_database_url(url)
    engine = create_engine(driver_url, creator=lambda: connect(params, Settings()))
    with engine.connect():
        pass
    state = {k: v for k, v in vars(engine.dialect).items() if isinstance(v, _FACT_TYPES)}
    return engine, state


def test_the_engines_url_names_the_reported_server_dialect() -> None:
    # GIVEN the URL every engine is made with
    # WHEN SQLAlchemy resolves it through its dialect registry
    dialect = create_engine(DRIVER_URL).dialect
    # THEN it is the pg8000 dialect told the server's facts, not the stock one
    assert type(dialect) is ReportedServerDialect


@pytest.mark.parametrize("server", ["pooler", "postgresql 15", "postgresql 18"])
def test_the_dialect_state_matches_what_the_four_checks_find(
    stack: neon_local.Stack, pg18: Postgres18, server: str
) -> None:
    # GIVEN a stock pg8000 engine and ours, each initialised on its first connection
    url = _servers(stack, pg18)[server]()
    stock, expected = _initialised(url, "postgresql+pg8000://")
    ours, found = _initialised(url, DRIVER_URL)
    # THEN every fact initialize() set (version, schema, isolation level, escapes and
    # the features derived from the version) is the stock dialect's
    assert found == expected
    assert found["server_version_info"][0] == (18 if server == "postgresql 18" else 15)
    # AND they are what the four statements return on this server
    with stock.connect() as conn:
        answers = [conn.exec_driver_sql(sql).scalar() for sql in _STOCK_CHECKS]
    assert answers[1:] == ["public", "read committed", "on"]
    assert (ours.dialect.default_schema_name, ours.dialect.default_isolation_level) == (
        answers[1],
        str(answers[2]).upper(),
    )
    stock.dispose()
    ours.dispose()


@pytest.mark.parametrize("reuse", [False, True], ids=["nullpool", "reuse"])
def test_an_engines_first_connection_sends_no_statement(
    stack: neon_local.Stack, proxy: CountingProxy, reuse: bool
) -> None:
    # GIVEN the cost of opening and closing one connection through the pooler
    params = parse_database_url(proxy.url(stack.database_url))
    proxy.settle()
    proxy.reset()
    connect(params, Settings()).close()
    proxy.settle()
    setup = proxy.flights
    engine = create_db_engine(params, Settings(), autocommit=True, reuse=reuse)
    proxy.reset()
    # WHEN a new engine's first connection runs one statement
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    engine.dispose()  # closes a kept connection too: its Terminate counts as in set-up
    proxy.settle()
    # THEN it cost the set-up and that statement: no dialect check went to the server
    assert (proxy.connections, proxy.flights) == (1, setup + 1)
