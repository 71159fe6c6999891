"""The run command's gateway: real HTTP in, real handlers with API Gateway events behind."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from typing import Any

import pytest

from infra import local_gateway, neon_local


@pytest.fixture
def gateway(
    stack: neon_local.Stack, fresh_settings: pytest.MonkeyPatch
) -> Iterator[tuple[str, str]]:
    """A gateway on a free port playing Better Auth too; yields (base URL, dev token)."""
    for name in ("BETTER_AUTH_URL", "AUTH_JWKS_URL", "BETTER_AUTH_SECRET"):
        fresh_settings.delenv(name, raising=False)
    server = ThreadingHTTPServer(("127.0.0.1", 0), local_gateway.Gateway)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    local_gateway.Gateway.routes = local_gateway.load_routes()
    local_gateway.Gateway.jwks, token = local_gateway.development_auth(base)
    fresh_settings.setenv("BETTER_AUTH_URL", base)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield base, token
    server.shutdown()
    local_gateway.Gateway.jwks = None


def _request(
    url: str, token: str | None = None, method: str = "GET", body: Any = None
) -> tuple[int, dict[str, str], Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)  # noqa: S310  (loopback http)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (loopback)
            raw = response.read()
            return response.status, dict(response.headers), json.loads(raw) if raw else None
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read() or b"null")


def test_the_printed_token_creates_and_lists_tasks(gateway: tuple[str, str]) -> None:
    # GIVEN the gateway and the development token it printed
    base, token = gateway
    user = local_gateway.DEV_USER
    # WHEN the printed curl lines are replayed
    created = _request(f"{base}/api/{user}/tasks", token, "POST", {"title": "Buy milk"})
    listed = _request(f"{base}/api/{user}/tasks?status=pending", token)
    # THEN the task was stored and comes back in the list
    assert created[0] == 201 and created[2]["title"] == "Buy milk"
    assert created[1]["location"] == f"/api/{user}/tasks/{created[2]['id']}"
    assert listed[0] == 200 and created[2] in listed[2]


def test_health_and_docs_need_no_token(gateway: tuple[str, str]) -> None:
    base, _ = gateway
    assert _request(f"{base}/health")[0::2] == (200, {"status": "ok", "database": "ok"})
    status, _, document = _request(f"{base}/openapi.json")
    assert status == 200 and "/api/{user_id}/tasks/{task_id}/complete" in document["paths"]


def test_requests_without_a_token_or_to_unknown_routes_are_refused(
    gateway: tuple[str, str],
) -> None:
    base, _ = gateway
    assert _request(f"{base}/api/{local_gateway.DEV_USER}/tasks")[0] == 401
    assert _request(f"{base}/nowhere")[0] == 404
