"""The least database work: one connection, one statement (its own transaction), ownership inside.

The driver is observed at its two entry points for SQL, so every statement the server
receives is counted, including BEGIN/COMMIT/ROLLBACK if anything ever sent them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

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
from shared.adapters.pg8000_driver import SingleFlightConnection
from shared.api.handler import LambdaHandler
from tests.support.client import Client, User
from tests.support.resets import Configure


@dataclass
class Wire:
    """What the driver did: connections opened and statements sent."""

    connections: int = 0
    statements: list[str] = field(default_factory=list)

    def reset(self) -> None:
        """Forget everything seen so far."""
        self.connections = 0
        self.statements.clear()


@pytest.fixture
def wire(client: Client, monkeypatch: pytest.MonkeyPatch) -> Wire:
    """Count the driver's work, from after one warm-up request (the JWKS fetch)."""
    seen = Wire()
    init = SingleFlightConnection.__init__
    unnamed = SingleFlightConnection.execute_unnamed
    simple = SingleFlightConnection.execute_simple

    def counting_init(self: SingleFlightConnection, *args: Any, **kwargs: Any) -> None:
        seen.connections += 1
        init(self, *args, **kwargs)

    def counting_unnamed(self: SingleFlightConnection, statement: str, *a: Any, **k: Any) -> Any:
        seen.statements.append(statement)
        return unnamed(self, statement, *a, **k)

    def counting_simple(self: SingleFlightConnection, statement: str, *a: Any, **k: Any) -> Any:
        seen.statements.append(statement)
        return simple(self, statement, *a, **k)

    monkeypatch.setattr(SingleFlightConnection, "__init__", counting_init)
    monkeypatch.setattr(SingleFlightConnection, "execute_unnamed", counting_unnamed)
    monkeypatch.setattr(SingleFlightConnection, "execute_simple", counting_simple)
    assert client(health.handler, "GET", "/health").status == 200
    seen.reset()
    return seen


CASES: dict[str, tuple[LambdaHandler, str, str, Any, str]] = {
    "list": (list_tasks.handler, "GET", "", None, "SELECT"),
    "list past the end": (list_tasks.handler, "GET", "?offset=50", None, "SELECT"),
    "create": (create_task.handler, "POST", "", {"title": "t"}, "INSERT"),
    "get": (get_task.handler, "GET", "/{id}", None, "SELECT"),
    "put": (replace_task.handler, "PUT", "/{id}", {"title": "t", "completed": True}, "UPDATE"),
    "patch": (update_task.handler, "PATCH", "/{id}", {"description": "d"}, "UPDATE"),
    "toggle": (complete_task.handler, "PATCH", "/{id}/complete", None, "UPDATE"),
    "set": (complete_task.handler, "PATCH", "/{id}/complete", {"completed": True}, "UPDATE"),
    "delete": (delete_task.handler, "DELETE", "/{id}", None, "DELETE"),
}


# (DB_REUSE_CONNECTION, whether the container has served a request since it started): a
# warm container as the tests run it (NullPool), a cold one (no engine yet: its first
# request) in each mode, and a warm one keeping its connection.
CONTAINERS: dict[str, tuple[str | None, bool]] = {
    "warm": (None, True),
    "cold nullpool": ("false", False),
    "cold reuse": ("true", False),
    "warm reuse": ("true", True),
}


@pytest.mark.parametrize("container", list(CONTAINERS.values()), ids=list(CONTAINERS))
@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_each_route_uses_one_connection_and_one_owned_statement(
    client: Client,
    alice: User,
    wire: Wire,
    configure: Configure,
    container: tuple[str | None, bool],
    case: tuple[LambdaHandler, str, str, Any, str],
) -> None:
    # GIVEN one of alice's tasks, in a warm container or a new one
    handler, method, suffix, body, verb = case
    task = client.create(alice, "measured")
    reuse, warm = container
    if reuse is not None:
        configure(db_reuse_connection=reuse)
        if warm:  # its connection opened, and kept if reused
            assert client(health.handler, "GET", "/health").status == 200
    kept = reuse == "true" and warm
    wire.reset()
    path, _, query = (alice.tasks + suffix.format(id=task["id"])).partition("?")
    # WHEN the route runs
    reply = client(
        handler, method, path, token=alice.token, json_body=body, raw_query=query or None
    )
    # THEN it opened one connection and sent one statement, which checks ownership itself
    # (and writes return the row they wrote: no read after the write); a cold container
    # too: the engine's first connection sends no dialect check before it; a kept
    # connection is used as it is, checked without a ping
    assert reply.status < 300, reply.text
    assert wire.connections == (0 if kept else 1)
    [statement] = wire.statements
    assert statement.startswith(verb)
    if verb == "INSERT":  # the owner is a value of the row
        assert statement.startswith("INSERT INTO tasks (user_id,")
    else:
        assert "tasks.user_id = $" in statement
    if verb in ("INSERT", "UPDATE", "DELETE"):
        assert " RETURNING " in statement


KEYED = [name for name, case in CASES.items() if case[4] in ("INSERT", "UPDATE")]


@pytest.mark.parametrize("attempt", ["first", "replay"])
@pytest.mark.parametrize("name", KEYED)
def test_a_keyed_write_and_its_replay_are_one_statement_too(
    client: Client, alice: User, wire: Wire, name: str, attempt: str
) -> None:
    # GIVEN one of alice's tasks, and a key (already used once, for the replay)
    handler, method, suffix, body, verb = CASES[name]
    task = client.create(alice, "measured")
    path = alice.tasks + suffix.format(id=task["id"])
    sent = {"token": alice.token, "json_body": body, "headers": {"Idempotency-Key": "k"}}
    if attempt == "replay":
        assert client(handler, method, path, **sent).status < 300
    wire.reset()
    # WHEN the keyed write runs
    reply = client(handler, method, path, **sent)
    # THEN it still opened one connection and sent one statement: the key's check, the
    # write, its record and the bounded purge are all parts of it
    assert reply.status < 300, reply.text
    assert (reply.headers.get("idempotent-replayed") == "true") == (attempt == "replay")
    assert wire.connections == 1
    [statement] = wire.statements
    assert statement.startswith("WITH prior AS")
    assert f"{verb} {'INTO ' if verb == 'INSERT' else ''}tasks" in statement
    assert "INSERT INTO idempotency_keys" in statement
    if verb == "UPDATE":
        assert "tasks.user_id = $" in statement


@pytest.mark.parametrize(
    "case",
    [c for name, c in CASES.items() if "{id}" in c[2]],
    ids=[name for name, c in CASES.items() if "{id}" in c[2]],
)
def test_another_users_task_costs_the_same_single_statement(
    client: Client,
    alice: User,
    bob: User,
    wire: Wire,
    case: tuple[LambdaHandler, str, str, Any, str],
) -> None:
    # GIVEN alice's task
    handler, method, suffix, body, verb = case
    task = client.create(alice, "not bob's")
    wire.reset()
    # WHEN bob addresses it under his own path
    reply = client(
        handler, method, bob.tasks + suffix.format(id=task["id"]), token=bob.token, json_body=body
    )
    # THEN ownership was decided by the one statement itself: no look-up first
    assert reply.status == 404
    assert (wire.connections, len(wire.statements)) == (1, 1)
    assert wire.statements[0].startswith(verb)


def test_refused_requests_never_touch_the_database(
    client: Client, alice: User, bob: User, wire: Wire
) -> None:
    # GIVEN requests refused before the route body runs: no token, someone else's path,
    # an invalid body
    # WHEN they are handled
    replies = [
        client(list_tasks.handler, "GET", alice.tasks),
        client(list_tasks.handler, "GET", alice.tasks, token=bob.token),
        client(
            create_task.handler, "POST", alice.tasks, token=alice.token, json_body={"title": ""}
        ),
    ]
    # THEN none of them opened a connection
    assert [r.status for r in replies] == [401, 403, 422]
    assert (wire.connections, wire.statements) == (0, [])
