"""API Gateway events for the Lambda handlers, built from the captured shapes in tests/events/.

``apiGatewayHttpApiV2Event.json`` is an HTTP API (payload format 2.0) event and
``apiGatewayRestApiV1Event.json`` a REST API (payload format 1.0) event, both in the
shape AWS documents and Powertools' own test events use (no API Gateway authorizer:
this API checks the bearer token itself). The builders replace only what a request
decides (method, path, path parameters, query, headers, body, request id) and keep
the rest of the captured payload as it is.
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlencode

from infra.serverless.routes import routes
from shared.api.handler import LambdaHandler

EVENTS = Path(__file__).resolve().parent.parent / "events"
HTTP_API = "2.0"
REST_API = "1.0"
_TEMPLATES = {HTTP_API: "apiGatewayHttpApiV2Event.json", REST_API: "apiGatewayRestApiV1Event.json"}
# Headers a test always decides itself: never inherit them from the captured request.
_REQUEST_HEADERS = frozenset({"authorization", "content-type", "content-length"})
Query = Mapping[str, str | list[str]]


@cache
def _template(version: str) -> str:
    return (EVENTS / _TEMPLATES[version]).read_text()


def captured_event(version: str) -> dict[str, Any]:
    """A fresh copy of the captured event of one payload version."""
    event: dict[str, Any] = json.loads(_template(version))
    return event


@dataclass
class LambdaContext:
    """The attributes of Lambda's context object that Powertools and Mangum read."""

    function_name: str = "todo-api-dev-tasks"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 1024
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = "/aws/lambda/todo-api-dev-tasks"
    log_stream_name: str = "2026/01/01/[$LATEST]0123456789abcdef0123456789abcdef"

    @property
    def invoked_function_arn(self) -> str:
        """The ARN the function was invoked by."""
        return f"arn:aws:lambda:us-east-1:123456789012:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        """Plenty of time left."""
        return 29_000


def route_of(path: str) -> tuple[str, dict[str, str] | None]:
    """The serverless.yml route template ``path`` fits and its (decoded) path parameters.

    Any method: tests also send methods a path does not serve, which API Gateway would
    answer itself. No template fits: ``$default``, as API Gateway names the catch-all.
    """
    bare = path.split("?")[0]
    for route in routes():
        params = route.match(bare)
        if params is not None:
            return route.template, {k: unquote(v) for k, v in params.items()} or None
    return "$default", None


def _body(body: str | bytes | None, encode: bool) -> tuple[str | None, bool]:
    """The body and isBase64Encoded: bytes (or ``encode``) go base64, as API Gateway sends them."""
    if body is None:
        return None, False
    if isinstance(body, bytes):
        return base64.b64encode(body).decode("ascii"), True
    if encode:
        return base64.b64encode(body.encode("utf-8", "surrogatepass")).decode("ascii"), True
    return body, False


def _query_pairs(query: Query | None) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for name, value in (query or {}).items():
        values = value if isinstance(value, list) else [value]
        pairs.extend((name, v) for v in values)
    return pairs


def _content_length(body: str | bytes | None) -> str:
    if body is None:
        return "0"
    raw = body if isinstance(body, bytes) else body.encode("utf-8", "surrogatepass")
    return str(len(raw))


def http_api_event(
    method: str,
    path: str,
    *,
    headers: dict[str, str] | None = None,
    query: Query | None = None,
    raw_query: str | None = None,
    body: str | bytes | None = None,
    base64_body: bool = False,
    request_id: str | None = None,
) -> dict[str, Any]:
    """An HTTP API (payload 2.0) event for one request."""
    event = captured_event(HTTP_API)
    route, params = route_of(path)
    pairs = _query_pairs(query)
    sent = {k: v for k, v in event["headers"].items() if k not in _REQUEST_HEADERS}
    sent.update({name.lower(): value for name, value in (headers or {}).items()})
    sent["content-length"] = _content_length(body)
    event["headers"] = sent
    event["routeKey"] = event["requestContext"]["routeKey"] = f"{method} {route}"
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["requestContext"]["http"]["method"] = method
    event["requestContext"]["requestId"] = request_id or str(uuid.uuid4())
    event["rawQueryString"] = raw_query if raw_query is not None else urlencode(pairs)
    grouped: dict[str, list[str]] = {}
    for name, value in pairs:
        grouped.setdefault(name, []).append(value)
    event["queryStringParameters"] = {k: ",".join(v) for k, v in grouped.items()} or None
    event["pathParameters"] = params
    event["body"], event["isBase64Encoded"] = _body(body, base64_body)
    return {name: value for name, value in event.items() if value is not None}


def rest_api_event(
    method: str,
    path: str,
    *,
    headers: dict[str, str] | None = None,
    query: Query | None = None,
    body: str | bytes | None = None,
    base64_body: bool = False,
    request_id: str | None = None,
) -> dict[str, Any]:
    """A REST API (payload 1.0) event for one request."""
    event = captured_event(REST_API)
    route, params = route_of(path)
    keep = {k: v for k, v in event["headers"].items() if k.lower() not in _REQUEST_HEADERS}
    keep.update(headers or {})
    keep["Content-Length"] = _content_length(body)
    event["headers"] = keep
    event["multiValueHeaders"] = {name: [value] for name, value in keep.items()}
    event["resource"] = event["requestContext"]["resourcePath"] = route
    event["path"] = path
    event["requestContext"]["path"] = f"/{event['requestContext']['stage']}{path}"
    event["httpMethod"] = event["requestContext"]["httpMethod"] = method
    event["requestContext"]["requestId"] = request_id or str(uuid.uuid4())
    grouped: dict[str, list[str]] = {}
    for name, value in _query_pairs(query):
        grouped.setdefault(name, []).append(value)
    event["queryStringParameters"] = {k: v[-1] for k, v in grouped.items()} or None
    event["multiValueQueryStringParameters"] = grouped or None
    event["pathParameters"] = params
    event["body"], event["isBase64Encoded"] = _body(body, base64_body)
    return event


@dataclass(frozen=True)
class Reply:
    """What a handler returned, decoded the way API Gateway would decode it."""

    status: int
    headers: dict[str, str]
    text: str
    raw: dict[str, Any]

    def json(self) -> Any:
        """The body as JSON."""
        return json.loads(self.text)

    @property
    def detail(self) -> Any:
        """The ``detail`` of an error body (``code`` and ``message`` beside it, nothing else)."""
        body = self.json()
        assert isinstance(body, dict) and set(body) == {"detail", "code", "message"}, body
        return body["detail"]

    @property
    def message(self) -> str:
        """The ``message`` of an error body: the sentence a frontend shows, never empty."""
        body = self.json()
        assert isinstance(body, dict) and isinstance(body.get("message"), str), body
        assert body["message"].strip(), body
        return str(body["message"])

    @property
    def code(self) -> str:
        """The stable ``code`` of an error body."""
        body = self.json()
        assert isinstance(body, dict) and isinstance(body.get("code"), str), body
        return str(body["code"])


def invoke(handler: LambdaHandler, event: dict[str, Any]) -> Reply:
    """Call a Lambda handler with an event and a fresh context."""
    return decode_response(handler(event, LambdaContext()))


def decode_response(response: dict[str, Any]) -> Reply:
    """A handler's answer (in-process or from a Lambda runtime) as API Gateway decodes it."""
    headers = {k.lower(): v for k, v in (response.get("headers") or {}).items()}
    for name, values in (response.get("multiValueHeaders") or {}).items():
        headers[name.lower()] = ",".join(values)
    body = response.get("body") or ""
    if response.get("isBase64Encoded"):
        body = base64.b64decode(body).decode("utf-8")
    return Reply(int(response["statusCode"]), headers, body, response)


TASK_KEYS = {"id", "user_id", "title", "description", "completed", "created_at", "updated_at"}
_ISO_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?(Z|\+00:00)")


def utc(value: Any) -> datetime:
    """Parse an ISO-8601 timestamp the API returned, insisting that it is UTC."""
    assert isinstance(value, str) and _ISO_UTC.fullmatch(value), value
    parsed = datetime.fromisoformat(value)
    assert parsed.utcoffset() == timedelta(0)
    return parsed


def assert_task(task: Any, **expected: Any) -> None:
    """A task object has exactly the contract's fields, typed, and the expected values."""
    assert isinstance(task, dict) and set(task) == TASK_KEYS, task
    assert isinstance(task["id"], int) and task["id"] >= 1
    assert isinstance(task["completed"], bool)
    assert utc(task["updated_at"]) >= utc(task["created_at"])
    assert {name: task[name] for name in expected} == expected
