"""Idempotency-Key: a keyed write happens once per user and key; a repeat replays its answer."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from functions import complete_task, create_task, get_task, list_tasks, replace_task, update_task
from infra.local import neon_local
from shared.api.handler import LambdaHandler
from shared.core.settings import get_settings
from shared.jobs.migrate import migrate
from shared.tasks.idempotency import PURGE_BATCH
from tests.support.client import Client, User
from tests.support.events import Reply, assert_task

# Every keyed route: (handler, method, path suffix, body). Each changes something visible.
ROUTES: dict[str, tuple[LambdaHandler, str, str, Any]] = {
    "create": (create_task.handler, "POST", "", {"title": "keyed"}),
    "put": (replace_task.handler, "PUT", "/{id}", {"title": "replaced", "completed": True}),
    "patch": (update_task.handler, "PATCH", "/{id}", {"description": "patched"}),
    "toggle": (complete_task.handler, "PATCH", "/{id}/complete", None),
    "toggle {}": (complete_task.handler, "PATCH", "/{id}/complete", {}),
    "set": (complete_task.handler, "PATCH", "/{id}/complete", {"completed": True}),
}


def _keyed(
    client: Client, user: User, route: tuple[LambdaHandler, str, str, Any], task: Any, key: str
) -> Reply:
    handler, method, suffix, body = route
    path = user.tasks + suffix.format(id=task["id"])
    headers = {"Idempotency-Key": key}
    return client(handler, method, path, token=user.token, json_body=body, headers=headers)


def _tasks(client: Client, user: User) -> list[dict[str, Any]]:
    reply = client(list_tasks.handler, "GET", user.tasks, token=user.token)
    assert reply.status == 200, reply.text
    tasks: list[dict[str, Any]] = reply.json()
    return tasks


def _keys(stack: neon_local.Stack, user: User) -> int:
    """How many key records the user has, as PostgreSQL holds them."""
    sql = f"SELECT count(*) FROM idempotency_keys WHERE user_id = '{user.id}'"  # noqa: S608
    return int(stack.admin_psql(sql))


@pytest.mark.parametrize("name", list(ROUTES))
def test_a_repeated_keyed_request_replays_the_first_answer_and_writes_nothing(
    client: Client, alice: User, name: str
) -> None:
    # GIVEN one of alice's tasks and a keyed request that has been answered
    route = ROUTES[name]
    task = client.create(alice, "original")
    key = str(uuid.uuid4())
    first = _keyed(client, alice, route, task, key)
    assert first.status in (200, 201), first.text
    state = _tasks(client, alice)
    # WHEN the very same request is sent again with the same key
    again = _keyed(client, alice, route, task, key)
    # THEN it answers the first status and body, marked as a replay; the first was not
    assert (again.status, again.json()) == (first.status, first.json())
    assert again.headers.get("idempotent-replayed") == "true"
    assert "idempotent-replayed" not in first.headers
    assert again.headers.get("location") == first.headers.get("location")
    assert_task(again.json(), user_id=alice.id)
    # AND nothing was written again: no second task, no second toggle, no newer updated_at
    assert _tasks(client, alice) == state


def test_a_keyed_create_answers_what_an_unkeyed_one_does(client: Client, alice: User) -> None:
    # GIVEN the same body sent with and without a key
    body = {"title": "  same  ", "description": "d"}
    plain = client(create_task.handler, "POST", alice.tasks, token=alice.token, json_body=body)
    keyed = _keyed(client, alice, (create_task.handler, "POST", "", body), {"id": 0}, "k-1")
    # THEN both are 201 with the stored task and its Location, differing only in id and times
    assert (plain.status, keyed.status) == (201, 201)
    volatile = ("id", "created_at", "updated_at")
    strip = [{k: v for k, v in r.json().items() if k not in volatile} for r in (plain, keyed)]
    assert strip[0] == strip[1]
    assert keyed.headers["location"] == f"{alice.tasks}/{keyed.json()['id']}"
    stored = client(get_task.handler, "GET", alice.task(keyed.json()["id"]), token=alice.token)
    assert stored.json() == keyed.json()


@pytest.mark.parametrize(
    ("name", "other"),
    [
        ("create", {"title": "something else"}),
        ("put", {"title": "replaced", "completed": False}),
        ("patch", {"title": "patched"}),
        ("set", {"completed": False}),
        ("toggle", {"completed": True}),
    ],
)
def test_the_same_key_with_a_different_body_is_refused(
    client: Client, alice: User, name: str, other: Any
) -> None:
    # GIVEN a keyed request that has been answered
    handler, method, suffix, _ = route = ROUTES[name]
    task = client.create(alice, "original")
    assert _keyed(client, alice, route, task, "reused").status < 300
    state = _tasks(client, alice)
    # WHEN the key comes again with another body
    reply = _keyed(client, alice, (handler, method, suffix, other), task, "reused")
    # THEN it is a 422 with its own code, and nothing was written
    assert (reply.status, reply.code) == (422, "IDEMPOTENCY_KEY_REUSED")
    assert _tasks(client, alice) == state


def test_the_same_key_on_another_task_or_route_is_refused(client: Client, alice: User) -> None:
    # GIVEN a key used to set one task's flag
    first, second = client.create(alice, "one"), client.create(alice, "two")
    assert _keyed(client, alice, ROUTES["set"], first, "k").status == 200
    # WHEN it is sent with the same body for another task, and on another route
    other_task = _keyed(client, alice, ROUTES["set"], second, "k")
    other_route = _keyed(client, alice, ROUTES["patch"], first, "k")
    # THEN both are refused and the second task is untouched
    assert [r.code for r in (other_task, other_route)] == ["IDEMPOTENCY_KEY_REUSED"] * 2
    assert client(get_task.handler, "GET", alice.task(second["id"]), token=alice.token).json() == (
        second
    )


def test_keys_are_per_user(client: Client, alice: User, bob: User) -> None:
    # GIVEN alice created a task with a key
    route = ROUTES["create"]
    assert _keyed(client, alice, route, {"id": 0}, "shared-key").status == 201
    # WHEN bob sends the same key and body to his own tasks
    reply = _keyed(client, bob, route, {"id": 0}, "shared-key")
    # THEN his request is processed as new: his own task, not a replay of alice's
    assert reply.status == 201 and "idempotent-replayed" not in reply.headers
    assert reply.json()["user_id"] == bob.id
    assert [len(_tasks(client, u)) for u in (alice, bob)] == [1, 1]


def test_a_refused_write_is_not_remembered(client: Client, alice: User, bob: User) -> None:
    # GIVEN a keyed update of a task that is not alice's (a 404, nothing written)
    task = client.create(bob, "bob's")
    missed = _keyed(client, alice, ROUTES["patch"], task, "k")
    assert (missed.status, missed.code) == (404, "TASK_NOT_FOUND")
    # WHEN alice uses the key again for one of her own tasks
    mine = client.create(alice, "mine")
    reply = _keyed(client, alice, ROUTES["patch"], mine, "k")
    # THEN it is processed (only writes that happened are remembered)
    assert reply.status == 200 and reply.json()["description"] == "patched"


def test_an_expired_key_is_processed_as_new(
    client: Client, alice: User, stack: neon_local.Stack
) -> None:
    # GIVEN a keyed create older than the key lifetime (24 h by default)
    route = ROUTES["create"]
    first = _keyed(client, alice, route, {"id": 0}, "old")
    ttl = get_settings().idempotency_key_ttl_seconds
    stack.admin_psql(
        f"UPDATE idempotency_keys SET created_at = now() - interval '{ttl + 60} seconds' "  # noqa: S608
        f"WHERE user_id = '{alice.id}'"
    )
    # WHEN the same request comes again
    again = _keyed(client, alice, route, {"id": 0}, "old")
    # THEN it creates a second task, and is remembered in place of the expired record
    assert again.status == 201 and again.json()["id"] != first.json()["id"]
    assert "idempotent-replayed" not in again.headers
    assert len(_tasks(client, alice)) == 2
    assert _keys(stack, alice) == 1
    assert _keyed(client, alice, route, {"id": 0}, "old").json() == again.json()


def _age_keys(stack: neon_local.Stack, user_id: str, count: int) -> None:
    """``count`` records for ``user_id``, 30 days old (older than any other test's)."""
    rows = f"SELECT '{user_id}', 'k' || n, 'f', 201, '{{}}', now() - interval '30 days'"
    columns = "user_id, key, fingerprint, status_code, response, created_at"
    series = f"generate_series(1, {count}) n"
    stack.admin_psql(f"INSERT INTO idempotency_keys ({columns}) {rows} FROM {series}")


def test_keyed_writes_purge_expired_keys_a_bounded_batch_at_a_time(
    client: Client, alice: User, stack: neon_local.Stack
) -> None:
    # GIVEN more expired records than one write purges
    gone = f"expired-{uuid.uuid4().hex[:8]}"
    _age_keys(stack, gone, PURGE_BATCH + 4)
    remaining = f"SELECT count(*) FROM idempotency_keys WHERE user_id = '{gone}'"  # noqa: S608
    # WHEN alice makes one keyed write, then another
    assert _keyed(client, alice, ROUTES["create"], {"id": 0}, "a").status == 201
    after_one = int(stack.admin_psql(remaining))
    assert _keyed(client, alice, ROUTES["create"], {"id": 0}, "b").status == 201
    # THEN the first removed one batch of the oldest, the second the rest
    assert after_one == 4
    assert int(stack.admin_psql(remaining)) == 0
    # AND an unkeyed write touches no key record at all
    _age_keys(stack, gone, 3)
    client.create(alice, "unkeyed")
    assert int(stack.admin_psql(remaining)) == 3


def test_migrate_purges_every_expired_key(stack: neon_local.Stack, alice: User) -> None:
    # GIVEN expired records
    gone = f"expired-{uuid.uuid4().hex[:8]}"
    _age_keys(stack, gone, 40)
    # WHEN migrate runs (each deployment runs it)
    report = migrate(get_settings())
    # THEN it removed them all and says so
    remaining = f"SELECT count(*) FROM idempotency_keys WHERE user_id = '{gone}'"  # noqa: S608
    assert int(stack.admin_psql(remaining)) == 0
    assert report.to_dict()["expired_keys_purged"] >= 40


HOSTILE = {
    "empty": "",
    "overlong": "k" * 256,
    "space": "a key",
    "tab": "a\tkey",
    "control": "a\x01key",
    "delete": "a\x7fkey",
    "non-ascii": "clé",
    "cyrillic": "ключ",
    "emoji": "🔑",
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_a_malformed_key_is_a_400_and_nothing_is_written(
    client: Client, alice: User, name: str
) -> None:
    # GIVEN a create with a key that is not 1-255 visible ASCII characters
    headers = {"Idempotency-Key": HOSTILE[name]}
    # WHEN it is sent
    reply = client(
        create_task.handler,
        "POST",
        alice.tasks,
        token=alice.token,
        json_body={"title": "t"},
        headers=headers,
    )
    # THEN it is refused with the key's own code, and no task was created
    assert (reply.status, reply.code) == (400, "IDEMPOTENCY_KEY_INVALID"), reply.text
    assert _tasks(client, alice) == []


def test_the_longest_key_and_every_visible_character_are_accepted(
    client: Client, alice: User
) -> None:
    # GIVEN keys at the limit: 255 characters, and all of visible ASCII
    keys = ["k" * 255, "".join(chr(c) for c in range(0x21, 0x7F))]
    for key in keys:
        # WHEN each is used twice
        first = _keyed(client, alice, ROUTES["create"], {"id": 0}, key)
        again = _keyed(client, alice, ROUTES["create"], {"id": 0}, key)
        # THEN each created one task and replayed it
        assert first.status == 201 and again.json() == first.json()
    assert len(_tasks(client, alice)) == 2
