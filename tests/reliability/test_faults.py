"""Faults survived: outages, slow wake-ups, cut links and dead kept connections.

Every test drives the real handlers, checks the database afterwards through PostgreSQL's
own superuser socket, and restarts whatever it stopped in a ``finally``, because the rest
of the session shares the stack. Requests in flight together run in worker processes of
their function, one invocation per process, as on Lambda.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any

import pytest

from infra.local import neon_local
from infra.local.neon_local.config import DEFAULT_POOL_SIZE
from shared.core.errors import DatabaseUnavailable
from shared.core.settings import Settings
from shared.db.connect import connect
from shared.db.url import parse_database_url
from tests.support.client import User
from tests.support.events import Reply
from tests.support.faults import FaultProxy
from tests.support.output import Output
from tests.support.resets import Configure

from .harness import IN_FLIGHT, Api, background, fields, stored_tasks, timed

MODES = {"nullpool": "false", "reuse": "true"}
MARGIN = 0.5  # seconds of slack on any time bound: scheduling, TLS, the 503 itself
QUERY_TIMEOUT = 2.0
RECOVERY_SECONDS = 5.0
BACKOFF = 0.25  # shared/db/connect.py: first retry waits 0.25 s, doubling


@contextmanager
def postgres_stopped(stack: neon_local.Stack) -> Iterator[None]:
    """PostgreSQL is down inside the block, and always started again after it."""
    stack.stop_postgres()
    try:
        yield
    finally:
        stack.start_postgres()


@contextmanager
def pooler_stopped(stack: neon_local.Stack) -> Iterator[None]:
    """PgBouncer is down inside the block, and always started again after it."""
    stack.stop_pooler()
    try:
        yield
    finally:
        stack.start_pooler()


@contextmanager
def locked(stack: neon_local.Stack, sql: str, *params: Any) -> Iterator[None]:
    """Hold the lock ``sql`` takes, in a transaction on the direct endpoint, for the block."""
    conn = connect(parse_database_url(stack.direct_url), Settings())
    try:
        conn.cursor().execute(sql, params)
        yield
    finally:
        conn.rollback()
        conn.close()


# What the data functions send, as pg_stat_activity shows it (constants, not input).
INSERT = "INSERT INTO tasks"
UPDATE = "UPDATE tasks"


def _waiting(stack: neon_local.Stack, statement: str) -> int:
    """How many backends are running ``statement…`` while waiting for a lock."""
    where = f"wait_event_type = 'Lock' AND query LIKE '{statement}%'"
    return int(stack.admin_psql(f"SELECT count(*) FROM pg_stat_activity WHERE {where}"))  # noqa: S608


def _running(stack: neon_local.Stack, statement: str) -> int:
    """How many backends are still running ``statement…``."""
    where = f"state = 'active' AND query LIKE '{statement}%'"
    return int(stack.admin_psql(f"SELECT count(*) FROM pg_stat_activity WHERE {where}"))  # noqa: S608


def _until(check: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    """Poll ``check`` until it holds; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.05)


def _create(api: Api, user: User, title: str, **extra: Any) -> Reply:
    return api.call("POST", user.tasks, token=user.token, json_body={"title": title, **extra})


def _titles(stack: neon_local.Stack, user: User) -> list[str]:
    return sorted(row["title"] for row in stored_tasks(stack, [user.id]).values())


def _assert_unavailable(reply: Reply) -> None:
    assert reply.status == 503, reply.text
    assert reply.headers.get("retry-after") == str(DatabaseUnavailable.retry_after_seconds)
    assert reply.json() == {
        "detail": "the database is unavailable; try again shortly",
        "code": "DATABASE_UNAVAILABLE",
        "message": "The service is temporarily unavailable. Please try again in a moment.",
    }


# --------------------------------------------------------------------------- outages


@pytest.mark.parametrize("mode", list(MODES))
def test_postgres_restart_gives_503s_then_the_same_container_recovers(
    mode: str, api: Api, configure: Configure, stack: neon_local.Stack
) -> None:
    # GIVEN a warm container that has served a write
    configure(db_reuse_connection=MODES[mode], db_query_timeout=str(QUERY_TIMEOUT))
    user = api.user()
    assert _create(api, user, "before").status == 201
    # WHEN PostgreSQL stops mid-run
    with postgres_stopped(stack):
        during = [
            timed(lambda: _create(api, user, "during 1")),
            timed(lambda: _create(api, user, "during 2")),
            timed(lambda: api.call("GET", user.tasks, token=user.token)),
        ]
    # THEN every request meanwhile got a bounded 503 with Retry-After
    for reply, took in during:
        _assert_unavailable(reply)
        assert took < QUERY_TIMEOUT + MARGIN
    # AND once it is back, the same container (no restart, no reset) serves again
    deadline = time.monotonic() + RECOVERY_SECONDS
    while (reply := api.call("GET", user.tasks, token=user.token)).status != 200:
        _assert_unavailable(reply)
        assert time.monotonic() < deadline, "the container did not recover"
        time.sleep(0.2)
    assert _create(api, user, "after").status == 201
    # AND the database holds the acknowledged writes, and none of the refused ones (those
    # never reached PostgreSQL)
    assert _titles(stack, user) == ["after", "before"]


@pytest.mark.parametrize("mode", list(MODES))
def test_pooler_restart_gives_503s_then_the_first_request_after_it_succeeds(
    mode: str, api: Api, configure: Configure, stack: neon_local.Stack
) -> None:
    # GIVEN a warm container that has served a write
    configure(db_reuse_connection=MODES[mode], db_query_timeout=str(QUERY_TIMEOUT))
    user = api.user()
    assert _create(api, user, "before").status == 201
    # WHEN PgBouncer restarts mid-run
    with pooler_stopped(stack):
        reply, took = timed(lambda: _create(api, user, "during"))
        # THEN a request meanwhile gets a 503 once its 3 refused attempts are spent (refused
        # at once: only the backoff between them, 0.25 s + 0.5 s, takes time)
        _assert_unavailable(reply)
        assert took < 3 * BACKOFF + MARGIN
    # AND the very next request after the restart succeeds in the same container
    assert _create(api, user, "after").status == 201
    assert _titles(stack, user) == ["after", "before"]


def _clients_write_through(
    api: Api, users: list[User], outage: Callable[[], AbstractContextManager[None]]
) -> dict[str, list[tuple[str, int]]]:
    """Each user creates tasks in a loop, all at once, while ``outage`` happens mid-run.

    Returns each user's (title, status) in order; the run ends once every client has
    seen the outage and then two successes in a row.
    """
    stop = threading.Event()
    seen: dict[str, list[tuple[str, int]]] = {user.id: [] for user in users}

    def write(user: User) -> None:
        for n in itertools.count():
            if stop.is_set():
                return
            title = f"write {n}"
            reply = api.submit("POST", user.tasks, token=user.token, json_body={"title": title})
            seen[user.id].append((title, reply.result().status))

    def recovered(outcomes: list[tuple[str, int]]) -> bool:
        statuses = [status for _, status in outcomes]
        return 503 in statuses and statuses[-2:] == [201, 201]

    with ThreadPoolExecutor(len(users)) as clients:
        running = [clients.submit(write, user) for user in users]
        try:
            _until(lambda: all(len(s) >= 2 for s in seen.values()), "every client writes", 60)
            with outage():
                time.sleep(QUERY_TIMEOUT + MARGIN)  # longer than a queued statement waits
            _until(lambda: all(map(recovered, seen.values())), "every client recovers")
        finally:
            stop.set()
            for future in running:
                future.result(timeout=QUERY_TIMEOUT * 5)
    return seen


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("component", ["postgres", "pooler"])
def test_every_write_acknowledged_around_a_restart_is_kept_whole(
    component: str, mode: str, api: Api, configure: Configure, stack: neon_local.Stack
) -> None:
    # GIVEN three clients writing concurrently, each request in a container of its own
    configure(db_reuse_connection=MODES[mode], db_query_timeout=str(QUERY_TIMEOUT))
    users = [api.user() for _ in range(3)]
    restart = postgres_stopped if component == "postgres" else pooler_stopped
    # WHEN the component stops for longer than a statement may wait, then comes back
    seen = _clients_write_through(api, users, lambda: restart(stack))
    for user in users:
        outcomes = seen[user.id]
        # THEN each client only ever got 201 or 503 (never a 500), and is writing again
        assert {status for _, status in outcomes} == {201, 503}
        # AND every acknowledged write is stored, whole; nothing stored was never sent
        stored = stored_tasks(stack, [user.id]).values()
        titles = {row["title"] for row in stored}
        assert {title for title, status in outcomes if status == 201} <= titles
        assert titles <= {title for title, _ in outcomes}
        assert all(row["description"] is None and row["completed"] is False for row in stored)


# --------------------------------------------------------------------------- slow wake-up


def test_a_compute_waking_within_the_connect_timeout_still_answers(
    api: Api, configure: Configure, stack: neon_local.Stack
) -> None:
    # GIVEN a database that takes 0.6 s to send its first bytes, under a 2 s connect timeout
    user = api.user()
    with FaultProxy(stack.pooler_port, open_delay=0.6) as proxy:
        configure(
            database_url=proxy.url(stack.database_url),
            db_connect_timeout="2",
            db_connect_attempts="1",
        )
        # WHEN a request arrives
        reply, took = timed(lambda: _create(api, user, "woken"))
    # THEN it waited for the wake-up and succeeded within the timeout
    assert reply.status == 201, reply.text
    assert 0.6 <= took < 2 + MARGIN
    assert _titles(stack, user) == ["woken"]


@pytest.mark.parametrize("attempts", [1, 2])
def test_a_compute_slower_than_the_connect_timeout_gives_503_within_the_timeout(
    attempts: int, api: Api, configure: Configure, stack: neon_local.Stack
) -> None:
    # GIVEN a database that stays silent for 10 s, under a 0.75 s connect timeout
    user = api.user()
    timeout = 0.75
    budget = attempts * timeout + sum(BACKOFF * 2**n for n in range(attempts - 1))
    with FaultProxy(stack.pooler_port, open_delay=10) as proxy:
        configure(
            database_url=proxy.url(stack.database_url),
            db_connect_timeout=str(timeout),
            db_connect_attempts=str(attempts),
        )
        # WHEN a request arrives
        reply, took = timed(lambda: _create(api, user, "never"))
        # THEN each attempt waited out its timeout, then the client got a 503, not a hang
        _assert_unavailable(reply)
        assert proxy.connections == attempts
        assert budget <= took < budget + MARGIN
    assert _titles(stack, user) == []


def test_a_login_trickling_past_the_connect_timeout_gives_503_within_the_timeout(
    api: Api, configure: Configure, stack: neon_local.Stack
) -> None:
    # GIVEN a link where every server reply takes 0.4 s: each step of the TLS + SCRAM login
    # is under the 1 s connect timeout, but the login as a whole is several times longer
    user = api.user()
    with FaultProxy(stack.pooler_port, reply_delay=0.4) as proxy:
        configure(
            database_url=proxy.url(stack.database_url),
            db_connect_timeout="1",
            db_connect_attempts="1",
        )
        # WHEN a request arrives
        reply, took = timed(lambda: api.call("GET", user.tasks, token=user.token))
    # THEN the connect timeout bounds the whole attempt (as libpq's connect_timeout does)
    assert reply.status == 503 and took < 1.0 + MARGIN, (reply.status, round(took, 2))


# --------------------------------------------------------------------------- cut links


@pytest.mark.parametrize("mode", list(MODES))
def test_network_cut_during_a_create_leaves_the_row_whole_or_absent(
    mode: str, api: Api, configure: Configure, stack: neon_local.Stack
) -> None:
    user = api.user()
    sent = {"title": "all or nothing", "description": "every field or none", "completed": False}
    with FaultProxy(stack.pooler_port) as proxy, background() as pool:
        configure(database_url=proxy.url(stack.database_url), db_reuse_connection=MODES[mode])
        # GIVEN a create whose INSERT has reached PostgreSQL and is in flight (held by a lock)
        with locked(stack, "LOCK TABLE tasks IN SHARE MODE"):
            body = {k: sent[k] for k in ("title", "description")}
            future = pool.submit(api.call, "POST", user.tasks, token=user.token, json_body=body)
            _until(lambda: _waiting(stack, INSERT) == 1, "the INSERT waits")
            # WHEN the network drops
            assert proxy.cut() >= 1
            reply = future.result(timeout=QUERY_TIMEOUT * 5)
        _until(lambda: _running(stack, INSERT) == 0, "the INSERT is over")
    # THEN the client was told to retry (503), not that the server broke (500)
    _assert_unavailable(reply)
    # AND the row is either all there or not there at all
    rows = [fields(row) for row in stored_tasks(stack, [user.id]).values()]
    assert rows == [] or [{k: r[k] for k in sent} for r in rows] == [sent]


@pytest.mark.parametrize("mode", list(MODES))
def test_network_cut_during_an_update_leaves_all_old_or_all_new_values(
    mode: str, api: Api, configure: Configure, stack: neon_local.Stack
) -> None:
    user = api.user()
    with FaultProxy(stack.pooler_port) as proxy, background() as pool:
        configure(database_url=proxy.url(stack.database_url), db_reuse_connection=MODES[mode])
        created = _create(api, user, "old title", description="old description").json()
        old = fields(created)
        new = {**old, "title": "new title", "description": "new description", "completed": True}
        change = {k: new[k] for k in ("title", "description", "completed")}
        # GIVEN an update of three fields whose UPDATE is in flight (the row is locked)
        with locked(stack, "SELECT id FROM tasks WHERE id = %s FOR UPDATE", old["id"]):
            path = user.task(old["id"])
            future = pool.submit(api.call, "PATCH", path, token=user.token, json_body=change)
            _until(lambda: _waiting(stack, UPDATE) == 1, "the UPDATE waits")
            # WHEN the network drops
            assert proxy.cut() >= 1
            reply = future.result(timeout=QUERY_TIMEOUT * 5)
        _until(lambda: _running(stack, UPDATE) == 0, "the UPDATE is over")
    # THEN the client got a 503, and the row holds every old value or every new one
    _assert_unavailable(reply)
    assert [fields(r) for r in stored_tasks(stack, [user.id]).values()] in ([old], [new])


KEYED = "WITH prior AS"  # how a keyed write's statement starts (shared.tasks.idempotency)
POOL_SIZE = DEFAULT_POOL_SIZE  # server connections behind the test stack's pooler


@pytest.mark.parametrize("mode", list(MODES))
def test_a_keyed_create_cut_after_sending_is_retried_into_exactly_one_task(
    mode: str, api: Api, configure: Configure, stack: neon_local.Stack
) -> None:
    user = api.user()
    body = {"title": "exactly once", "description": "retried after a cut"}
    key = {"Idempotency-Key": "cut-create-1"}
    with FaultProxy(stack.pooler_port) as proxy, background() as pool:
        configure(database_url=proxy.url(stack.database_url), db_reuse_connection=MODES[mode])
        # GIVEN a keyed create whose statement has reached PostgreSQL (held by a lock)
        with locked(stack, "LOCK TABLE tasks IN SHARE MODE"):
            call = {"token": user.token, "json_body": body, "headers": key}
            future = pool.submit(api.call, "POST", user.tasks, **call)
            _until(lambda: _waiting(stack, KEYED) == 1, "the keyed INSERT waits")
            # WHEN the network drops before the answer, and the statement then commits
            assert proxy.cut() >= 1
            _assert_unavailable(future.result(timeout=QUERY_TIMEOUT * 5))
        _until(lambda: _running(stack, KEYED) == 0, "the keyed INSERT is over")
        # AND the client retries with the same key, then reads the task
        retry = api.call("POST", user.tasks, **call)
        read = api.call("GET", retry.headers.get("location", user.tasks), token=user.token)
    # THEN there is exactly one task, and the retry answered what the first would have:
    # 201, the stored task (every field, timestamps too) and its Location
    [stored] = stored_tasks(stack, [user.id]).values()
    assert retry.status == 201, retry.text
    assert retry.headers["idempotent-replayed"] == "true"
    assert fields(retry.json()) == fields(stored) and stored["title"] == body["title"]
    assert retry.headers["location"] == user.task(stored["id"])
    assert retry.json() == read.json()


def test_a_keyed_toggle_cut_after_sending_is_retried_without_toggling_back(
    api: Api, configure: Configure, stack: neon_local.Stack
) -> None:
    user = api.user()
    with FaultProxy(stack.pooler_port) as proxy, background() as pool:
        configure(database_url=proxy.url(stack.database_url))
        task = _create(api, user, "toggle once").json()
        path = user.task(task["id"]) + "/complete"
        call: dict[str, Any] = {"token": user.token, "headers": {"Idempotency-Key": "toggle-1"}}
        # GIVEN a keyed toggle whose statement is in flight (the row is locked)
        with locked(stack, "SELECT id FROM tasks WHERE id = %s FOR UPDATE", task["id"]):
            future = pool.submit(api.call, "PATCH", path, **call)
            _until(lambda: _waiting(stack, KEYED) == 1, "the keyed UPDATE waits")
            # WHEN the network drops, the toggle commits, and the client retries
            assert proxy.cut() >= 1
            _assert_unavailable(future.result(timeout=QUERY_TIMEOUT * 5))
        _until(lambda: _running(stack, KEYED) == 0, "the keyed UPDATE is over")
        retry = api.call("PATCH", path, **call)
    # THEN the task was toggled once: the retry shows it completed, and so does the database
    assert (retry.status, retry.json()["completed"]) == (200, True)
    assert [row["completed"] for row in stored_tasks(stack, [user.id]).values()] == [True]


ROUNDS = 5  # races until one shows a 409: a round takes about a second, 1 in ~10 has none


@dataclass
class Race:
    """16 identical keyed creates by one user, released together from a table lock."""

    user: User
    call: dict[str, Any]
    replies: list[Reply]
    metrics: list[dict[str, Any]]  # the EMF lines their invocations printed


def _race(api: Api, stack: neon_local.Stack, output: Output) -> Race:
    """Run one race with a new user; ``output`` collects what its invocations print."""
    user = api.user()
    call: dict[str, Any] = {"token": user.token, "json_body": {"title": "raced"}}
    call["headers"] = {"Idempotency-Key": "in-flight"}
    api.warm("POST", user.tasks, IN_FLIGHT)  # their processes started (cold) before the race
    printed = len(output.metrics())
    # as many as the pooler has server connections (5) wait in PostgreSQL, the rest in PgBouncer
    with locked(stack, "LOCK TABLE tasks IN SHARE MODE"):
        futures = [api.submit("POST", user.tasks, **call) for _ in range(IN_FLIGHT)]
        _until(lambda: _waiting(stack, KEYED) == POOL_SIZE, "the pool's statements wait")
    replies = [future.result(timeout=QUERY_TIMEOUT * 5) for future in futures]
    return Race(user, call, replies, output.metrics()[printed:])


@pytest.mark.parametrize("mode", list(MODES))
def test_16_keyed_duplicates_in_flight_together_write_once_and_the_rest_get_409(
    mode: str, api: Api, configure: Configure, stack: neon_local.Stack, output: Output
) -> None:
    configure(db_reuse_connection=MODES[mode])
    for _ in range(ROUNDS):
        # GIVEN 16 identical keyed creates in flight at once (each in its own process), held
        # by a table lock
        # WHEN the lock goes and they race
        race = _race(api, stack, output)
        # THEN one wrote; any that raced it in PostgreSQL were told 409 (their writes rolled
        # back with their statements), the later ones replayed; never a 5xx
        statuses = [r.status for r in race.replies]
        assert set(statuses) <= {201, 409}, statuses
        assert {r.code for r in race.replies if r.status == 409} <= {"IDEMPOTENCY_KEY_IN_USE"}
        created = [r for r in race.replies if r.status == 201]
        assert sum("idempotent-replayed" not in r.headers for r in created) == 1
        [stored] = stored_tasks(stack, [race.user.id]).values()
        # AND every 201, and a retry of a 409, is the one task
        retry = api.call("POST", race.user.tasks, **race.call)
        assert {r.json()["id"] for r in [*created, retry]} == {stored["id"]}
        # AND each invocation published its own metrics (its process's), none of another's
        assert all(len(m.get("DatabaseConnectTime", [])) <= 1 for m in race.metrics), race.metrics
        assert sum(len(m.get("TaskCreated", [])) for m in race.metrics) == len(created)
        if 409 in statuses:
            return
    pytest.fail(f"no 409 in {ROUNDS} races: the in-flight path was never taken")


# --------------------------------------------------------------------------- frozen containers


@pytest.mark.parametrize("fault", ["connections cut", "pooler restarted"])
def test_a_kept_connection_that_died_while_frozen_is_replaced_without_an_error(
    fault: str, api: Api, configure: Configure, stack: neon_local.Stack
) -> None:
    user = api.user()
    with FaultProxy(stack.pooler_port) as proxy:
        configure(database_url=proxy.url(stack.database_url), db_reuse_connection="true")
        # GIVEN a container that served a request and kept its connection
        assert api.call("GET", user.tasks, token=user.token).status == 200
        assert (proxy.connections, proxy.open_connections) == (1, 1)
        # WHEN that connection dies while the container is frozen
        if fault == "connections cut":
            assert proxy.cut() == 1
        else:
            with pooler_stopped(stack):
                _until(lambda: proxy.open_connections == 0, "the pooler dropped the link")
        # THEN the next request (a write) succeeds on one new connection
        reply = _create(api, user, "after the thaw")
        assert reply.status == 201, reply.text
        assert proxy.connections == 2
    # AND it was written exactly once
    assert _titles(stack, user) == ["after the thaw"]
