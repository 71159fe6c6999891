"""Validation at its edges: every bad input is a clear 4xx, never a 500, and stores nothing."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from functions import complete_task, create_task, get_task, list_tasks, replace_task, update_task
from tests.support.client import Client, User
from tests.support.events import (
    HTTP_API,
    REST_API,
    Reply,
    assert_task,
    http_api_event,
    invoke,
    rest_api_event,
)
from tests.support.output import Output

BOTH_PAYLOADS = pytest.mark.parametrize("version", [HTTP_API, REST_API])
JSON = {"Content-Type": "application/json"}


def _post(client: Client, user: User, body: str | bytes, **kwargs: Any) -> Reply:
    """POST a raw body to the user's collection."""
    headers = kwargs.pop("headers", JSON)
    return client(
        create_task.handler,
        "POST",
        user.tasks,
        token=user.token,
        body=body,
        headers=headers,
        **kwargs,
    )


def _stored(client: Client, user: User) -> int:
    reply = client(list_tasks.handler, "GET", user.tasks, token=user.token)
    assert reply.status == 200
    return int(reply.headers["x-total-count"])


def _errors(reply: Reply) -> list[tuple[tuple[Any, ...], str]]:
    """(loc, type) of each validation error in a 422."""
    assert reply.status == 422, reply.text
    return [(tuple(e["loc"]), e["type"]) for e in reply.detail]


# --------------------------------------------------------------------------- title / description


@pytest.mark.parametrize(
    "title",
    ["x" * 255, "  " + "x" * 255 + "\t\n", "😀" * 255, "é" * 255, "a"],
    ids=["255 ascii", "255 after trimming", "255 astral", "255 two-byte", "one char"],
)
def test_a_title_of_up_to_255_characters_is_accepted(
    client: Client, alice: User, title: str
) -> None:
    # GIVEN a title of at most 255 characters once trimmed
    # WHEN it is posted
    reply = client(
        create_task.handler, "POST", alice.tasks, token=alice.token, json_body={"title": title}
    )
    # THEN it is stored trimmed, character for character
    assert reply.status == 201, reply.text
    assert_task(reply.json(), title=title.strip())


@pytest.mark.parametrize(
    ("body", "loc", "kind"),
    [
        ({"title": "x" * 256}, ("body", "title"), "string_too_long"),
        ({"title": "😀" * 256}, ("body", "title"), "string_too_long"),
        ({"title": "   \t\n "}, ("body", "title"), "string_too_short"),
        ({"title": "\u3000\u00a0"}, ("body", "title"), "string_too_short"),
        ({"title": ""}, ("body", "title"), "string_too_short"),
        ({}, ("body", "title"), "missing"),
        ({"title": None}, ("body", "title"), "string_type"),
        ({"title": 42}, ("body", "title"), "string_type"),
        ({"title": ["x"]}, ("body", "title"), "string_type"),
        ({"title": "x", "description": "d" * 10_001}, ("body", "description"), "string_too_long"),
        ({"title": "x", "description": 7}, ("body", "description"), "string_type"),
        ({"title": "nul\u0000inside"}, ("body", "title"), "value_error"),
        ({"title": "x", "description": "nul\u0000"}, ("body", "description"), "value_error"),
    ],
    ids=[
        "title 256",
        "title 256 astral",
        "whitespace-only title",
        "unicode-space-only title",
        "empty title",
        "no title",
        "null title",
        "numeric title",
        "list title",
        "description 10001",
        "numeric description",
        "NUL in title",
        "NUL in description",
    ],
)
def test_an_invalid_create_body_is_422_at_its_field_and_stores_nothing(
    client: Client, alice: User, body: dict[str, Any], loc: tuple[str, ...], kind: str
) -> None:
    # GIVEN a body with one invalid field
    # WHEN it is posted
    reply = client(create_task.handler, "POST", alice.tasks, token=alice.token, json_body=body)
    # THEN the 422 names the field and why, without echoing the input, and nothing was stored
    assert _errors(reply) == [(loc, kind)]
    assert "input" not in reply.detail[0]
    assert _stored(client, alice) == 0


def test_a_description_of_10000_characters_or_null_is_accepted(client: Client, alice: User) -> None:
    # GIVEN descriptions at the limit (with spaces kept) and null
    long = " " + "d" * 9_998 + " "
    # WHEN they are posted
    at_limit = client(
        create_task.handler,
        "POST",
        alice.tasks,
        token=alice.token,
        json_body={"title": "x", "description": long},
    )
    null = client(
        create_task.handler,
        "POST",
        alice.tasks,
        token=alice.token,
        json_body={"title": "x", "description": None},
    )
    # THEN both are stored as sent
    assert (at_limit.status, null.status) == (201, 201)
    assert at_limit.json()["description"] == long
    assert null.json()["description"] is None


@pytest.mark.parametrize(
    "raw",
    ['{"title": "\\ud800"}', '{"title": "x", "description": "a\\udfffb"}', '{"title": "\\u0000"}'],
    ids=["lone high surrogate", "lone low surrogate in description", "escaped NUL"],
)
def test_json_escapes_postgresql_cannot_store_are_422(
    client: Client, alice: User, raw: str
) -> None:
    # GIVEN valid JSON whose string escapes decode to text PostgreSQL cannot hold
    # WHEN it is posted
    reply = _post(client, alice, raw)
    # THEN it is a 422 and nothing was stored
    assert reply.status == 422
    assert _stored(client, alice) == 0


def test_an_encoded_surrogate_in_the_body_bytes_is_rejected(client: Client, alice: User) -> None:
    # GIVEN body bytes carrying a UTF-8-encoded surrogate (CESU), sent base64 by API Gateway
    raw = b'{"title": "\xed\xa0\x80"}'
    # WHEN it is posted
    reply = _post(client, alice, raw)
    # THEN the title is refused as not being valid text, and nothing was stored
    assert _errors(reply) == [(("body", "title"), "string_unicode")]
    assert _stored(client, alice) == 0


# --------------------------------------------------------------------------- body encoding


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        ('{"title": ', 422),
        ("{'title': 'x'}", 422),
        ('{"title": "x"', 422),
        ("title=x", 422),
        ("", 422),
        ("null", 422),
        ('"just a string"', 422),
        ("[1, 2]", 422),
        ("[" * 100_000, 400),
    ],
    ids=[
        "truncated",
        "single quotes",
        "unclosed",
        "form syntax",
        "empty",
        "null",
        "string",
        "array",
        "deeply nested",
    ],
)
def test_invalid_json_is_a_4xx(client: Client, alice: User, raw: str, status: int) -> None:
    # GIVEN a body with a JSON content type that is not a task object
    # WHEN it is posted
    reply = _post(client, alice, raw)
    # THEN it is the expected client error with a detail, and nothing was stored
    assert reply.status == status, reply.text
    assert reply.detail
    assert _stored(client, alice) == 0


@pytest.mark.parametrize(
    "raw",
    [b'{"title": "caf\xe9"}', b"\xff\xfe\xfd", b'{"title": "\xc3"}'],
    ids=["latin-1", "junk", "cut"],
)
def test_a_body_that_is_not_utf8_is_400(client: Client, alice: User, raw: bytes) -> None:
    # GIVEN body bytes that are not UTF-8 (API Gateway sends them base64-encoded)
    # WHEN they are posted as JSON
    reply = _post(client, alice, raw)
    # THEN the body could not be parsed: 400, nothing stored
    assert (reply.status, reply.detail) == (400, "There was an error parsing the body")
    assert _stored(client, alice) == 0


@BOTH_PAYLOADS
def test_a_base64_encoded_body_is_decoded_like_api_gateway_sends_it(
    client: Client, alice: User, version: str
) -> None:
    # GIVEN a JSON body API Gateway delivered base64-encoded
    body = json.dumps({"title": "from base64", "description": "ünïcödé ✓"})
    # WHEN it is posted
    reply = _post(client, alice, body, base64_body=True, version=version)
    # THEN the task is created from the decoded body
    assert reply.status == 201, reply.text
    assert_task(reply.json(), title="from base64", description="ünïcödé ✓")
    assert reply.raw["isBase64Encoded"] is False


def test_an_invalid_base64_payload_decoding_to_junk_is_a_4xx(client: Client, alice: User) -> None:
    # GIVEN a base64 body whose bytes are not JSON
    junk = base64.b64encode(b"\x00\x01\x02").decode()
    # WHEN it is posted
    reply = _post(client, alice, junk, base64_body=True)
    # THEN it is refused as invalid JSON
    assert _errors(reply) == [(("body", 0), "json_invalid")]
    assert _stored(client, alice) == 0


@pytest.mark.parametrize(
    "headers",
    [
        {"Content-Type": "text/plain"},
        {"Content-Type": "application/x-www-form-urlencoded"},
        {"Content-Type": "multipart/form-data; boundary=x"},
        {"Content-Type": "application/xml"},
        {"Content-Type": ";;;"},
        {},
    ],
    ids=["text", "form", "multipart", "xml", "garbage", "none"],
)
def test_a_body_that_is_not_declared_json_is_415(
    client: Client, alice: User, headers: dict[str, str]
) -> None:
    # GIVEN a valid JSON body sent with a content type other than JSON (or none)
    # WHEN it is posted
    reply = _post(client, alice, '{"title": "x"}', headers=headers)
    # THEN the media type is refused, saying what is expected
    assert reply.status == 415, reply.text
    assert "application/json" in reply.detail
    assert _stored(client, alice) == 0


@pytest.mark.parametrize(
    "content_type",
    ["application/json; charset=utf-8", "APPLICATION/JSON", "application/merge+json"],
)
def test_json_content_types_with_parameters_or_suffixes_are_accepted(
    client: Client, alice: User, content_type: str
) -> None:
    # GIVEN a JSON body with a JSON media type variant
    # WHEN it is posted
    reply = _post(client, alice, '{"title": "x"}', headers={"Content-Type": content_type})
    # THEN the task is created
    assert reply.status == 201, reply.text


def test_a_huge_body_is_rejected_by_validation(client: Client, alice: User) -> None:
    # GIVEN a 5 MB title (API Gateway's payload limit is 10 MB, Lambda's 6 MB)
    body = json.dumps({"title": "x" * 5_000_000})
    # WHEN it is posted
    reply = _post(client, alice, body)
    # THEN it is a 422 on the title whose reply does not echo the input
    assert _errors(reply) == [(("body", "title"), "string_too_long")]
    assert len(reply.text) < 500


def test_unknown_body_fields_are_ignored(client: Client, alice: User) -> None:
    # GIVEN a body with the title plus fields the client may not set
    body = {
        "title": "x",
        "id": 999,
        "user_id": "someone-else",
        "created_at": "2000-01-01T00:00:00Z",
    }
    # WHEN it is posted
    reply = client(create_task.handler, "POST", alice.tasks, token=alice.token, json_body=body)
    # THEN the server decided id, owner and timestamps
    assert reply.status == 201
    assert reply.json()["user_id"] == alice.id
    assert reply.json()["created_at"] != "2000-01-01T00:00:00Z"


# --------------------------------------------------------------------------- updates


@pytest.mark.parametrize(
    ("body", "loc", "kind"),
    [
        ({"title": "   "}, ("body", "title"), "string_too_short"),
        ({"title": "x" * 256}, ("body", "title"), "string_too_long"),
        ({"title": None}, ("body", "title"), "value_error"),
        ({"completed": None}, ("body", "completed"), "value_error"),
        ({"completed": "true"}, ("body", "completed"), "bool_type"),
        ({"completed": 1}, ("body", "completed"), "bool_type"),
        ({"description": "d" * 10_001}, ("body", "description"), "string_too_long"),
        ({"description": "\u0000"}, ("body", "description"), "value_error"),
    ],
    ids=[
        "blank title",
        "title 256",
        "null title",
        "null completed",
        "string completed",
        "numeric completed",
        "description 10001",
        "NUL description",
    ],
)
def test_an_invalid_patch_is_422_and_changes_nothing(
    client: Client, alice: User, body: dict[str, Any], loc: tuple[str, ...], kind: str
) -> None:
    # GIVEN a task
    task = client.create(alice, "original")
    # WHEN an invalid partial update is sent
    reply = client(
        update_task.handler, "PATCH", alice.task(task["id"]), token=alice.token, json_body=body
    )
    # THEN it is a 422 on that field, and the task is unchanged
    assert _errors(reply) == [(loc, kind)]
    after = client(get_task.handler, "GET", alice.task(task["id"]), token=alice.token)
    assert after.json() == task


@pytest.mark.parametrize(
    ("body", "loc", "kind"),
    [
        ({"description": "no title"}, ("body", "title"), "missing"),
        ({"title": " "}, ("body", "title"), "string_too_short"),
        ({"title": "x", "completed": None}, ("body", "completed"), "value_error"),
        ({"title": "x", "completed": "yes"}, ("body", "completed"), "bool_type"),
    ],
    ids=["no title", "blank title", "null completed", "string completed"],
)
def test_an_invalid_put_is_422_and_changes_nothing(
    client: Client, alice: User, body: dict[str, Any], loc: tuple[str, ...], kind: str
) -> None:
    # GIVEN a task
    task = client.create(alice, "original")
    # WHEN an invalid replacement is sent
    reply = client(
        replace_task.handler, "PUT", alice.task(task["id"]), token=alice.token, json_body=body
    )
    # THEN it is a 422 on that field, and the task is unchanged
    assert _errors(reply) == [(loc, kind)]
    after = client(get_task.handler, "GET", alice.task(task["id"]), token=alice.token)
    assert after.json() == task


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        ('{"completed": "true"}', 422),
        ('{"completed": null}', 422),
        ('{"completed": 0}', 422),
        ('{"completed": true, "title": "x"}', 422),
        ('{"done": true}', 422),
        ("[true]", 422),
        ("{", 422),
    ],
)
def test_an_invalid_complete_body_is_a_4xx_and_changes_nothing(
    client: Client, alice: User, raw: str, status: int
) -> None:
    # GIVEN a pending task
    task = client.create(alice, "original")
    path = alice.task(task["id"]) + "/complete"
    # WHEN a body that is not {"completed": <bool>} is sent
    reply = client(complete_task.handler, "PATCH", path, token=alice.token, body=raw, headers=JSON)
    # THEN it is refused, and the flag was neither set nor toggled
    assert reply.status == status, reply.text
    after = client(get_task.handler, "GET", alice.task(task["id"]), token=alice.token)
    assert after.json() == task


def test_a_complete_body_without_json_content_type_is_415(client: Client, alice: User) -> None:
    # GIVEN a pending task
    task = client.create(alice, "original")
    path = alice.task(task["id"]) + "/complete"
    # WHEN {"completed": true} arrives as text/plain
    reply = client(
        complete_task.handler,
        "PATCH",
        path,
        token=alice.token,
        body='{"completed": true}',
        headers={"Content-Type": "text/plain"},
    )
    # THEN it is refused rather than read as an empty (toggling) body
    assert reply.status == 415
    after = client(get_task.handler, "GET", alice.task(task["id"]), token=alice.token)
    assert after.json()["completed"] is False


# --------------------------------------------------------------------------- path ids


@pytest.mark.parametrize(
    "task_id",
    [
        "0",
        "-1",
        "2147483648",
        "99999999999999999999999999999999",
        "1" * 5000,
        "abc",
        "1.0",
        "1e3",
        "+1",
        "%201",
        "1_0",
        "0x1",
        "%00",
        "%E2%91%A0",
        "１",
    ],
)
@pytest.mark.parametrize(
    ("handler", "method", "suffix", "body"),
    [
        (get_task.handler, "GET", "", None),
        (replace_task.handler, "PUT", "", {"title": "x"}),
        (update_task.handler, "PATCH", "", {"title": "x"}),
        (complete_task.handler, "PATCH", "/complete", None),
    ],
    ids=["get", "put", "patch", "complete"],
)
def test_an_id_that_cannot_name_a_task_is_422(
    client: Client, alice: User, handler: Any, method: str, suffix: str, body: Any, task_id: str
) -> None:
    # GIVEN a path segment that is not a task id PostgreSQL's integer can hold
    path = alice.task(task_id) + suffix
    # WHEN it is used on an item route
    reply = client(handler, method, path, token=alice.token, json_body=body)
    # THEN the path's task_id is refused
    assert [loc for loc, _ in _errors(reply)] == [("path", "task_id")]


def test_the_largest_integer_id_is_a_plain_404(client: Client, alice: User) -> None:
    # GIVEN the largest id PostgreSQL's integer holds
    # WHEN it is fetched
    reply = client(get_task.handler, "GET", alice.task(2**31 - 1), token=alice.token)
    # THEN it is simply not found
    assert reply.status == 404


def test_a_path_user_id_longer_than_any_user_id_is_refused(client: Client, alice: User) -> None:
    # GIVEN a 256-character user id in the path
    path = f"/api/{'u' * 256}/tasks"
    # WHEN alice uses it
    reply = client(list_tasks.handler, "GET", path, token=alice.token)
    # THEN it is refused as not hers (no token's subject is that long), before any validation
    assert (reply.status, reply.json()["code"]) == (403, "FORBIDDEN")


# --------------------------------------------------------------------------- query


@pytest.mark.parametrize(
    ("query", "param"),
    [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=-1", "limit"),
        ("limit=abc", "limit"),
        ("limit=1.0", "limit"),
        ("limit=", "limit"),
        ("offset=-1", "offset"),
        ("offset=2147483648", "offset"),
        ("offset=" + "9" * 5000, "offset"),
        ("status=done", "status"),
        ("status=ALL", "status"),
        ("status=%00", "status"),
        ("sort=id", "sort"),
        ("sort=title%3B%20DROP%20TABLE%20tasks", "sort"),
        ("order=up", "order"),
        ("order=", "order"),
        ("status=pending&status=bogus", "status"),
        ("limit=%FF", "limit"),
    ],
)
def test_an_unknown_query_value_is_422_naming_the_parameter(
    client: Client, alice: User, query: str, param: str
) -> None:
    # GIVEN a query value outside the contract
    # WHEN alice lists her tasks with it
    reply = client(list_tasks.handler, "GET", alice.tasks, token=alice.token, raw_query=query)
    # THEN the 422 names that query parameter
    assert [loc for loc, _ in _errors(reply)] == [("query", param)]


@pytest.mark.parametrize("query", ["limit=1", "limit=100", "offset=2147483647", "unknown=1&x=%FF"])
def test_query_values_at_the_edges_are_accepted(client: Client, alice: User, query: str) -> None:
    # GIVEN one task and a query at the edge of what is allowed (or with unknown parameters)
    client.create(alice, "x")
    # WHEN alice lists her tasks
    reply = client(list_tasks.handler, "GET", alice.tasks, token=alice.token, raw_query=query)
    # THEN the listing succeeds and still counts her task
    assert reply.status == 200
    assert reply.headers["x-total-count"] == "1"


# --------------------------------------------------------------------------- headers


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Weird": "ünïcödé ✓"},
        {"Accept": "text/html"},
        {"Cookie": "a=b; c"},
        {"X-Forwarded-For": "not an ip"},
        {"Host": "evil.example.com:99999"},
    ],
    ids=["non-ascii header", "accept html", "cookie", "bad forwarded-for", "bad host"],
)
def test_odd_headers_do_not_break_a_request(
    client: Client, alice: User, headers: dict[str, str]
) -> None:
    # GIVEN a request with an unusual header
    # WHEN alice lists her tasks
    reply = client(list_tasks.handler, "GET", alice.tasks, token=alice.token, headers=headers)
    # THEN it is served as JSON as usual
    assert (reply.status, reply.json()) == (200, [])


@pytest.mark.parametrize(
    "headers",
    [{"X-Forwarded-Port": "https"}, {"Host": "api.example.com:port"}, {"Host": "a:1:2"}],
    ids=["forwarded port", "host port", "host with two ports"],
)
def test_headers_the_adapter_cannot_parse_are_400_not_a_crash(
    client: Client, alice: User, output: Output, headers: dict[str, str]
) -> None:
    # GIVEN a header the Lambda adapter parses before the app runs, malformed
    # WHEN alice lists her tasks with it
    reply = client(
        list_tasks.handler,
        "GET",
        alice.tasks,
        token=alice.token,
        headers=headers,
        request_id="unreadable",
    )
    # THEN the function still answers, with a JSON 400, and logs why
    assert (reply.status, reply.detail) == (400, "malformed request")
    logged = {
        (r["level"], r["message"]) for r in output.logs() if r.get("correlation_id") == "unreadable"
    }
    assert ("WARNING", "unreadable request") in logged


@pytest.mark.parametrize("version", [HTTP_API, REST_API])
def test_a_body_flagged_base64_that_is_not_base64_is_400(alice: User, version: str) -> None:
    # GIVEN an event whose body claims to be base64 but is not
    build = http_api_event if version == HTTP_API else rest_api_event
    headers = {"Authorization": f"Bearer {alice.token}", **JSON}
    event = build("POST", alice.tasks, headers=headers, body='{"title": "x"}', base64_body=True)
    event["body"] = "abc"
    # WHEN it is handled
    reply = invoke(create_task.handler, event)
    # THEN it is a JSON 400
    assert (reply.status, reply.detail) == (400, "malformed request")
