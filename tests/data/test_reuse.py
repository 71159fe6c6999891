"""Opt-in connection reuse: one connection per warm container, checked, dropped on error."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

from infra import neon_local
from shared.core.settings import Settings
from shared.db.engine import create_db_engine
from shared.db.url import parse_database_url
from shared.tasks import crud
from shared.tasks.models import TaskCreate
from tests.support.counting import CountingProxy


@pytest.fixture
def engine(stack: neon_local.Stack, proxy: CountingProxy) -> Iterator[Engine]:
    params = parse_database_url(proxy.url(stack.database_url))
    built = create_db_engine(params, Settings(), autocommit=True, reuse=True)
    yield built
    built.dispose()


def _call(engine: Engine, user_id: str) -> None:
    with Session(engine, expire_on_commit=False) as session:
        crud.select_task_page(session, user_id=user_id)


def test_nothing_connects_before_the_first_request(proxy: CountingProxy, engine: Engine) -> None:
    # GIVEN an engine built at import time (a SnapStart snapshot would capture this state)
    # THEN it has opened no connection yet
    assert proxy.connections == 0


def test_warm_calls_reuse_one_connection_at_two_round_trips(
    proxy: CountingProxy, engine: Engine, user_id: str
) -> None:
    # GIVEN a warm container that served one request
    _call(engine, user_id)
    proxy.reset()
    # WHEN it serves three more
    for _ in range(3):
        _call(engine, user_id)
    # THEN no new connection was opened, and each call cost a liveness check + the statement
    assert (proxy.connections, proxy.flights) == (0, 6)


def test_a_connection_that_saw_an_error_is_not_reused(
    proxy: CountingProxy, engine: Engine, user_id: str
) -> None:
    # GIVEN a warm connection
    _call(engine, user_id)
    # WHEN a statement fails on it
    with pytest.raises(DBAPIError), engine.connect() as conn:
        conn.execute(text("SELECT 1/0"))
    proxy.reset()
    # THEN the next request opens a fresh connection
    _call(engine, user_id)
    assert proxy.connections == 1


def test_a_kept_connection_that_died_is_replaced_without_an_error(
    stack: neon_local.Stack, engine: Engine, user_id: str
) -> None:
    # GIVEN a warm connection, and then the pooler restarts (as when Neon suspends a compute)
    with Session(engine) as session:
        crud.insert_task_row(session, user_id=user_id, data=TaskCreate(title="before"))
    stack.stop_pooler()
    stack.start_pooler()
    # WHEN the next request arrives
    with Session(engine) as session:
        tasks, total = crud.select_task_page(session, user_id=user_id)
    # THEN it succeeds on a new connection
    assert [t.title for t in tasks] == ["before"] and total == 1
