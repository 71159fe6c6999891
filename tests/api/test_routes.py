"""Every row of the contract, through the Lambda handlers, as HTTP API and REST API events."""

from __future__ import annotations

import pytest

from functions import (
    complete_task,
    create_task,
    delete_task,
    get_task,
    health,
    list_tasks,
    replace_task,
    update_task,
)
from shared.api.handler import LambdaHandler
from tests.support.client import Client, User
from tests.support.events import HTTP_API, REST_API, assert_task, utc

BOTH_PAYLOADS = pytest.mark.parametrize("version", [HTTP_API, REST_API])
MISSING_ID = 2**31 - 1  # a valid id no test ever reaches


@BOTH_PAYLOADS
def test_create_returns_201_the_stored_task_and_its_location(
    client: Client, alice: User, version: str
) -> None:
    # GIVEN a title with surrounding spaces and a description
    body = {"title": "  Buy milk  ", "description": "2 litres, semi-skimmed"}
    # WHEN alice creates the task
    reply = client(
        create_task.handler, "POST", alice.tasks, token=alice.token, json_body=body, version=version
    )
    # THEN it is stored trimmed, not completed, with equal UTC timestamps and its own URL
    assert reply.status == 201
    task = reply.json()
    assert_task(
        task, user_id=alice.id, title="Buy milk", description=body["description"], completed=False
    )
    assert task["created_at"] == task["updated_at"]
    assert reply.headers["location"] == alice.task(task["id"])
    assert reply.headers["content-type"] == "application/json"
    # AND the Location serves the same task
    fetched = client(get_task.handler, "GET", reply.headers["location"], token=alice.token)
    assert (fetched.status, fetched.json()) == (200, task)


def test_create_without_description_stores_null(client: Client, alice: User) -> None:
    # GIVEN / WHEN a task is created with a title only
    task = client.create(alice, "Call mum")
    # THEN its description is null
    assert_task(task, title="Call mum", description=None, completed=False)


@BOTH_PAYLOADS
def test_get_returns_the_task(client: Client, alice: User, version: str) -> None:
    # GIVEN one of alice's tasks
    task = client.create(alice, "Water plants", description="the fern too")
    # WHEN she fetches it
    reply = client(
        get_task.handler, "GET", alice.task(task["id"]), token=alice.token, version=version
    )
    # THEN she gets it exactly as created
    assert (reply.status, reply.json()) == (200, task)


@BOTH_PAYLOADS
def test_list_returns_the_users_tasks_newest_first_with_the_total(
    client: Client, alice: User, version: str
) -> None:
    # GIVEN three tasks created one after another
    ids = [client.create(alice, title)["id"] for title in ("first", "second", "third")]
    # WHEN alice lists her tasks with no query
    reply = client(list_tasks.handler, "GET", alice.tasks, token=alice.token, version=version)
    # THEN all three come back newest first, counted in X-Total-Count
    assert reply.status == 200
    tasks = reply.json()
    for task in tasks:
        assert_task(task, user_id=alice.id)
    assert [t["id"] for t in tasks] == ids[::-1]
    assert reply.headers["x-total-count"] == "3"


def test_list_of_a_user_without_tasks_is_empty_with_a_zero_total(
    client: Client, alice: User
) -> None:
    # GIVEN a user who never created a task
    # WHEN she lists her tasks
    reply = client(list_tasks.handler, "GET", alice.tasks, token=alice.token)
    # THEN the list is empty and the total is zero
    assert (reply.status, reply.json(), reply.headers["x-total-count"]) == (200, [], "0")


@pytest.mark.parametrize(
    ("status", "expected"),
    [("all", ["c", "b", "a"]), ("pending", ["c", "a"]), ("completed", ["b"])],
)
def test_list_filters_by_status(
    client: Client, alice: User, status: str, expected: list[str]
) -> None:
    # GIVEN three tasks of which "b" is completed
    for title in "abc":
        task = client.create(alice, title)
        if title == "b":
            done = client(
                complete_task.handler,
                "PATCH",
                alice.task(task["id"]) + "/complete",
                token=alice.token,
            )
            assert done.json()["completed"] is True
    # WHEN alice lists them by status
    reply = client(
        list_tasks.handler, "GET", alice.tasks, token=alice.token, query={"status": status}
    )
    # THEN only tasks of that status come back, and the total counts only them
    assert reply.status == 200
    assert [t["title"] for t in reply.json()] == expected
    assert reply.headers["x-total-count"] == str(len(expected))


@pytest.mark.parametrize(
    ("sort", "order", "expected"),
    [
        ("title", "asc", ["apple", "banana", "cherry"]),
        ("title", "desc", ["cherry", "banana", "apple"]),
        ("created_at", "asc", ["banana", "cherry", "apple"]),
        ("created_at", "desc", ["apple", "cherry", "banana"]),
        ("updated_at", "desc", ["banana", "apple", "cherry"]),
        ("updated_at", "asc", ["cherry", "apple", "banana"]),
    ],
)
def test_list_sorts_by_each_key_in_both_orders(
    client: Client, alice: User, sort: str, order: str, expected: list[str]
) -> None:
    # GIVEN tasks created as banana, cherry, apple, and banana edited last
    ids = {title: client.create(alice, title)["id"] for title in ("banana", "cherry", "apple")}
    edited = client(
        update_task.handler,
        "PATCH",
        alice.task(ids["banana"]),
        token=alice.token,
        json_body={"description": "ripe"},
    )
    assert edited.status == 200
    # WHEN alice lists them sorted
    query = {"sort": sort, "order": order}
    reply = client(list_tasks.handler, "GET", alice.tasks, token=alice.token, query=query)
    # THEN they come back in that order
    assert reply.status == 200
    assert [t["title"] for t in reply.json()] == expected


@pytest.mark.parametrize(
    ("limit", "offset", "expected"),
    [(2, 0, [4, 3]), (2, 2, [2, 1]), (2, 4, [0]), (100, 0, [4, 3, 2, 1, 0]), (1, 10, [])],
)
def test_list_pages_with_limit_and_offset_and_always_counts_all(
    client: Client, alice: User, limit: int, offset: int, expected: list[int]
) -> None:
    # GIVEN five tasks titled 0..4 in creation order
    for n in range(5):
        client.create(alice, str(n))
    # WHEN alice asks for one page
    query = {"limit": str(limit), "offset": str(offset)}
    reply = client(list_tasks.handler, "GET", alice.tasks, token=alice.token, query=query)
    # THEN the page holds the expected tasks (newest first) and the total is all five
    assert reply.status == 200
    assert [int(t["title"]) for t in reply.json()] == expected
    assert reply.headers["x-total-count"] == "5"


@BOTH_PAYLOADS
def test_put_replaces_the_title_and_keeps_omitted_fields(
    client: Client, alice: User, version: str
) -> None:
    # GIVEN a completed task with a description
    task = client.create(alice, "draft", description="keep me")
    done = client(
        complete_task.handler, "PATCH", alice.task(task["id"]) + "/complete", token=alice.token
    )
    assert done.status == 200
    # WHEN alice PUTs a new title only
    reply = client(
        replace_task.handler,
        "PUT",
        alice.task(task["id"]),
        token=alice.token,
        json_body={"title": "  final  "},
        version=version,
    )
    # THEN the title changed, the description and completed flag were kept
    assert reply.status == 200
    assert_task(reply.json(), id=task["id"], title="final", description="keep me", completed=True)
    assert reply.json()["created_at"] == task["created_at"]
    assert utc(reply.json()["updated_at"]) > utc(done.json()["updated_at"])


def test_put_sets_every_field_it_is_given(client: Client, alice: User) -> None:
    # GIVEN a task with a description
    task = client.create(alice, "draft", description="old")
    # WHEN alice PUTs all three fields, clearing the description
    body = {"title": "final", "description": None, "completed": True}
    reply = client(
        replace_task.handler, "PUT", alice.task(task["id"]), token=alice.token, json_body=body
    )
    # THEN all three are stored
    assert reply.status == 200
    assert_task(reply.json(), id=task["id"], title="final", description=None, completed=True)
    stored = client(get_task.handler, "GET", alice.task(task["id"]), token=alice.token)
    assert stored.json() == reply.json()


@BOTH_PAYLOADS
def test_patch_changes_only_the_fields_sent(client: Client, alice: User, version: str) -> None:
    # GIVEN a task
    task = client.create(alice, "title", description="description")
    path = alice.task(task["id"])
    # WHEN alice patches the description, then the completed flag, then the title
    steps = [{"description": "new"}, {"completed": True}, {"title": " renamed "}]
    replies = [
        client(
            update_task.handler, "PATCH", path, token=alice.token, json_body=body, version=version
        )
        for body in steps
    ]
    # THEN each patch changed its own field and kept the others
    assert [r.status for r in replies] == [200, 200, 200]
    first, second, third = (r.json() for r in replies)
    assert_task(first, title="title", description="new", completed=False)
    assert_task(second, title="title", description="new", completed=True)
    assert_task(third, title="renamed", description="new", completed=True)
    assert third["created_at"] == task["created_at"]


def test_patch_with_an_empty_object_returns_the_task_unchanged(client: Client, alice: User) -> None:
    # GIVEN a task
    task = client.create(alice, "as is")
    # WHEN alice patches nothing
    reply = client(
        update_task.handler, "PATCH", alice.task(task["id"]), token=alice.token, json_body={}
    )
    # THEN the task comes back exactly as it was, updated_at included
    assert (reply.status, reply.json()) == (200, task)


@BOTH_PAYLOADS
def test_complete_without_a_body_toggles(client: Client, alice: User, version: str) -> None:
    # GIVEN a pending task
    task = client.create(alice, "toggle me")
    path = alice.task(task["id"]) + "/complete"
    # WHEN alice calls complete twice with no body
    first = client(complete_task.handler, "PATCH", path, token=alice.token, version=version)
    second = client(complete_task.handler, "PATCH", path, token=alice.token, version=version)
    # THEN it is completed, then pending again
    assert (first.status, second.status) == (200, 200)
    assert_task(first.json(), id=task["id"], completed=True, title="toggle me")
    assert_task(second.json(), id=task["id"], completed=False, title="toggle me")


@pytest.mark.parametrize("body", ["{}", "null", "{ }\n"], ids=["empty object", "null", "spaced"])
def test_complete_with_an_empty_object_or_null_toggles_like_no_body(
    client: Client, alice: User, body: str
) -> None:
    # GIVEN a pending task, and what a frontend sends for body: JSON.stringify({}) (or null)
    task = client.create(alice, "toggle me")
    path = alice.task(task["id"]) + "/complete"
    headers = {"Content-Type": "application/json"}
    # WHEN alice sends that body twice
    replies = [
        client(complete_task.handler, "PATCH", path, token=alice.token, body=body, headers=headers)
        for _ in range(2)
    ]
    # THEN the flag toggles each time, as with no body at all
    assert [(r.status, r.json()["completed"]) for r in replies] == [(200, True), (200, False)]


@pytest.mark.parametrize("value", [True, False])
def test_complete_with_a_body_sets_the_flag_idempotently(
    client: Client, alice: User, value: bool
) -> None:
    # GIVEN a task whose flag is the opposite of the wanted value
    task = client.create(alice, "set me")
    path = alice.task(task["id"]) + "/complete"
    if not value:
        client(complete_task.handler, "PATCH", path, token=alice.token)
    # WHEN alice sets completed to the value twice
    body = {"completed": value}
    replies = [
        client(complete_task.handler, "PATCH", path, token=alice.token, json_body=body)
        for _ in range(2)
    ]
    # THEN both replies carry the value: setting is not toggling
    assert [(r.status, r.json()["completed"]) for r in replies] == [(200, value), (200, value)]


@BOTH_PAYLOADS
def test_delete_returns_204_and_the_task_is_gone(client: Client, alice: User, version: str) -> None:
    # GIVEN a task
    task = client.create(alice, "delete me")
    path = alice.task(task["id"])
    # WHEN alice deletes it
    reply = client(delete_task.handler, "DELETE", path, token=alice.token, version=version)
    # THEN the reply is an empty 204, and the task no longer exists
    assert (reply.status, reply.text) == (204, "")
    assert client(get_task.handler, "GET", path, token=alice.token).status == 404
    again = client(delete_task.handler, "DELETE", path, token=alice.token)
    assert (again.status, again.detail) == (404, "task not found")


@pytest.mark.parametrize(
    ("handler", "method", "suffix", "body"),
    [
        (get_task.handler, "GET", "", None),
        (replace_task.handler, "PUT", "", {"title": "x"}),
        (update_task.handler, "PATCH", "", {"title": "x"}),
        (complete_task.handler, "PATCH", "/complete", None),
        (complete_task.handler, "PATCH", "/complete", {"completed": True}),
        (delete_task.handler, "DELETE", "", None),
    ],
    ids=["get", "put", "patch", "toggle", "set-completed", "delete"],
)
def test_every_item_route_answers_404_for_a_missing_task(
    client: Client, alice: User, handler: LambdaHandler, method: str, suffix: str, body: object
) -> None:
    # GIVEN an id no task has
    path = alice.task(MISSING_ID) + suffix
    # WHEN alice uses it on an item route
    reply = client(handler, method, path, token=alice.token, json_body=body)
    # THEN the answer is a JSON 404
    assert (reply.status, reply.detail) == (404, "task not found")


@BOTH_PAYLOADS
def test_health_is_ok_without_a_token(client: Client, version: str) -> None:
    # GIVEN a reachable database
    # WHEN anyone asks for /health without credentials
    reply = client(health.handler, "GET", "/health", version=version)
    # THEN the service and the database are ok
    assert (reply.status, reply.json()) == (200, {"status": "ok", "database": "ok"})


@pytest.mark.parametrize(
    ("handler", "method", "path", "status"),
    [
        (get_task.handler, "POST", "/api/someone/tasks/1", 405),
        (list_tasks.handler, "DELETE", "/api/someone/tasks", 405),
        (health.handler, "POST", "/health", 405),
        (get_task.handler, "GET", "/api/someone/tasks/1/extra", 404),
        (health.handler, "GET", "/", 404),
    ],
)
def test_unknown_routes_and_methods_answer_json_errors(
    client: Client, alice: User, handler: LambdaHandler, method: str, path: str, status: int
) -> None:
    # GIVEN a route or method a function does not serve
    # WHEN it is called
    reply = client(handler, method, path, token=alice.token)
    # THEN the error is JSON with a detail
    assert reply.status == status
    assert isinstance(reply.detail, str) and reply.detail
