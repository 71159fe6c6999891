"""The local gateway as an HTTP server: bursts, framing, repeated headers, slow clients."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Iterator

import pytest

from infra.local import neon_local
from shared.core.errors import AuthenticationError
from tests.support.gateway import GATEWAY_ENV, RawConnection, RunningGateway, call, running_gateway

BURST = 200
PATIENCE = 0.5  # the impatient gateway's head and body time-outs, in seconds


@pytest.fixture
def impatient(
    stack: neon_local.Stack, fresh_settings: pytest.MonkeyPatch, user_id: str
) -> Iterator[RunningGateway]:
    """A gateway that waits only PATIENCE seconds for a request's head or body."""
    for name in GATEWAY_ENV:
        fresh_settings.delenv(name, raising=False)
    with running_gateway(
        fresh_settings.setenv, user_id, head_timeout=PATIENCE, body_timeout=PATIENCE
    ) as running:
        yield running


def _post(gateway: RunningGateway, length: str, body: bytes, extra: str = "") -> bytes:
    return (
        f"POST /api/{gateway.user}/tasks HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {gateway.token}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {length}\r\n{extra}\r\n"
    ).encode() + body


def _titles(gateway: RunningGateway) -> list[str]:
    listed = call(gateway.tasks, headers=gateway.auth())
    assert listed.status == 200
    return [task["title"] for task in listed.body]


async def _one_request(port: int, token: str, path: str) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        f"GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
        "Connection: close\r\n\r\n".encode()
    )
    await writer.drain()
    status = int((await reader.readline()).split()[1])
    await reader.read()
    writer.close()
    return status


async def _burst(gateway: RunningGateway) -> list[int | BaseException]:
    path = f"/api/{gateway.user}/tasks"
    calls = [_one_request(gateway.port, gateway.token, path) for _ in range(BURST)]
    return await asyncio.wait_for(asyncio.gather(*calls, return_exceptions=True), 120)


def test_a_burst_of_200_concurrent_requests_is_served_without_a_failure(
    gateway: RunningGateway,
) -> None:
    # GIVEN one task, and 200 clients that connect at the same moment
    assert call(gateway.tasks, "POST", {"title": "one"}, gateway.auth()).status == 201
    # WHEN each lists the tasks on its own connection, all at once
    outcomes = asyncio.run(_burst(gateway))
    # THEN every one of them is answered 200: no reset, no time-out, no refusal
    assert outcomes == [200] * BURST


def test_a_chunked_body_is_the_request_body(gateway: RunningGateway) -> None:
    # GIVEN a create whose JSON body is sent in two chunks, then a list on the same connection
    body = json.dumps({"title": "sent in chunks"}).encode()
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (body[:7], body[7:]))
    head = _post(gateway, "0", b"").replace(b"Content-Length: 0", b"Transfer-Encoding: chunked")
    with RawConnection(gateway.port) as connection:
        # WHEN both are sent
        connection.send(head + chunks + b"0\r\n\r\n")
        created = connection.response()
        connection.send(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        health = connection.response()
    # THEN the task has the chunked title, and the next request is read as a request
    assert created[0] == 201 and json.loads(created[2])["title"] == "sent in chunks"
    assert health[0] == 200


@pytest.mark.parametrize("length", ["-1", "abc", "1e3", "12, 13"])
def test_a_bad_content_length_is_400_and_reaches_no_function(
    gateway: RunningGateway, length: str
) -> None:
    # GIVEN a create whose Content-Length is not one non-negative decimal number
    body = json.dumps({"title": f"length {length}"}).encode()
    with RawConnection(gateway.port) as connection:
        # WHEN it is sent
        connection.send(_post(gateway, length, body))
        status, _, _ = connection.response()
        # THEN it is refused with 400 and the connection is closed
        assert status == 400 and connection.closed_by_server()
    # AND no function ran: nothing was stored
    assert gateway.invocations.calls == [] and _titles(gateway) == []


def test_a_body_shorter_than_its_content_length_times_out_and_is_not_stored(
    impatient: RunningGateway,
) -> None:
    # GIVEN a create that announces 100 bytes and sends 20, then waits
    with RawConnection(impatient.port) as connection:
        connection.send(_post(impatient, "100", b'{"title": "cut short'))
        # WHEN the gateway's body time-out passes
        status, _, body = connection.response()
        # THEN it answers 408 and closes the connection
        assert (status, json.loads(body)) == (408, {"message": "Request Timeout"})
        assert connection.closed_by_server()
    # AND the handler never saw the request
    assert impatient.invocations.calls == [] and _titles(impatient) == []


def test_a_request_abandoned_mid_body_never_reaches_a_function(gateway: RunningGateway) -> None:
    # GIVEN a create that sends half its body
    with RawConnection(gateway.port) as connection:
        connection.send(_post(gateway, "40", b'{"title": "abandoned"'))
        time.sleep(0.2)
        # WHEN the client goes away
    deadline = time.monotonic() + 5
    while not any("abandoned by the client" in line for line in gateway.log):
        assert time.monotonic() < deadline, gateway.log
        time.sleep(0.02)
    # THEN no function ran and nothing was stored
    assert gateway.invocations.calls == [] and _titles(gateway) == []


def test_a_slow_client_is_cut_off_without_holding_up_others(impatient: RunningGateway) -> None:
    # GIVEN a client that sends part of a request head, then nothing
    with RawConnection(impatient.port) as slow:
        slow.send(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        # WHEN another client calls meanwhile
        other = call(f"{impatient.base}/health")
        # THEN the other is served, and the slow one gets a 408 and is disconnected
        assert other.status == 200
        status, _, _ = slow.response()
        assert status == 408 and slow.closed_by_server()


def test_a_silent_connection_is_closed_after_the_head_time_out(
    impatient: RunningGateway,
) -> None:
    # GIVEN a client that connects and sends nothing
    with RawConnection(impatient.port, timeout=PATIENCE * 10) as silent:
        # WHEN the head time-out passes
        # THEN the gateway closes the connection
        assert silent.closed_by_server()


def test_repeated_headers_reach_the_function_joined_with_commas(gateway: RunningGateway) -> None:
    # GIVEN a request with a forged and then a valid Authorization header, and two X-Tag's
    head = (
        f"GET /api/{gateway.user}/tasks HTTP/1.1\r\nHost: x\r\n"
        f"Authorization: Bearer forged\r\nAuthorization: Bearer {gateway.token}\r\n"
        "X-Tag: a\r\nX-Tag: b\r\n\r\n"
    )
    with RawConnection(gateway.port) as connection:
        # WHEN it is sent
        connection.send(head.encode())
        status, _, body = connection.response()
    # THEN the function got both values as API Gateway joins them, so the valid last
    # header does not win: the joined value is no token at all
    _, event = gateway.invocations.events[-1]
    assert event["headers"]["x-tag"] == "a,b"
    assert event["headers"]["authorization"] == f"Bearer forged,Bearer {gateway.token}"
    assert (status, json.loads(body)["code"]) == (401, AuthenticationError.code)


def test_paths_are_logged_escaped_and_raw_control_bytes_refused(gateway: RunningGateway) -> None:
    # GIVEN a path with an escape sequence percent-encoded, and one with it raw (0x1b, 0x9b)
    with RawConnection(gateway.port) as encoded, RawConnection(gateway.port) as raw:
        # WHEN both are sent
        encoded.send(b"GET /caf%C3%A9%1B%5B2J HTTP/1.1\r\nHost: x\r\n\r\n")
        raw.send(b"GET /caf\xc3\xa9\x1b[2J\x9b2J HTTP/1.1\r\nHost: x\r\n\r\n")
        statuses = encoded.response()[0], raw.response()[0]
    # THEN the encoded one is a 404 logged as sent, never decoded into the terminal's
    # escape; the raw one is refused (400) before anything is logged
    assert statuses == (404, 400)
    [line] = [line for line in gateway.log if "/caf" in line]
    assert re.fullmatch(r"gateway: GET /caf%C3%A9%1B%5B2J -> 404 \(no route, \d+ ms\)", line)


def test_keep_alive_serves_requests_one_after_another(gateway: RunningGateway) -> None:
    # GIVEN one connection
    with RawConnection(gateway.port) as connection:
        # WHEN three requests are sent on it in turn
        statuses = []
        for _ in range(3):
            connection.send(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            statuses.append(connection.response()[0])
    # THEN each is answered on the same connection
    assert statuses == [200, 200, 200]
