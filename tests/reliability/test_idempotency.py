"""Concurrent duplicates: one key sent 16 times at once writes once; 16 keys write 16 times.

Each request goes through its function's handler and the pooler (PgBouncer, transaction
mode), in a warm process of its own (as Lambda runs concurrent invocations), all sent
together so that the statements really overlap.
"""

from __future__ import annotations

from typing import Any

from infra.local import neon_local
from tests.support.events import Reply

from .harness import IN_FLIGHT, Api, stored_tasks

CLIENTS = IN_FLIGHT


def _all_at_once(api: Api, calls: list[tuple[str, str, dict[str, Any]]]) -> list[Reply]:
    """Send every call at once, each to a warm process of its function (started first)."""
    for method, path in {(method, path) for method, path, _ in calls}:
        api.warm(method, path, len(calls))
    futures = [api.submit(method, path, **options) for method, path, options in calls]
    return [future.result(timeout=60) for future in futures]


def _keyed(user_token: str, key: str, body: Any) -> dict[str, Any]:
    return {"token": user_token, "json_body": body, "headers": {"Idempotency-Key": key}}


def test_one_key_sent_by_16_clients_at_once_creates_one_task(
    api: Api, stack: neon_local.Stack
) -> None:
    # GIVEN 16 identical keyed creates
    user = api.user()
    call = ("POST", user.tasks, _keyed(user.token, "one-key", {"title": "once"}))
    # WHEN they all arrive at once
    replies = _all_at_once(api, [call] * CLIENTS)
    # THEN exactly one task exists; nobody got a 5xx; every success is that task
    [stored] = stored_tasks(stack, [user.id]).values()
    statuses = sorted(r.status for r in replies)
    assert set(statuses) <= {201, 409}, statuses
    assert statuses.count(201) >= 1
    assert {r.json()["id"] for r in replies if r.status == 201} == {stored["id"]}
    assert {r.code for r in replies if r.status == 409} <= {"IDEMPOTENCY_KEY_IN_USE"}
    # AND exactly one of the successes is the original, the rest are replays
    originals = [r for r in replies if r.status == 201 and "idempotent-replayed" not in r.headers]
    assert len(originals) == 1
    # AND a client told 409 gets the task when it retries
    retry = api.call(*call[:2], **call[2])
    assert (retry.status, retry.json()["id"]) == (201, stored["id"])


def test_one_key_toggling_one_task_from_16_clients_toggles_it_once(
    api: Api, stack: neon_local.Stack
) -> None:
    # GIVEN a pending task and 16 identical keyed toggles
    user = api.user()
    task = api.call("POST", user.tasks, token=user.token, json_body={"title": "t"}).json()
    call = ("PATCH", user.task(task["id"]) + "/complete", _keyed(user.token, "toggle", None))
    # WHEN they all arrive at once
    replies = _all_at_once(api, [call] * CLIENTS)
    # THEN the task was toggled exactly once, and nobody got a 5xx
    assert set(r.status for r in replies) <= {200, 409}
    assert {r.json()["completed"] for r in replies if r.status == 200} == {True}
    assert [row["completed"] for row in stored_tasks(stack, [user.id]).values()] == [True]


def test_16_keys_sent_at_once_create_16_tasks(api: Api, stack: neon_local.Stack) -> None:
    # GIVEN 16 creates, each with its own key
    user = api.user()
    calls = [
        ("POST", user.tasks, _keyed(user.token, f"key-{n}", {"title": f"task {n}"}))
        for n in range(CLIENTS)
    ]
    # WHEN they all arrive at once
    replies = _all_at_once(api, calls)
    # THEN each created its own task
    assert [r.status for r in replies] == [201] * CLIENTS
    titles = sorted(row["title"] for row in stored_tasks(stack, [user.id]).values())
    assert titles == sorted(f"task {n}" for n in range(CLIENTS))
