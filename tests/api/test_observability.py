"""Powertools: JSON logs with correlation id and cold start, EMF metrics, and no secrets in logs."""

from __future__ import annotations

from typing import Any

import pytest
from aws_lambda_powertools.logging import logger as powertools_logger
from aws_lambda_powertools.metrics.provider import cold_start

from functions import get_task, health, list_tasks
from infra.local import neon_local
from shared.api.docs import ASSETS
from shared.api.handler import build_handler
from shared.api.routes import tasks
from tests.support.client import Client, Secrets, Tokens, User
from tests.support.events import HTTP_API, REST_API, LambdaContext, http_api_event
from tests.support.output import Output
from tests.support.resets import Configure
from tests.support.routes import HttpRoute, handler_of, routes, sample, task_routes
from tests.support.tokens import new_key


def _handled(output: Output, request_id: str) -> dict[str, Any]:
    """The one "request handled" record of a request."""
    [record] = [
        r
        for r in output.logs()
        if r["message"] == "request handled" and r.get("correlation_id") == request_id
    ]
    return record


@pytest.mark.parametrize("version", [HTTP_API, REST_API])
def test_log_lines_carry_the_api_gateway_request_id_as_correlation_id(
    client: Client, alice: User, output: Output, version: str
) -> None:
    # GIVEN a request with a known API Gateway request id
    request_id = f"apigw-{version}-{alice.id}"
    # WHEN it is handled, failing validation on the way
    reply = client(
        list_tasks.handler,
        "GET",
        alice.tasks,
        token=alice.token,
        query={"limit": "0"},
        version=version,
        request_id=request_id,
    )
    # THEN the JSON log line names the request, the function, the outcome and the cold start flag
    assert reply.status == 422
    record = _handled(output, request_id)
    assert record["level"] == "INFO"
    assert record["service"] == "todo-api"
    assert record["function_name"] == LambdaContext.function_name
    assert isinstance(record["function_request_id"], str) and record["function_request_id"]
    assert isinstance(record["cold_start"], bool)
    assert (record["operation"], record["status"]) == ("TasksListed", 422)


def test_every_line_of_a_failing_request_carries_its_correlation_id(
    client: Client, alice: User, bob: User, output: Output
) -> None:
    # GIVEN a request that fails authorization (so the error handler logs too)
    request_id = f"forbidden-{alice.id}"
    # WHEN bob's token is used on alice's path
    reply = client(list_tasks.handler, "GET", alice.tasks, token=bob.token, request_id=request_id)
    # THEN both the error line and the summary line carry the request id
    assert reply.status == 403
    lines = [r for r in output.logs() if r.get("correlation_id") == request_id]
    assert [(r["message"], r.get("error")) for r in lines] == [
        ("request failed", "PermissionDenied"),
        ("request handled", None),
    ]


def test_the_lambda_request_id_is_logged_with_each_line(alice: User, output: Output) -> None:
    # GIVEN an invocation with a known Lambda request id
    context = LambdaContext(aws_request_id="lambda-req-0001")
    event = http_api_event(
        "GET",
        alice.tasks,
        headers={"Authorization": f"Bearer {alice.token}"},
        request_id="apigw-req-0001",
    )
    # WHEN the handler runs
    response = list_tasks.handler(event, context)
    # THEN its log line carries both ids
    assert response["statusCode"] == 200
    record = _handled(output, "apigw-req-0001")
    assert record["function_request_id"] == "lambda-req-0001"
    assert record["function_arn"] == context.invoked_function_arn


def test_the_first_invocation_is_a_cold_start_and_the_next_is_not(
    client: Client, output: Output, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a fresh execution environment (Powertools' cold start flags reset)
    monkeypatch.setattr(powertools_logger, "is_cold_start", True)
    monkeypatch.setattr(cold_start, "is_cold_start", True)
    # WHEN the function is invoked twice
    client(health.handler, "GET", "/health", request_id="first-call")
    client(health.handler, "GET", "/health", request_id="second-call")
    # THEN the first log line says cold start and the second does not
    assert _handled(output, "first-call")["cold_start"] is True
    assert _handled(output, "second-call")["cold_start"] is False
    # AND exactly one ColdStart metric was emitted, per function name
    cold = [m for m in output.metrics() if "ColdStart" in m]
    assert len(cold) == 1
    assert cold[0]["ColdStart"] == [1.0]
    assert cold[0]["function_name"] == LambdaContext.function_name
    [directive] = cold[0]["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "TodoApi"
    assert directive["Metrics"] == [{"Name": "ColdStart", "Unit": "Count"}]


def _operation(route: HttpRoute) -> str:
    """The metric name the route's function counts its successes under."""
    return handler_of(route).operation


@pytest.mark.parametrize("route", task_routes(), ids=_operation)
def test_each_operation_emits_one_business_metric_on_success_only(
    client: Client, alice: User, bob: User, output: Output, route: HttpRoute
) -> None:
    # GIVEN one of alice's tasks
    handler, operation = handler_of(route), _operation(route)
    task = client.create(alice, "metered")
    output.read()
    path, body = sample(route, alice.id, task["id"])
    # WHEN the operation fails once (bob's token) and then succeeds
    refused = client(handler, route.method, path, token=bob.token, json_body=body)
    output.read()
    failed_metrics = [m for m in output.metrics() if operation in m]
    done = client(handler, route.method, path, token=alice.token, json_body=body)
    # THEN only the success emitted the operation's metric: one count in the TodoApi namespace
    assert (refused.status, done.status < 300) == (403, True)
    emitted = [m for m in output.metrics() if operation in m]
    assert len(emitted) == len(failed_metrics) + 1
    metric = emitted[-1]
    assert metric[operation] == [1.0]
    assert metric["service"] == "todo-api"
    [directive] = metric["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "TodoApi"
    assert {"Name": operation, "Unit": "Count"} in directive["Metrics"]


@pytest.mark.parametrize(
    "route", [r for r in routes() if r not in task_routes()], ids=lambda route: route.key
)
def test_health_and_docs_emit_their_metric(
    client: Client, output: Output, route: HttpRoute
) -> None:
    # GIVEN / WHEN an unauthenticated GET (of an asset the docs page loads, for /docs/{asset})
    operation = _operation(route)
    reply = client(handler_of(route), route.method, route.path(asset=next(iter(ASSETS))))
    # THEN it succeeds and counts once
    assert reply.status == 200
    assert [m[operation] for m in output.metrics() if operation in m] == [[1.0]]


def test_the_event_is_never_logged_even_when_event_logging_is_switched_on(
    client: Client, alice: User, output: Output, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN POWERTOOLS_LOGGER_LOG_EVENT=true in the environment the handler is built in
    monkeypatch.setenv("POWERTOOLS_LOGGER_LOG_EVENT", "true")
    handler = build_handler("TasksListed", tasks.list_tasks)
    # WHEN a request with a bearer token is handled
    reply = client(handler, "GET", alice.tasks, token=alice.token, request_id="no-dump")
    # THEN the event (with its Authorization header) was not logged
    assert reply.status == 200
    assert "authorization" not in output.read().lower()
    # (the output fixture also checks that the token itself appears nowhere)


@pytest.mark.parametrize("version", [HTTP_API, REST_API])
def test_rejected_tokens_never_reach_a_log_line(
    client: Client, tokens: Tokens, alice: User, output: Output, version: str
) -> None:
    # GIVEN tokens that fail in different places: signature, expiry, shape
    bad = [
        tokens.eddsa(alice.id, key=new_key()),
        tokens.eddsa(alice.id, exp=1),
        tokens.raw(alice.token[:-5] + "AAAAA"),
    ]
    # WHEN each is used
    statuses = [
        client(get_task.handler, "GET", alice.task(1), token=token, version=version).status
        for token in bad
    ]
    # THEN each is refused, and no log line carries any part of a token
    assert statuses == [401, 401, 401]
    text = output.read()
    for token in [*bad, alice.token]:
        for part in token.split("."):
            assert part not in text


def test_a_wrong_database_password_is_neither_returned_nor_logged(
    stack: neon_local.Stack,
    client: Client,
    alice: User,
    secrets: Secrets,
    configure: Configure,
    output: Output,
) -> None:
    # GIVEN DATABASE_URL with a wrong password (and the right one known to the leak checks)
    wrong = secrets.add("Wr0ng-" + stack.password[::-1])
    url = stack.database_url.replace(stack.password, wrong)
    configure(database_url=url, db_connect_attempts="1")
    # WHEN a request needs the database, and the health check runs
    reply = client(list_tasks.handler, "GET", alice.tasks, token=alice.token)
    checked = client(health.handler, "GET", "/health")
    # THEN both are 503 and neither password appears anywhere (checked by the fixtures too)
    assert (reply.status, checked.status) == (503, 503)
    assert wrong not in output.read() and stack.password not in output.read()


def _blob_with(output: Output, name: str) -> dict[str, Any]:
    """The one EMF blob that carries metric ``name``."""
    [blob] = [m for m in output.metrics() if name in m]
    return blob


def _units(blob: dict[str, Any]) -> dict[str, str]:
    [directive] = blob["_aws"]["CloudWatchMetrics"]
    return {metric["Name"]: metric["Unit"] for metric in directive["Metrics"]}


# /health answers its own 503; a task route's comes from the error handlers.
UNAVAILABLE_ROUTES = ("GET /health", "GET /api/{user_id}/tasks")


@pytest.mark.parametrize(
    "route", [r for r in routes() if r.key in UNAVAILABLE_ROUTES], ids=lambda r: r.key
)
def test_a_503_is_counted_in_total_and_by_cause(
    stack: neon_local.Stack,
    client: Client,
    alice: User,
    configure: Configure,
    output: Output,
    route: HttpRoute,
) -> None:
    # GIVEN a database nobody listens for (one connect attempt)
    url = stack.database_url.replace(f":{stack.pooler_port}/", f":{neon_local.free_port()}/")
    configure(database_url=url, db_connect_attempts="1")
    output.read()
    # WHEN a request needs it
    path, body = sample(route, alice.id, 1)
    reply = client(handler_of(route), route.method, path, token=alice.token, json_body=body)
    # THEN it is a 503, published once as ServiceUnavailable and once as its cause, in the
    # TodoApi namespace, and the route's success metric is not
    assert reply.status == 503
    blob = _blob_with(output, "ServiceUnavailable")
    assert (blob["ServiceUnavailable"], blob["DatabaseUnavailable"]) == ([1.0], [1.0])
    assert _units(blob) == {"ServiceUnavailable": "Count", "DatabaseUnavailable": "Count"}
    assert blob["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "TodoApi"
    assert _operation(route) not in blob


def test_every_request_publishes_its_database_connect_time(
    client: Client, alice: User, output: Output
) -> None:
    # GIVEN a working database (NullPool: one connection per request)
    output.read()
    # WHEN alice lists her tasks
    reply = client(list_tasks.handler, "GET", alice.tasks, token=alice.token)
    # THEN the invocation's metrics carry the time its connection took, in milliseconds,
    # beside the operation's count
    assert reply.status == 200
    blob = _blob_with(output, "TasksListed")
    assert _units(blob)["DatabaseConnectTime"] == "Milliseconds"
    times = blob["DatabaseConnectTime"]
    assert times and all(0 < value < 10_000 for value in times)
