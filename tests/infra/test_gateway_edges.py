"""The local gateway at API Gateway's edges: WebSocket upgrades, the header limit, the
integration timeout."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from infra.local.gateway import GatewayServer, bind
from infra.local.gateway.app import MAX_HEAD, Gateway
from tests.support.gateway import RawConnection, RunningGateway, call

TIMEOUT = 0.5  # the impatient gateway's integration timeout, in seconds


def _get(gateway: RunningGateway, extra: str = "") -> bytes:
    return (
        f"GET /api/{gateway.user}/tasks HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {gateway.token}\r\n{extra}\r\n"
    ).encode()


def test_a_websocket_upgrade_is_served_as_plain_http(gateway: RunningGateway) -> None:
    # GIVEN a request asking to upgrade to a WebSocket (API Gateway's HTTP API has none)
    upgrade = "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
    with RawConnection(gateway.port) as connection:
        # WHEN it is sent to a route
        connection.send(_get(gateway, upgrade + "Sec-WebSocket-Key: dGhlIHNhbXBsZQ==\r\n"))
        status, _, body = connection.response()
    # THEN the route answers it as the plain HTTP request it also is
    assert status == 200
    assert isinstance(json.loads(body), list)


def test_headers_over_api_gateways_limit_are_431_and_reach_no_function(
    gateway: RunningGateway,
) -> None:
    # GIVEN one request whose head is just within 10,240 bytes and one just over it
    within = _get(gateway, f"X-Pad: {'a' * (MAX_HEAD - len(_get(gateway)) - 50)}\r\n")
    over = _get(gateway, f"X-Pad: {'a' * (MAX_HEAD - len(_get(gateway)) + 50)}\r\n")
    before = len(gateway.invocations.calls)
    with RawConnection(gateway.port) as connection:
        # WHEN both are sent
        connection.send(within)
        within_status, _, _ = connection.response()
        connection.send(over)
        over_status, headers, body = connection.response()
    # THEN the first is served; the second is refused as a client error, in JSON
    assert within_status == 200
    assert over_status == 431
    assert headers["content-type"] == "application/json"
    assert json.loads(body) == {"message": "Request Header Fields Too Large"}
    assert len(gateway.invocations.calls) == before + 1


@pytest.fixture
def stuck() -> Iterator[tuple[str, list[str], threading.Event]]:
    """A gateway whose functions never answer until released, with a short timeout."""
    release = threading.Event()

    def invoke(name: str, event: dict[str, Any]) -> Any:
        release.wait(30)
        return {"statusCode": 200, "body": "late"}

    log: list[str] = []
    sock = bind()
    app = Gateway(invoke, cors=None, integration_timeout=TIMEOUT, log=log.append)
    server = GatewayServer(app, sock)
    server.start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}", log, release
    finally:
        release.set()
        server.stop()
        app.close()


def test_a_function_past_the_integration_timeout_is_503_like_api_gateway(
    stuck: tuple[str, list[str], threading.Event],
) -> None:
    # GIVEN a function that takes longer than the integration timeout
    base, log, _ = stuck
    started = time.monotonic()
    # WHEN it is called
    answer = call(f"{base}/health")
    # THEN the client gets API Gateway's 503 once the timeout is up, not a hang or a 5xx page
    assert answer.status == 503
    assert answer.body == {"message": "Service Unavailable"}
    assert TIMEOUT <= time.monotonic() - started < TIMEOUT + 5
    assert any("no answer within the integration timeout" in line for line in log)
