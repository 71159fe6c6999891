"""Cross-user isolation: B can neither read, change nor delete A's task, nor learn it exists."""

from __future__ import annotations

import pytest

from functions import (
    complete_task,
    delete_task,
    get_task,
    list_tasks,
    replace_task,
    update_task,
)
from shared.api.handler import LambdaHandler
from tests.support.client import Client, User
from tests.support.events import Reply

ATTEMPTS = {
    "read": (get_task.handler, "GET", "", None),
    "replace": (replace_task.handler, "PUT", "", {"title": "pwned", "completed": True}),
    "update": (update_task.handler, "PATCH", "", {"description": "pwned"}),
    "toggle": (complete_task.handler, "PATCH", "/complete", None),
    "set completed": (complete_task.handler, "PATCH", "/complete", {"completed": True}),
    "delete": (delete_task.handler, "DELETE", "", None),
}
Attempt = tuple[LambdaHandler, str, str, object]


def _shape(reply: Reply) -> tuple[int, str, dict[str, str]]:
    """Everything a client can observe of a reply."""
    return reply.status, reply.text, reply.headers


@pytest.mark.parametrize("attempt", list(ATTEMPTS.values()), ids=list(ATTEMPTS))
def test_another_user_gets_the_same_404_as_for_a_task_that_never_existed(
    client: Client, alice: User, bob: User, attempt: Attempt
) -> None:
    # GIVEN alice's task, and an id that no task has
    handler, method, suffix, body = attempt
    task = client.create(alice, "alice's secret", description="private")
    # WHEN bob, with his own valid token and path, tries alice's id and the missing one
    theirs = client(handler, method, bob.task(task["id"]) + suffix, token=bob.token, json_body=body)
    missing = client(handler, method, bob.task(2**31 - 1) + suffix, token=bob.token, json_body=body)
    # THEN both replies are the same 404: nothing tells him alice's task exists
    assert theirs.status == 404
    assert _shape(theirs) == _shape(missing)
    # AND alice's task is exactly as she left it
    after = client(get_task.handler, "GET", alice.task(task["id"]), token=alice.token)
    assert (after.status, after.json()) == (200, task)


@pytest.mark.parametrize("attempt", list(ATTEMPTS.values()), ids=list(ATTEMPTS))
def test_another_user_on_the_owners_path_is_refused_and_changes_nothing(
    client: Client, alice: User, bob: User, attempt: Attempt
) -> None:
    # GIVEN alice's task
    handler, method, suffix, body = attempt
    task = client.create(alice, "alice's")
    # WHEN bob puts alice's user id in the path with his own token
    reply = client(
        handler, method, alice.task(task["id"]) + suffix, token=bob.token, json_body=body
    )
    # THEN he is refused before any data is touched
    assert reply.status == 403
    after = client(get_task.handler, "GET", alice.task(task["id"]), token=alice.token)
    assert (after.status, after.json()) == (200, task)


def test_listing_shows_only_the_callers_tasks(client: Client, alice: User, bob: User) -> None:
    # GIVEN two tasks of alice's and one of bob's
    alices = {client.create(alice, "a1")["id"], client.create(alice, "a2")["id"]}
    bobs = client.create(bob, "b1")
    # WHEN each lists their tasks
    for_alice = client(list_tasks.handler, "GET", alice.tasks, token=alice.token)
    for_bob = client(list_tasks.handler, "GET", bob.tasks, token=bob.token)
    # THEN each sees only their own, and the totals count only their own
    assert {t["id"] for t in for_alice.json()} == alices
    assert for_alice.headers["x-total-count"] == "2"
    assert for_bob.json() == [bobs]
    assert for_bob.headers["x-total-count"] == "1"


def test_listing_another_users_tasks_is_forbidden(client: Client, alice: User, bob: User) -> None:
    # GIVEN alice has a task
    client.create(alice, "a1")
    # WHEN bob asks for alice's list with his token
    reply = client(list_tasks.handler, "GET", alice.tasks, token=bob.token)
    # THEN he is refused and sees no task data
    assert (reply.status, reply.detail) == (403, "not allowed to access another user's data")
