"""CORS on the local gateway, as the deployed HTTP API answers it (serverless.yml's settings)."""

from __future__ import annotations

import pytest

from infra.local.gateway.cors import CorsConfig, cors_config
from infra.serverless.function_env import variables
from tests.support.gateway import RunningGateway, call

FRONTEND = "http://localhost:3000"  # FRONTEND_ORIGIN's default
ASK = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization"}


def _deployed(env: dict[str, str]) -> CorsConfig:
    found = cors_config(variables("dev", env))
    assert found is not None
    return found


def test_the_preflight_of_the_configured_origin_is_granted(gateway: RunningGateway) -> None:
    # GIVEN the frontend's origin asking to POST with an Authorization header
    # WHEN it preflights the task collection
    answer = call(gateway.tasks, "OPTIONS", headers={"Origin": FRONTEND, **ASK})
    # THEN API Gateway's preflight answer: 204, no body, and the configured grants
    deployed = _deployed({})
    assert (answer.status, answer.body) == (204, None)
    assert answer.headers["access-control-allow-origin"] == FRONTEND
    assert answer.headers["access-control-allow-methods"] == ",".join(deployed.allowed_methods)
    assert answer.headers["access-control-allow-headers"] == ",".join(deployed.allowed_headers)
    assert answer.headers["access-control-max-age"] == "600"
    assert answer.headers["vary"] == "Origin"
    # AND no function was invoked for it
    assert gateway.invocations.calls == []


@pytest.mark.parametrize(
    ("origin", "asked"),
    [
        ("http://localhost:3001", ASK),
        ("http://127.0.0.1:3000", ASK),
        (FRONTEND, {**ASK, "Access-Control-Request-Headers": "authorization,x-secret"}),
        (FRONTEND, {**ASK, "Access-Control-Request-Method": "TRACE"}),
    ],
)
def test_a_preflight_outside_the_configuration_gets_no_grant(
    gateway: RunningGateway, origin: str, asked: dict[str, str]
) -> None:
    # GIVEN / WHEN a preflight from another origin, or for a header or method not allowed
    answer = call(gateway.tasks, "OPTIONS", headers={"Origin": origin, **asked})
    # THEN still 204, but with no Access-Control-Allow-* header: the browser refuses
    assert answer.status == 204
    assert not [name for name in answer.headers if name.startswith("access-control-")]


def test_responses_to_the_configured_origin_expose_the_paging_headers(
    gateway: RunningGateway,
) -> None:
    # GIVEN / WHEN the frontend's origin lists tasks, and another origin does the same
    mine = call(gateway.tasks, headers={"Origin": FRONTEND, **gateway.auth()})
    other = call(gateway.tasks, headers={"Origin": "http://evil.test", **gateway.auth()})
    # THEN only the configured origin is allowed to read the answer, Link and
    # X-Total-Count included; both answers vary by Origin
    assert mine.status == other.status == 200
    assert mine.headers["access-control-allow-origin"] == FRONTEND
    exposed = mine.headers["access-control-expose-headers"].split(",")
    assert {"Link", "X-Total-Count", "Location"} <= set(exposed)
    assert "access-control-allow-origin" not in other.headers
    assert mine.headers["vary"] == other.headers["vary"] == "Origin"


def test_an_options_request_that_is_no_preflight_is_routed_like_any_other(
    gateway: RunningGateway,
) -> None:
    # GIVEN / WHEN OPTIONS without Access-Control-Request-Method (no route has OPTIONS)
    answer = call(gateway.tasks, "OPTIONS", headers={"Origin": FRONTEND})
    # THEN API Gateway's 404, with the origin's CORS headers
    assert (answer.status, answer.body) == (404, {"message": "Not Found"})
    assert answer.headers["access-control-allow-origin"] == FRONTEND


def test_frontend_origin_sets_the_allowed_origin() -> None:
    # GIVEN / WHEN the configuration is read with and without FRONTEND_ORIGIN
    default = _deployed({})
    set_ = _deployed({"FRONTEND_ORIGIN": "https://app.example.com"})
    # THEN the default is the Next.js dev server; the variable replaces it
    assert default.allowed_origins == (FRONTEND,)
    assert set_.allows_origin("https://app.example.com") and not set_.allows_origin(FRONTEND)


@pytest.mark.parametrize(
    ("allowed", "origin", "expected"),
    [
        ("*", "https://any.example", True),
        ("https://*", "https://any.example", True),
        ("https://*", "http://any.example", False),
        ("https://*.example.com", "https://app.example.com", True),
        ("https://*.example.com", "https://example.com.evil.test", False),
        ("http://localhost:3000", "http://localhost:30000", False),
    ],
)
def test_origin_wildcards_match_as_api_gateway_documents(
    allowed: str, origin: str, expected: bool
) -> None:
    # GIVEN one allowed origin / WHEN an origin is checked / THEN it matches or not
    config = CorsConfig((allowed,), ("Authorization",), ("GET",))
    assert config.allows_origin(origin) is expected
