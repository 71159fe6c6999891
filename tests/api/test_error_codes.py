"""Error bodies: every path answers detail, code and message; every code is documented.

A frontend shows ``message`` (a sentence for a person), branches on ``code`` and leaves
``detail`` to developers; docs/api.md and the OpenAPI document list all three.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from functions import (
    create_task,
    docs,  # noqa: F401  (imports every route, so every error class exists)
    get_task,
    list_tasks,
    update_task,
)
from infra import ROOT
from infra.local import neon_local
from shared.api import errors
from shared.api.app import create_app
from shared.api.handler import build_handler
from shared.api.route import route
from shared.api.routes.health import health
from shared.api.routes.tasks import ALL
from shared.core.errors import AppError, client_errors
from tests.support.client import Client, Tokens, User
from tests.support.events import Reply, decode_response, http_api_event, invoke
from tests.support.jwks_server import KeyServer
from tests.support.resets import Configure

API_DOC = ROOT / "docs" / "api.md"
# | status | `CODE` | message | meaning |
_ROW = re.compile(r"^\| (\d{3}) \| `([A-Z_]+)` \| ([^|]+?) \|", re.M)
MISSING_ID = 2**31 - 1
JSON = {"Content-Type": "application/json"}


def _openapi() -> dict[str, Any]:
    return create_app([health, *ALL], docs=True).openapi()


def test_the_readme_lists_exactly_the_codes_a_client_can_receive_with_their_messages() -> None:
    # GIVEN the error classes and docs/api.md's table
    defined = {(str(kind.status_code), kind.code, kind.message) for kind in client_errors()}
    # WHEN the table's rows are read
    listed = _ROW.findall(API_DOC.read_text(encoding="utf-8"))
    # THEN each code is listed once, under its status, beside its message, and nothing else is
    assert len(listed) == len(set(listed))
    assert set(listed) == defined


def test_every_code_has_a_message_written_for_its_status() -> None:
    # GIVEN every error class a client can receive
    for kind in client_errors():
        # WHEN the class whose message it answers with is found (its own, or a parent's)
        author = next(
            found
            for found in kind.mro()
            if issubclass(found, AppError) and "message" in vars(found)
        )
        # THEN that message was written for the same status: a new 4xx under AppError
        # cannot answer "Something went wrong on our side" by forgetting its own
        assert author.status_code == kind.status_code, kind.__name__
        assert kind.message.strip() and kind.message[0].isupper(), kind.__name__


def test_codes_are_unique_upper_snake_case() -> None:
    codes = [kind.code for kind in client_errors()]
    assert len(codes) == len(set(codes))
    assert all(re.fullmatch(r"[A-Z]+(_[A-Z]+)*", code) for code in codes)


def test_every_operation_documents_its_error_codes_and_body() -> None:
    # GIVEN the whole API's OpenAPI document
    document = _openapi()
    ref = "#/components/schemas/ErrorBody"
    # WHEN each operation's error responses are read
    for path, item in document["paths"].items():
        for method, operation in item.items():
            errors = {s: r for s, r in operation["responses"].items() if s >= "400"}
            # THEN each names its codes and uses the one error body
            assert errors, (path, method)
            for status, response in errors.items():
                assert re.search(r"`[A-Z_]+`", response["description"]), (path, method, status)
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": ref}, (path, method, status)
    body = document["components"]["schemas"]["ErrorBody"]
    assert set(body["required"]) == {"detail", "code", "message"}
    assert body["properties"]["message"]["type"] == "string"
    assert "person" in body["properties"]["message"]["description"]


def test_task_routes_document_auth_and_availability_codes() -> None:
    # GIVEN a task operation that takes a body and addresses one task
    operation = _openapi()["paths"]["/api/{user_id}/tasks/{task_id}"]["put"]
    described = " ".join(r["description"] for r in operation["responses"].values())
    # THEN the codes a frontend branches on are all there
    for code in ("MISSING_TOKEN", "TOKEN_EXPIRED", "FORBIDDEN", "TASK_NOT_FOUND"):
        assert f"`{code}`" in described
    for code in ("VALIDATION_FAILED", "UNSUPPORTED_MEDIA_TYPE", "DATABASE_UNAVAILABLE"):
        assert f"`{code}`" in described
    assert "Retry-After" in operation["responses"]["503"]["headers"]


# --------------------------------------------------------------------------- every error path


@dataclass
class World:
    """What a case may use: the client, two users, their token factory, the environment."""

    client: Client
    alice: User
    bob: User
    tokens: Tokens
    key_server: KeyServer
    configure: Configure
    stack: neon_local.Stack


def _task_not_found(w: World) -> Reply:
    return w.client(get_task.handler, "GET", w.alice.task(MISSING_ID), token=w.alice.token)


def _no_token(w: World) -> Reply:
    return w.client(list_tasks.handler, "GET", w.alice.tasks)


def _malformed_token(w: World) -> Reply:
    return w.client(list_tasks.handler, "GET", w.alice.tasks, token=w.tokens.raw("not-a-jwt"))


def _expired_token(w: World) -> Reply:
    past = int(time.time()) - 3600
    token = w.tokens.eddsa(w.alice.id, iat=past - 900, exp=past)
    return w.client(list_tasks.handler, "GET", w.alice.tasks, token=token)


def _another_users_path(w: World) -> Reply:
    return w.client(list_tasks.handler, "GET", w.bob.tasks, token=w.alice.token)


def _title_too_long(w: World) -> Reply:
    body = {"title": "x" * 256}
    return w.client(create_task.handler, "POST", w.alice.tasks, token=w.alice.token, json_body=body)


def _route_not_served(w: World) -> Reply:
    path = w.alice.task(1) + "/extra"
    return w.client(get_task.handler, "GET", path, token=w.alice.token)


def _method_not_served(w: World) -> Reply:
    return w.client(get_task.handler, "POST", w.alice.task(1), token=w.alice.token)


def _body_not_utf8(w: World) -> Reply:
    body = b'{"title": "caf\xe9"}'
    return w.client(
        create_task.handler, "POST", w.alice.tasks, token=w.alice.token, body=body, headers=JSON
    )


def _body_not_json(w: World) -> Reply:
    headers = {"Content-Type": "text/plain"}
    body = '{"title": "x"}'
    return w.client(
        create_task.handler, "POST", w.alice.tasks, token=w.alice.token, body=body, headers=headers
    )


def _bad_idempotency_key(w: World) -> Reply:
    headers = {"Idempotency-Key": "not\tvisible"}
    return w.client(
        create_task.handler,
        "POST",
        w.alice.tasks,
        token=w.alice.token,
        json_body={"title": "t"},
        headers=headers,
    )


def _event_mangum_cannot_read(w: World) -> Reply:
    headers = {"X-Forwarded-Port": "eighty"}
    return w.client(get_task.handler, "GET", w.alice.task(1), token=w.alice.token, headers=headers)


def _database_down(w: World) -> Reply:
    url = f"postgresql://{w.stack.user}:pw@localhost:9/{w.stack.database}?sslmode=require"
    w.configure(database_url=url, db_connect_attempts="1")
    return w.client(list_tasks.handler, "GET", w.alice.tasks, token=w.alice.token)


def _key_set_down(w: World) -> Reply:
    w.key_server.stop()
    return w.client(list_tasks.handler, "GET", w.alice.tasks, token=w.alice.token)


def _unexpected_exception(w: World) -> Reply:
    # No route of ours fails this way on purpose: plant one in a handler built like theirs.
    @route("GET", "/fails")
    async def fails() -> None:
        raise RuntimeError("planted")

    return invoke(build_handler("fails", fails), http_api_event("GET", "/fails"))


def _handler_fails_before_the_app(w: World) -> Reply:
    # What the handler answers when Mangum raises for an event that was not at fault.
    return decode_response(errors.unreadable_event(RuntimeError(), client_sent_it=False))


ERROR_PATHS: dict[str, tuple[Callable[[World], Reply], int, str]] = {
    "app error": (_task_not_found, 404, "TASK_NOT_FOUND"),
    "no token": (_no_token, 401, "MISSING_TOKEN"),
    "malformed token": (_malformed_token, 401, "INVALID_TOKEN"),
    "expired token": (_expired_token, 401, "TOKEN_EXPIRED"),
    "another user's path": (_another_users_path, 403, "FORBIDDEN"),
    "validation": (_title_too_long, 422, "VALIDATION_FAILED"),
    "HTTP 404": (_route_not_served, 404, "ROUTE_NOT_FOUND"),
    "HTTP 405": (_method_not_served, 405, "METHOD_NOT_ALLOWED"),
    "HTTP 400": (_body_not_utf8, 400, "BODY_NOT_READABLE"),
    "body not JSON": (_body_not_json, 415, "UNSUPPORTED_MEDIA_TYPE"),
    "idempotency key": (_bad_idempotency_key, 400, "IDEMPOTENCY_KEY_INVALID"),
    "unreadable event": (_event_mangum_cannot_read, 400, "MALFORMED_REQUEST"),
    "database down": (_database_down, 503, "DATABASE_UNAVAILABLE"),
    "key set down": (_key_set_down, 503, "AUTH_KEYS_UNAVAILABLE"),
    "catch-all": (_unexpected_exception, 500, "INTERNAL_ERROR"),
    "handler-level 500": (_handler_fails_before_the_app, 500, "INTERNAL_ERROR"),
}


@pytest.mark.parametrize("path", list(ERROR_PATHS))
def test_every_error_path_answers_detail_code_and_a_message_to_show(
    path: str,
    client: Client,
    alice: User,
    bob: User,
    tokens: Tokens,
    key_server: KeyServer,
    configure: Configure,
    stack: neon_local.Stack,
) -> None:
    # GIVEN a request that fails along one of the error paths
    send, status, code = ERROR_PATHS[path]
    # WHEN it is answered
    reply = send(World(client, alice, bob, tokens, key_server, configure, stack))
    # THEN the body has exactly detail, code and message, the message a sentence to show
    assert (reply.status, reply.code) == (status, code), reply.text
    assert reply.detail
    assert reply.message
    # AND it is this code's message (a 422's names its first problem instead)
    kinds = {kind.code: kind for kind in client_errors()}
    if status != 422:
        assert reply.message == kinds[code].message
    # AND a 503 still says when to come back
    if status == 503:
        assert int(reply.headers["retry-after"]) > 0


@pytest.mark.parametrize(
    ("method", "query", "body", "message"),
    [
        ("POST", None, {"title": "x" * 256}, "title: String should have at most 255 characters"),
        ("POST", None, {"title": ""}, "title: String should have at least 1 character"),
        ("POST", None, {"description": "d"}, "title: Field required"),
        ("PATCH", None, {"title": None}, "title: must not be null"),
        ("GET", {"limit": "0"}, None, "limit: Input should be greater than or equal to 1"),
        ("POST", None, ["a list"], "body: Input should be a valid dictionary or object"),
    ],
    ids=["too long", "empty", "missing", "null", "query", "not an object"],
)
def test_a_422_message_names_the_field_and_the_problem(
    client: Client,
    alice: User,
    method: str,
    query: dict[str, str] | None,
    body: Any,
    message: str,
) -> None:
    # GIVEN a request with one value the API does not accept
    task = client.create(alice) if method == "PATCH" else None
    handler = {"POST": create_task.handler, "PATCH": update_task.handler}.get(
        method, list_tasks.handler
    )
    path = alice.task(task["id"]) if task else alice.tasks
    # WHEN it is sent
    reply = client(handler, method, path, token=alice.token, json_body=body, query=query)
    # THEN the message a person reads says which field and what is wrong with it
    assert (reply.status, reply.code) == (422, "VALIDATION_FAILED"), reply.text
    assert reply.message.startswith(message), reply.message
    # AND detail is still the developer's list, whose first entry the message came from
    first = reply.detail[0]
    assert message.split(":")[0] in [str(part) for part in first["loc"]]


def test_a_path_no_route_serves_has_api_gateways_message_from_either_side(
    client: Client, alice: User
) -> None:
    # GIVEN API Gateway's own answer for a path no route serves: {"message": "Not Found"}
    gateway = {"message": "Not Found"}
    # WHEN a function is invoked for a path it has no route for
    reply = client(get_task.handler, "GET", alice.task(1) + "/extra", token=alice.token)
    # THEN it answers our error body, with the same message API Gateway gives
    assert (reply.status, reply.json()) == (
        404,
        {"detail": "Not Found", "code": "ROUTE_NOT_FOUND", **gateway},
    )
