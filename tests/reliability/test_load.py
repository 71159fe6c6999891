"""Load held: concurrent clients through the transaction-mode pooler, in both connection modes.

Each client is its own worker process, i.e. its own Lambda container (own settings, engine,
key cache), invoking the real handlers with API Gateway events. There are more clients than
PgBouncer has server connections (5), so the pooler really multiplexes them. Afterwards
PostgreSQL itself (not the API) must hold exactly what was acknowledged.
"""

from __future__ import annotations

import io
import json
import logging
import multiprocessing
import sys
import traceback
import warnings
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Barrier
from typing import Any

import pytest

from infra.local import neon_local
from shared.core.observability import logger
from tests.support.client import Secrets, User
from tests.support.events import Reply
from tests.support.output import Output
from tests.support.resets import Configure, new_container

from .harness import Api, fields, send, stored_tasks

CLIENTS = 8  # > PgBouncer's server pool of 5
TASKS_PER_CLIENT = 4
REQUESTS_PER_CLIENT = TASKS_PER_CLIENT * 6 + 2 + TASKS_PER_CLIENT // 2 * 2  # see _Client.run
WORKER_SECONDS = 90.0
MODES = {"nullpool": "false", "reuse": "true"}


@dataclass
class Report:
    """What one client saw, sent back from its worker process."""

    user_id: str
    statuses: list[int] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    acknowledged: dict[int, dict[str, Any]] = field(default_factory=dict)  # id -> final fields
    replies: list[str] = field(default_factory=list)
    logs: str = ""


class _Client:
    """One user's session against the API; every reply is checked against what it sent."""

    def __init__(self, user: User, report: Report) -> None:
        self.user = user
        self.report = report

    def call(self, method: str, path: str, expected: int, body: Any = None) -> Reply:
        reply = send(Secrets(), method, path, token=self.user.token, json_body=body)
        self.report.replies.append(json.dumps(reply.raw))
        self.report.statuses.append(reply.status)
        if reply.status != expected:
            self.problem(f"{method} {path}: {reply.status} (expected {expected}) {reply.text}")
        return reply

    def problem(self, text: str) -> None:
        self.report.problems.append(text)

    def check_task(self, task: dict[str, Any], sent: dict[str, Any], label: str) -> None:
        """The reply is this user's task and carries exactly the values just written."""
        if task.get("user_id") != self.user.id:
            self.problem(f"{label}: another user's task came back: {task}")
        for name, value in sent.items():
            if task.get(name) != value:
                self.problem(f"{label}: {name} is {task.get(name)!r}, sent {value!r}")

    def acknowledge(self, reply: Reply, sent: dict[str, Any], label: str) -> None:
        if reply.status in (200, 201):
            task = reply.json()
            self.check_task(task, sent, label)
            self.report.acknowledged[task["id"]] = fields(task)

    def run(self) -> None:
        """Create, edit (PATCH, PUT, toggle), read, list, delete: 30 requests."""
        me = self.user
        for n in range(TASKS_PER_CLIENT):
            sent = {"title": f"{me.id} #{n} v0", "description": f"client {me.id}, task {n} · ü"}
            self.acknowledge(self.call("POST", me.tasks, 201, sent), sent, "create")
        for task_id in list(self.report.acknowledged):
            edits: list[tuple[str, str, dict[str, Any] | None]] = [
                ("PATCH", me.task(task_id), {"title": f"{me.id} #{task_id} v1", "completed": True}),
                ("PUT", me.task(task_id), {"title": f"{me.id} #{task_id} v2", "completed": False}),
                ("PATCH", me.task(task_id) + "/complete", None),
            ]
            for method, path, body in edits:
                state = dict(self.report.acknowledged[task_id])
                state.update(body if body is not None else {"completed": not state["completed"]})
                self.acknowledge(self.call(method, path, 200, body), state, f"{method} {path}")
            got = self.call("GET", me.task(task_id), 200)
            self.check_task(got.json(), self.report.acknowledged[task_id], "get")
            self.call("GET", me.task(task_id) + "x", 422)  # a bad id never reaches the database
        self.check_listing()
        for task_id in list(self.report.acknowledged)[: TASKS_PER_CLIENT // 2]:
            if self.call("DELETE", me.task(task_id), 204).status == 204:
                del self.report.acknowledged[task_id]
            self.call("GET", me.task(task_id), 404)
        self.check_listing()

    def check_listing(self) -> None:
        reply = self.call("GET", self.user.tasks, 200)
        listed = {task["id"]: task for task in reply.json()} if reply.status == 200 else {}
        if set(listed) != set(self.report.acknowledged):
            self.problem(
                f"listing shows {sorted(listed)}, acknowledged {sorted(self.report.acknowledged)}"
            )
        for task_id, task in listed.items():
            self.check_task(task, self.report.acknowledged.get(task_id, {}), "list")
        if reply.headers.get("x-total-count") != str(len(self.report.acknowledged)):
            self.problem(f"X-Total-Count {reply.headers.get('x-total-count')}")


def _container(user: User, barrier: Barrier, pipe: Connection) -> None:
    """A worker process: a fresh Lambda container serving one client, its stdout captured."""
    report = Report(user.id)
    # New container: nothing cached from the parent. (The parent holds no engine whose
    # sockets closing here could break: ``configure`` had just started a new container.)
    new_container()
    captured = io.StringIO()
    sys.stdout = captured  # EMF metrics are printed
    handler = logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(captured)
    try:
        barrier.wait(timeout=30)
        _Client(user, report).run()
    except BaseException:
        report.problems.append(traceback.format_exc())
    finally:
        report.logs = captured.getvalue()
        pipe.send(report)
        pipe.close()


def _run_clients(users: list[User]) -> list[Report]:
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(len(users))
    workers = []
    with warnings.catch_warnings():
        # Forking with threads alive (the JWKS server, pytest's) is fine here: each child
        # only uses sockets it opens itself.
        warnings.simplefilter("ignore", DeprecationWarning)
        for user in users:
            mine, theirs = context.Pipe(duplex=False)
            process = context.Process(target=_container, args=(user, barrier, theirs))
            process.start()
            theirs.close()
            workers.append((process, mine))
    reports = []
    try:
        for _, pipe in workers:
            assert pipe.poll(WORKER_SECONDS), "a client did not finish in time"
            reports.append(pipe.recv())
    finally:
        for process, _ in workers:
            process.join(timeout=5)
            if process.is_alive():
                process.kill()
                process.join()
    return reports


@pytest.mark.parametrize("mode", list(MODES))
def test_concurrent_clients_through_the_pooler_keep_every_acknowledged_write(
    mode: str,
    api: Api,
    configure: Configure,
    stack: neon_local.Stack,
    secrets: Secrets,
    output: Output,
) -> None:
    # GIVEN 8 containers in one connection mode, each serving its own user, all at once
    configure(db_reuse_connection=MODES[mode])
    users = [api.user() for _ in range(CLIENTS)]
    # WHEN each runs 30 creates, edits, reads, lists and deletes concurrently
    reports = _run_clients(users)
    # THEN no reply was a 5xx or unexpected, and each client only ever saw its own values
    assert [r.problems for r in reports] == [[] for _ in reports]
    statuses = [s for r in reports for s in r.statuses]
    assert len(statuses) == CLIENTS * REQUESTS_PER_CLIENT
    assert not [s for s in statuses if s >= 500]
    # AND PostgreSQL holds exactly the acknowledged rows, with the acknowledged values
    acknowledged = {k: v for r in reports for k, v in r.acknowledged.items()}
    assert len(acknowledged) == CLIENTS * (TASKS_PER_CLIENT - TASKS_PER_CLIENT // 2)
    assert stored_tasks(stack, [u.id for u in users]) == acknowledged
    # AND every container's log lines were captured (one per request) and hold no secret
    for report in reports:
        handled = [line for line in report.logs.splitlines() if '"request handled"' in line]
        assert len(handled) == REQUESTS_PER_CLIENT
        secrets.assert_absent(report.logs, f"the logs of {report.user_id}'s container")
        secrets.assert_absent("\n".join(report.replies), f"the replies to {report.user_id}")
