"""The single-flight driver: one round trip per statement, safe through PgBouncer."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import Engine, text
from sqlmodel import Session

from infra.local import neon_local
from shared.core.settings import Settings
from shared.db.connect import connect
from shared.db.engine import create_db_engine
from shared.db.url import parse_database_url
from shared.tasks import crud
from shared.tasks.models import TaskCreate
from tests.support.counting import CountingProxy


@pytest.fixture
def engine(stack: neon_local.Stack, proxy: CountingProxy) -> Iterator[Engine]:
    params = parse_database_url(proxy.url(stack.database_url))
    built = create_db_engine(params, Settings(), autocommit=True)
    with built.connect() as conn:  # the dialect's one-time checks happen here
        conn.execute(text("SELECT 1"))
    yield built
    built.dispose()


def _setup_flights(stack: neon_local.Stack, proxy: CountingProxy) -> int:
    params = parse_database_url(proxy.url(stack.database_url))
    proxy.settle()  # an earlier connection's closing Terminate is not this one's
    proxy.reset()
    connect(params, Settings()).close()
    proxy.settle()
    return proxy.flights


def _request_flights(
    engine: Engine, proxy: CountingProxy, call: Callable[[Session], object]
) -> tuple[int, int]:
    """(connections, flights) of one data call made as one request makes it."""
    proxy.settle()
    proxy.reset()
    with Session(engine, expire_on_commit=False) as session:
        assert call(session) not in (None, False)
        session.commit()
    proxy.settle()
    return proxy.connections, proxy.flights


def test_each_api_call_costs_setup_plus_one_round_trip(
    stack: neon_local.Stack, proxy: CountingProxy, engine: Engine, user_id: str
) -> None:
    # GIVEN the cost of opening a connection (TLS + SCRAM) through the pooler, and tasks
    setup = _setup_flights(stack, proxy)
    with Session(engine) as session:
        ids = [
            crud.insert_task_row(session, user_id=user_id, data=TaskCreate(title="t")).id or 0
            for _ in range(2)  # get, update and toggle use the first; delete the last
        ]
    task_id = ids[0]
    calls: dict[str, Callable[[Session], object]] = {
        "create": lambda s: crud.insert_task_row(s, user_id=user_id, data=TaskCreate(title="t")),
        "list": lambda s: crud.select_task_page(s, user_id=user_id),
        "get": lambda s: crud.select_task_row(s, user_id=user_id, task_id=task_id),
        "update": lambda s: crud.update_task_row(
            s, user_id=user_id, task_id=task_id, values={"title": "x"}
        ),
        "toggle": lambda s: crud.update_task_row(
            s, user_id=user_id, task_id=task_id, values=crud.toggled()
        ),
        "delete": lambda s: crud.delete_task_row(s, user_id=user_id, task_id=ids.pop()),
    }
    for name, call in calls.items():
        # WHEN one data call runs in its own session, as one request does
        connections, flights = _request_flights(engine, proxy, call)
        # THEN it used one connection and one round trip beyond the set-up
        assert (name, connections, flights) == (name, 1, setup + 1)


def test_concurrent_clients_through_the_pooler_never_cross_talk(
    stack: neon_local.Stack, user_id: str
) -> None:
    # GIVEN 16 threads sharing a pooler whose server pool is smaller than that
    params = parse_database_url(stack.database_url)
    settings = Settings()
    errors: list[str] = []
    wrong: list[tuple[int, object]] = []

    def worker(n: int) -> None:
        try:
            conn = connect(params, settings)
            conn.autocommit = True
            cursor = conn.cursor()
            for i in range(40):
                expected = n * 1000 + i
                cursor.execute("SELECT %s::int + 0, %s::text", (expected, f"w{n}"))
                row = cursor.fetchone()
                if row != [expected, f"w{n}"]:
                    wrong.append((expected, row))
            conn.close()
        except Exception as exc:
            errors.append(f"{type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(16)]
    # WHEN they all run parameterised statements in autocommit mode at once
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    # THEN every statement got its own parameters and results back, with no error
    assert errors == []
    assert wrong == []
