"""CORS on the local gateway, as the deployed HTTP API answers it (serverless.yml's settings)."""

from __future__ import annotations

import os

import pytest

from infra.local.gateway.cors import CorsConfig, cors_config
from infra.serverless.function_env import variables
from infra.serverless.origins import OriginError
from tests.support.commands import run_module
from tests.support.gateway import GATEWAY_ENV, RunningGateway, call

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


@pytest.mark.parametrize(
    ("origin", "asked", "reason"),
    [
        ("http://localhost:3001", ASK, "origin 'http://localhost:3001' not allowed"),
        (FRONTEND, {**ASK, "Access-Control-Request-Method": "TRACE"}, "method 'TRACE' not allowed"),
        (
            FRONTEND,
            {**ASK, "Access-Control-Request-Headers": "authorization,x-secret"},
            "header 'x-secret' not allowed (Authorization, Content-Type, Idempotency-Key)",
        ),
    ],
)
def test_a_refused_preflight_is_logged_with_the_reason(
    gateway: RunningGateway, origin: str, asked: dict[str, str], reason: str
) -> None:
    # GIVEN / WHEN a preflight the configuration refuses (the browser only says "CORS error")
    call(gateway.tasks, "OPTIONS", headers={"Origin": origin, **asked})
    # THEN the gateway's log line for it says what was refused
    [line] = [line for line in gateway.log if line.startswith("gateway: OPTIONS")]
    assert f"-> 204 (CORS preflight refused: {reason}" in line


def test_a_granted_preflight_is_logged_as_such(gateway: RunningGateway) -> None:
    # GIVEN / WHEN the frontend's preflight
    call(gateway.tasks, "OPTIONS", headers={"Origin": FRONTEND, **ASK})
    # THEN the log names it without a refusal
    [line] = [line for line in gateway.log if line.startswith("gateway: OPTIONS")]
    assert "-> 204 (CORS preflight, " in line


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


def test_frontend_origin_takes_several_origins_as_people_paste_them() -> None:
    # GIVEN / WHEN FRONTEND_ORIGIN holds two origins, one with an address bar's slash
    both = _deployed({"FRONTEND_ORIGIN": "http://localhost:3000/, https://App.Example.com"})
    # THEN both are allowed, each as a browser sends it
    assert both.allowed_origins == (FRONTEND, "https://app.example.com")
    assert both.allows_origin(FRONTEND) and both.allows_origin("https://app.example.com")


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("http://localhost:3000/app", "it has a path, query or fragment ('/app')"),
        ("https://app.example.com/?x=1", "it has a path, query or fragment ('/?x=1')"),
        ("https://app.example.com#top", "it has a path, query or fragment ('#top')"),
        ("localhost:3000", "no scheme://"),
        ("ftp://app.example.com", "the scheme is ftp, not http or https"),
        ("http://localhost:3000, http://user@evil.test", "'user@evil.test' is not host[:port]"),
        ("http://localhost:99999", "'localhost:99999' is not host[:port]"),
    ],
)
def test_a_frontend_origin_that_is_not_an_origin_is_refused(value: str, why: str) -> None:
    # GIVEN / WHEN the configuration is read with a FRONTEND_ORIGIN no browser ever sends
    with pytest.raises(OriginError) as refused:
        _deployed({"FRONTEND_ORIGIN": value})
    # THEN it is refused, naming the variable, the bad entry, why, and what an origin is
    message = str(refused.value)
    assert message.startswith("FRONTEND_ORIGIN: '")
    assert f"is not an origin: {why}; an origin is scheme://host[:port]" in message


def test_an_empty_frontend_origin_is_refused() -> None:
    # GIVEN / WHEN FRONTEND_ORIGIN is set to nothing (rather than unset)
    with pytest.raises(OriginError) as refused:
        _deployed({"FRONTEND_ORIGIN": " "})
    # THEN it is refused, pointing at the default
    assert str(refused.value).startswith("FRONTEND_ORIGIN is set but empty: unset it")


def test_make_run_stops_at_start_on_a_bad_frontend_origin() -> None:
    # GIVEN the gateway's start-up check, as `make run` runs it before anything else
    env = {k: v for k, v in os.environ.items() if k not in GATEWAY_ENV}
    env["FRONTEND_ORIGIN"] = "http://localhost:3000/tasks"
    # WHEN it runs
    result = run_module("infra.local.gateway", "--check", env=env)
    # THEN it fails with one line naming the variable: no traceback
    assert result.returncode == 1
    assert result.stderr.startswith(
        "local gateway: FRONTEND_ORIGIN: 'http://localhost:3000/tasks' is not an origin"
    )
    assert "Traceback" not in result.stderr


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
