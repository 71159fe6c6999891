"""The local Lambda runtime in process form: one invocation per process at a time, as Lambda.

Through the gateway (what `make run` serves) with the real functions, and directly with a
function that misbehaves on request (tests/support/misbehaving.py).
"""

from __future__ import annotations

import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from infra.local.runtime.workers import Workers
from tests.support import misbehaving
from tests.support.events import http_api_event
from tests.support.gateway import RunningGateway, call, running_gateway
from tests.support.output import Output

RESERVED = 2  # serverless.yml: the dev stage's apiConcurrency, each API function's limit


def _handled(output: Output, function: str) -> list[dict[str, Any]]:
    """The "request handled" log lines of ``function``, as its workers printed them."""
    name = f"todo-api-dev-{function}"
    return [
        r for r in output.logs() if r["message"] == "request handled" and r["function_name"] == name
    ]


def _until_dead(pid: int) -> None:
    """Wait until the process has died (a zombie until the pool reaps it)."""
    deadline = time.monotonic() + 5
    while "State:\tZ" not in Path(f"/proc/{pid}/status").read_text():
        assert time.monotonic() < deadline, f"process {pid} is still running"
        time.sleep(0.01)


def _ask(workers: Workers, do: str | None = None) -> Any:
    query = {} if do is None else {"do": do}
    return workers.invoke("health", http_api_event("GET", "/health", query=query))


def test_requests_in_flight_together_run_in_processes_of_their_own(
    gateway: RunningGateway, output: Output
) -> None:
    # GIVEN three clients that call the health function at the same moment
    with ThreadPoolExecutor(3) as clients:
        # WHEN they do
        answers = list(clients.map(lambda _: call(f"{gateway.base}/health"), range(3)))
    # THEN each is answered, by one of as many worker processes as the function may have
    assert [answer.status for answer in answers] == [200] * 3
    pids = gateway.invocations.inner.pids("health")
    assert len(set(pids)) == RESERVED and os.getpid() not in pids
    # AND each of those processes started cold once; the third request waited for a warm one
    assert sorted(line["cold_start"] for line in _handled(output, "health")) == [False, True, True]
    # AND the next request is served warm by one of them
    assert call(f"{gateway.base}/health").status == 200
    assert gateway.invocations.inner.pids("health") == pids
    assert _handled(output, "health")[-1]["cold_start"] is False


def test_a_worker_killed_while_idle_is_replaced_by_a_fresh_one(gateway: RunningGateway) -> None:
    # GIVEN a function whose one warm process is killed while it waits
    assert call(f"{gateway.base}/health").status == 200
    [killed] = gateway.invocations.inner.pids("health")
    os.kill(killed, signal.SIGKILL)
    _until_dead(killed)
    # WHEN the next request comes
    answer = call(f"{gateway.base}/health")
    # THEN a fresh process serves it
    assert answer.status == 200
    assert killed not in gateway.invocations.inner.pids("health")


def test_a_process_that_exits_mid_invocation_is_a_500_and_the_next_request_gets_a_fresh_one(
    misbehaving_workers: Workers, fresh_settings: pytest.MonkeyPatch, user_id: str
) -> None:
    with running_gateway(fresh_settings.setenv, user_id, workers=misbehaving_workers) as gateway:
        # GIVEN a warm process serving the function
        first = call(f"{gateway.base}/health")
        # WHEN an invocation makes it exit, and then another request comes
        crashed = call(f"{gateway.base}/health?do=exit")
        after = call(f"{gateway.base}/health")
    # THEN the crash is API Gateway's answer to a failed function, and nothing more
    assert (crashed.status, crashed.body) == (500, {"message": "Internal Server Error"})
    # AND the next request is served by a fresh process
    assert (first.status, after.status) == (200, 200)
    assert after.body["pid"] != first.body["pid"]


def test_an_invocation_s_logs_end_with_lambdas_end_and_report_lines(
    misbehaving_workers: Workers,
) -> None:
    # GIVEN / WHEN a cold invocation and a warm one
    cold, warm = _ask(misbehaving_workers), _ask(misbehaving_workers)
    # THEN each holds its own lines, between its START and its END and REPORT
    for invocation in (cold, warm):
        rid = invocation.request_id
        assert invocation.logs[0] == f"START RequestId: {rid} Version: $LATEST"
        assert [r["message"] for r in invocation.records()] == ["invoked"]
        assert invocation.logs[-2] == f"END RequestId: {rid}"
        assert invocation.logs[-1].startswith(f"REPORT RequestId: {rid}\tDuration: ")
    # AND only the cold one reports the init phase
    assert ["Init Duration" in i.logs[-1] for i in (cold, warm)] == [True, False]


def test_a_function_that_raises_answers_the_runtime_error_and_its_process_stays_warm(
    misbehaving_workers: Workers,
) -> None:
    # GIVEN a warm process
    assert _ask(misbehaving_workers).payload["statusCode"] == 200
    [pid] = misbehaving_workers.pids("health")
    # WHEN the function raises
    failed = _ask(misbehaving_workers, "raise")
    # THEN the answer is the runtime's error payload, and the same process serves the next
    assert failed.function_error
    assert failed.payload == {"errorType": "RuntimeError", "errorMessage": "asked to raise"}
    assert _ask(misbehaving_workers).payload["statusCode"] == 200
    assert misbehaving_workers.pids("health") == [pid]


def test_an_invocation_past_its_timeout_is_ended_and_the_next_gets_a_fresh_process(
    misbehaving_workers: Workers,
) -> None:
    # GIVEN a warm process
    assert _ask(misbehaving_workers).payload["statusCode"] == 200
    [hung] = misbehaving_workers.pids("health")
    # WHEN an invocation outlives the function's timeout
    timed_out = _ask(misbehaving_workers, "hang")
    # THEN it is ended at the timeout with Lambda's error, and its process is gone
    assert timed_out.payload["errorType"] == "Sandbox.Timedout"
    assert misbehaving.TIMEOUT <= timed_out.seconds < misbehaving.TIMEOUT + 2
    assert hung not in misbehaving_workers.pids("health")
    # AND the next invocation starts a fresh process, which answers
    assert _ask(misbehaving_workers).payload["statusCode"] == 200
