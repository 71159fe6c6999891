"""Database unreachable, waking up past the timeout, or timing out: 503 + Retry-After, logged.

Each test that stops part of the stack restarts it in a ``finally``; connection
attempts and timeouts are lowered so that every failure is quick.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text

from functions import create_task, get_task, health, list_tasks, update_task
from infra.local import neon_local
from shared.adapters.pg8000_driver import SingleFlightConnection
from shared.core.settings import get_settings
from shared.db.engine import create_db_engine
from shared.db.url import parse_database_url
from tests.support.client import Client, User
from tests.support.events import Reply
from tests.support.output import Output
from tests.support.resets import Configure
from tests.support.routes import handler_of, sample, task_routes

UNAVAILABLE = "the database is unavailable; try again shortly"
# /health's fields, and the error body every 503 has.
HEALTH_DOWN = {
    "status": "error",
    "database": "unavailable",
    "detail": UNAVAILABLE,
    "code": "DATABASE_UNAVAILABLE",
    "message": "The service is temporarily unavailable. Please try again in a moment.",
}


@pytest.fixture
def impatient(configure: Configure) -> None:
    """One connection attempt and short timeouts, so an outage costs little test time."""
    configure(db_connect_attempts="1", db_connect_timeout="0.5", db_query_timeout="1")


def _every_route(client: Client, user: User, task_id: int) -> dict[str, Reply]:
    replies = {}
    for route in task_routes():
        path, body = sample(route, user.id, task_id)
        replies[route.key] = client(
            handler_of(route), route.method, path, token=user.token, json_body=body
        )
    return replies


def _assert_unavailable(reply: Reply) -> None:
    assert (reply.status, reply.detail) == (503, UNAVAILABLE)
    assert reply.headers["retry-after"] == "5"


def _logged(output: Output, request_id: str) -> list[dict[str, Any]]:
    return [r for r in output.logs() if r.get("correlation_id") == request_id]


@pytest.mark.usefixtures("impatient")
def test_every_route_is_503_while_the_pooler_is_down_and_recovers(
    stack: neon_local.Stack, client: Client, alice: User, output: Output
) -> None:
    # GIVEN one of alice's tasks, then the pooled endpoint goes away
    task = client.create(alice, "survives the outage")
    stack.stop_pooler()
    try:
        # WHEN every task route and the health check are called
        replies = _every_route(client, alice, task["id"])
        checked = client(health.handler, "GET", "/health", request_id="health-while-down")
    finally:
        stack.start_pooler()
    # THEN each answers 503 with Retry-After and a plain message
    for name, reply in replies.items():
        assert reply.status == 503, name
        _assert_unavailable(reply)
    assert (checked.status, checked.json()) == (503, HEALTH_DOWN)
    assert checked.headers["retry-after"] == "5"
    # AND the health failure was logged under its request's correlation id
    logged = {(r["level"], r["message"]) for r in _logged(output, "health-while-down")}
    assert ("WARNING", "health check: database unavailable") in logged
    # AND once the pooler is back the same task is served again, unchanged
    after = client(get_task.handler, "GET", alice.task(task["id"]), token=alice.token)
    assert (after.status, after.json()) == (200, task)


@pytest.mark.usefixtures("impatient")
def test_a_request_is_503_while_postgres_is_down_behind_the_pooler(
    stack: neon_local.Stack, client: Client, alice: User, output: Output
) -> None:
    # GIVEN PostgreSQL stops while the pooler keeps accepting clients
    stack.stop_postgres()
    try:
        # WHEN alice creates a task and the health check runs
        began = time.monotonic()
        reply = client(
            create_task.handler,
            "POST",
            alice.tasks,
            token=alice.token,
            json_body={"title": "lost?"},
            request_id="create-while-down",
        )
        elapsed = time.monotonic() - began
        checked = client(health.handler, "GET", "/health")
    finally:
        stack.start_postgres()
    # THEN both are 503 within the timeouts (the pooler takes the login, then the statement
    # waits for a server that is gone), and the failure is logged as a warning
    _assert_unavailable(reply)
    assert elapsed < 3
    assert checked.status == 503
    logged = {
        (r["level"], r["message"], r.get("error"), r.get("status"))
        for r in _logged(output, "create-while-down")
    }
    assert ("WARNING", "request failed", "DatabaseUnavailable", 503) in logged
    # AND nothing was half-created
    listed = client(list_tasks.handler, "GET", alice.tasks, token=alice.token)
    assert (listed.status, listed.headers["x-total-count"]) == (200, "0")


class SilentServer:
    """Accepts TCP connections and never answers: a compute that has not woken up yet."""

    def __init__(self) -> None:
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        self.accepted = 0
        self._held: list[socket.socket] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            self.accepted += 1
            self._held.append(conn)

    def close(self) -> None:
        """Stop accepting and drop every held connection."""
        self._sock.close()
        for conn in self._held:
            conn.close()


@pytest.fixture
def sleeping_database(stack: neon_local.Stack, configure: Configure) -> Iterator[SilentServer]:
    """DATABASE_URL pointing at a server that never completes a login; two short attempts."""
    server = SilentServer()
    url = stack.database_url.replace(f":{stack.pooler_port}/", f":{server.port}/")
    configure(database_url=url, db_connect_attempts="2", db_connect_timeout="0.3")
    yield server
    server.close()


def test_a_database_waking_up_past_the_timeout_is_503_after_bounded_retries(
    sleeping_database: SilentServer, client: Client, alice: User
) -> None:
    # GIVEN a database endpoint that accepts connections but does not answer in time
    # WHEN alice lists her tasks, and the health check runs
    began = time.monotonic()
    reply = client(list_tasks.handler, "GET", alice.tasks, token=alice.token)
    elapsed = time.monotonic() - began
    checked = client(health.handler, "GET", "/health")
    # THEN the list was retried once (two attempts) and then given up: 503, quickly
    _assert_unavailable(reply)
    assert elapsed < 2
    assert checked.status == 503
    assert sleeping_database.accepted == 4  # two attempts for each of the two requests


@pytest.mark.parametrize("reuse", ["false", "true"], ids=["fresh connections", "kept connection"])
def test_a_statement_that_times_out_is_503_logged_and_leaves_no_broken_connection(
    stack: neon_local.Stack,
    client: Client,
    alice: User,
    configure: Configure,
    output: Output,
    reuse: str,
) -> None:
    # GIVEN alice's task, a short statement timeout, and another session holding its row lock
    task = client.create(alice, "locked")
    configure(db_query_timeout="0.5", db_reuse_connection=reuse)
    locker = create_db_engine(
        parse_database_url(stack.direct_url), get_settings(), autocommit=False
    )
    try:
        with locker.connect() as conn:
            conn.execute(text("SELECT id FROM tasks WHERE id = :id FOR UPDATE"), {"id": task["id"]})
            # WHEN alice updates the locked task
            reply = client(
                update_task.handler,
                "PATCH",
                alice.task(task["id"]),
                token=alice.token,
                json_body={"title": "blocked"},
                request_id="update-timed-out",
            )
            conn.rollback()
    finally:
        locker.dispose()
    # THEN the statement's timeout is a 503 with Retry-After, not a 500
    _assert_unavailable(reply)
    # AND the timeout was logged as such under the request's correlation id
    records = _logged(output, "update-timed-out")
    assert {(r["level"], r["message"], r.get("error")) for r in records} >= {
        ("WARNING", "database unavailable", "TimeoutError"),
        ("WARNING", "request failed", "DatabaseUnavailable"),
    }
    # AND the next requests get answers to their own statements, not the stale reply
    # the timed-out connection still had coming
    fetched = client(get_task.handler, "GET", alice.task(task["id"]), token=alice.token)
    listed = client(list_tasks.handler, "GET", alice.tasks, token=alice.token)
    assert (fetched.status, fetched.json()["id"]) == (200, task["id"])
    assert (listed.status, [t["id"] for t in listed.json()]) == (200, [task["id"]])


def test_a_health_check_whose_statement_times_out_is_503(
    client: Client, output: Output, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the server stops answering after login: pg8000's socket read times out, raising
    # the bare TimeoutError the locked-row test above provokes for real
    def times_out(*args: object, **kwargs: object) -> None:
        raise TimeoutError("timed out")

    monkeypatch.setattr(SingleFlightConnection, "execute_simple", times_out)
    # WHEN the health check runs
    reply = client(health.handler, "GET", "/health", request_id="health-timed-out")
    # THEN it reports the database unavailable, with Retry-After, and logs why
    assert (reply.status, reply.json()) == (503, HEALTH_DOWN)
    assert reply.headers["retry-after"] == "5"
    logged = {(r["message"], r.get("error")) for r in _logged(output, "health-timed-out")}
    assert ("health check: database unavailable", "TimeoutError") in logged
