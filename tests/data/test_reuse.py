"""Opt-in connection reuse: one connection per warm container, one round trip per call.

Before each use the kept connection is checked by its socket alone (anything to read, an
end or an error means the server closed it or is about to), and replaced then, before
its statement is sent; a connection idle for long is pinged too. A statement that may
have reached the server is never sent again.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

from functions import create_task, list_tasks
from infra.local import neon_local
from shared.core.settings import Settings
from shared.db.engine import create_db_engine
from shared.db.liveness import is_quiet
from shared.db.url import parse_database_url
from shared.tasks import crud
from shared.tasks.models import TaskCreate
from tests.support.client import Client, User
from tests.support.counting import CountingProxy
from tests.support.hangups import ADMIN_SHUTDOWN, HangingUpProxy
from tests.support.tls_pair import tls_pair


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


def test_warm_calls_reuse_one_connection_at_one_round_trip(
    proxy: CountingProxy, engine: Engine, user_id: str
) -> None:
    # GIVEN a warm container that served one request
    _call(engine, user_id)
    proxy.reset()
    # WHEN it serves three more
    for _ in range(3):
        _call(engine, user_id)
    # THEN no new connection was opened, and each call cost its statement alone: the
    # connection was checked without asking the server
    assert (proxy.connections, proxy.flights) == (0, 3)


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


def test_a_pooler_restart_between_two_warm_requests_fails_neither(
    stack: neon_local.Stack, proxy: CountingProxy, engine: Engine, user_id: str
) -> None:
    # GIVEN a warm connection, and then the pooler restarts (as when Neon suspends a
    # compute), closing it while the container is frozen
    with Session(engine) as session:
        crud.insert_task_row(session, user_id=user_id, data=TaskCreate(title="before"))
    stack.stop_pooler()
    proxy.settle()  # the closed link has reached the client's socket
    stack.start_pooler()
    proxy.reset()
    # WHEN the next request arrives
    with Session(engine) as session:
        tasks, total = crud.select_task_page(session, user_id=user_id)
    # THEN it succeeds on a new connection
    assert [t.title for t in tasks] == ["before"] and total == 1
    assert proxy.connections == 1


def test_a_kept_connection_whose_server_spoke_unasked_is_replaced_without_asking(
    stack: neon_local.Stack, hanging_proxy: HangingUpProxy, user_id: str
) -> None:
    # GIVEN a warm connection whose server has since said FATAL (it is about to close)
    params = parse_database_url(hanging_proxy.url(stack.database_url))
    engine = create_db_engine(params, Settings(), autocommit=True, reuse=True)
    _call(engine, user_id)
    hanging_proxy.reset()
    assert hanging_proxy.say(ADMIN_SHUTDOWN) == 1
    # WHEN the next request arrives
    _call(engine, user_id)
    engine.dispose()
    hanging_proxy.settle()
    # THEN it ran on a new connection, and nothing was asked on the old one: all it
    # sent was its Terminate (a ping would have been one more flight, before it)
    assert hanging_proxy.connections == 1
    assert hanging_proxy.heard_since_saying == 1


def test_a_statement_cut_off_after_reaching_the_server_is_503_and_never_sent_again(
    hanging_proxy: HangingUpProxy, kept_connection_api: tuple[Client, User]
) -> None:
    # GIVEN a warm container keeping its connection
    client, user = kept_connection_api
    assert client(list_tasks.handler, "GET", user.tasks, token=user.token).status == 200
    hanging_proxy.reset()
    # WHEN a create's INSERT runs but the connection dies before its answer arrives
    hanging_proxy.hang_up_after_next_statement()
    body = {"title": "written once"}
    reply = client(create_task.handler, "POST", user.tasks, token=user.token, json_body=body)
    # THEN the client is told the database is unavailable (it may retry), not a 500
    assert (reply.status, reply.code) == (503, "DATABASE_UNAVAILABLE"), reply.text
    # AND the INSERT was not sent again on another connection: one task, one connection
    assert hanging_proxy.connections == 0
    # AND the next request is served, on a new connection
    listed = client(list_tasks.handler, "GET", user.tasks, token=user.token)
    assert (listed.status, [t["title"] for t in listed.json()]) == (200, ["written once"])
    assert hanging_proxy.connections == 1


def test_a_kept_connection_idle_for_long_is_pinged_first(
    stack: neon_local.Stack, proxy: CountingProxy, user_id: str
) -> None:
    # GIVEN a warm connection that has been idle longer than its socket is trusted
    params = parse_database_url(proxy.url(stack.database_url))
    engine = create_db_engine(params, Settings(), autocommit=True, reuse=True, trusted_idle=0)
    _call(engine, user_id)
    proxy.reset()
    # WHEN the next request arrives
    _call(engine, user_id)
    # THEN the server was asked first: a ping and the statement, on the same connection
    assert (proxy.connections, proxy.flights) == (0, 2)
    engine.dispose()


def test_a_kept_connection_idle_for_long_that_silently_died_is_replaced(
    stack: neon_local.Stack,
    hanging_proxy: HangingUpProxy,
    user_id: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # GIVEN a warm connection, idle for long, whose link was forgotten without a word
    # (as a NAT forgets an idle link, and resets it when it next speaks)
    params = parse_database_url(hanging_proxy.url(stack.database_url))
    engine = create_db_engine(params, Settings(), autocommit=True, reuse=True, trusted_idle=0)
    with Session(engine) as session:
        crud.insert_task_row(session, user_id=user_id, data=TaskCreate(title="before"))
    assert hanging_proxy.hang_up_when_spoken_to() == 1
    hanging_proxy.reset()
    # WHEN the next request arrives
    with Session(engine) as session:
        tasks, _ = crud.select_task_page(session, user_id=user_id)
    engine.dispose()
    # THEN the ping found the link dead, and the request succeeded on a new connection
    assert [t.title for t in tasks] == ["before"]
    assert hanging_proxy.connections == 1
    # AND the dead one was let go without a stack trace in the log
    assert [r.getMessage() for r in caplog.records if r.exc_info] == []


def test_bytes_waiting_inside_tls_count_as_the_server_speaking(stack: neon_local.Stack) -> None:
    with tls_pair(stack.state_dir) as (server, client):
        # GIVEN a quiet TLS connection
        assert is_quiet(client)
        # WHEN the server sends one record and the client reads a byte of it
        server.sendall(b"E" * 100)
        assert client.recv(1) == b"E"
        # THEN nothing is left on the socket, but TLS holds the rest, decrypted: not quiet
        assert client.pending() == 99
        assert not is_quiet(client)
        # AND once all is read it is quiet again, until the server closes
        assert client.recv(99) == b"E" * 99
        assert is_quiet(client)
        server.close()
        assert not is_quiet(client)
