"""The run command's gateway: real HTTP in, real handlers with API Gateway events behind."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

from infra.local import neon_local
from shared.core.errors import MissingToken
from shared.core.settings import get_settings
from tests.support.gateway import GATEWAY_ENV, RunningGateway, call

ROOT = Path(__file__).resolve().parents[2]


def test_the_printed_token_creates_and_lists_tasks(gateway: RunningGateway) -> None:
    # GIVEN the gateway and the development token it issued
    token = gateway.auth()
    # WHEN the printed curl lines are replayed
    created = call(gateway.tasks, "POST", {"title": "Buy milk"}, token)
    listed = call(f"{gateway.tasks}?status=pending", headers=token)
    # THEN the task was stored and comes back in the list
    assert created.status == 201 and created.body["title"] == "Buy milk"
    assert created.headers["location"] == f"/api/{gateway.user}/tasks/{created.body['id']}"
    assert listed.status == 200 and created.body in listed.body


def test_health_and_docs_need_no_token(gateway: RunningGateway) -> None:
    # GIVEN / WHEN health and the OpenAPI document are fetched without a token
    health = call(f"{gateway.base}/health")
    document = call(f"{gateway.base}/openapi.json")
    # THEN both answer, the document with every route
    assert (health.status, health.body) == (200, {"status": "ok", "database": "ok"})
    assert document.status == 200
    assert "/api/{user_id}/tasks/{task_id}/complete" in document.body["paths"]


def test_requests_without_a_token_or_to_unknown_routes_are_refused(
    gateway: RunningGateway,
) -> None:
    # GIVEN / WHEN a list without a token, an unknown path and a method no route serves
    no_token = call(gateway.tasks)
    nowhere = call(f"{gateway.base}/nowhere")
    wrong_method = call(f"{gateway.base}/health", "DELETE")
    # THEN 401 from the function; API Gateway's own 404 for the other two, no function run
    assert no_token.status == 401 and no_token.body["code"] == MissingToken.code
    assert (nowhere.status, nowhere.body) == (404, {"message": "Not Found"})
    assert (wrong_method.status, wrong_method.body) == (404, {"message": "Not Found"})
    assert gateway.invocations.calls == ["listTasks"]


def test_functions_get_their_serverless_yml_environment(gateway: RunningGateway) -> None:
    # GIVEN serverless.yml's api functions set DB_QUERY_TIMEOUT: "8", DB_CONNECT_TIMEOUT: "4"
    # and Powertools' service name ${self:service}
    # WHEN the gateway has started
    settings = get_settings()
    # THEN the functions' settings are those values, not the code's defaults (10 s, 5 s)
    assert (settings.db_query_timeout, settings.db_connect_timeout) == (8.0, 4.0)
    assert os.environ["POWERTOOLS_SERVICE_NAME"] == "todo-api"
    # AND ${env:DATABASE_URL, ''} resolved to the stack this process points at
    assert call(f"{gateway.base}/health").body["database"] == "ok"


def test_make_run_prints_a_token_and_curl_lines_that_work(stack: neon_local.Stack) -> None:
    # GIVEN the run command's gateway started as `make run` starts it, on PORT
    port = neon_local.free_port()
    env = {k: v for k, v in os.environ.items() if k not in GATEWAY_ENV} | {"PORT": str(port)}
    process = subprocess.Popen(
        [sys.executable, "-m", "infra.local.gateway"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        # WHEN its announcement is read up to the second curl line
        printed = "".join(_lines_until(process.stdout, f"curl -s http://127.0.0.1:{port}/"))
        token = re.search(r"export TOKEN=(\S+)", printed)
        # THEN it names the URL on that port and the browser origins CORS allows, and its
        # token lists the demo user's tasks
        assert f"Todo API on http://127.0.0.1:{port}" in printed and token is not None
        assert "Browsers may call it from: http://localhost:3000 (FRONTEND_ORIGIN)" in printed
        assert stack.password not in printed
        listed = call(
            f"http://127.0.0.1:{port}/api/demo-user/tasks",
            headers={"Authorization": f"Bearer {token.group(1)}"},
        )
        assert listed.status == 200 and isinstance(listed.body, list)
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=20) == 0


def _lines_until(stream: object, marker: str) -> list[str]:
    lines: list[str] = []
    for line in stream:  # type: ignore[attr-defined]
        lines.append(line)
        if marker in line:
            return lines
    raise AssertionError(f"the gateway stopped before printing {marker!r}: {lines}")
