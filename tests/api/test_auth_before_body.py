"""401 and 403 come before anything about the body: whatever it is, it is never read first."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from shared.api import auth
from shared.core.settings import Settings
from tests.support.client import Client, User
from tests.support.events import Reply
from tests.support.routes import SAMPLE_BODIES, HttpRoute, handler_of, sample, task_routes

# Every task route that changes data, and those of them that take a body: from serverless.yml.
WRITE_ROUTES = {route.key: route for route in task_routes() if route.method != "GET"}
BODY_ROUTES = {key: route for key, route in WRITE_ROUTES.items() if route.method in SAMPLE_BODIES}
JSON = "application/json"
# (body, Content-Type, what the owner herself is answered: status and code)
ODD_BODIES: dict[str, tuple[str | bytes, str, int, str]] = {
    "not UTF-8": (b'{"title": "caf\xe9"}', JSON, 400, "BODY_NOT_READABLE"),
    "nested past the recursion limit": ("[" * 100_000, JSON, 400, "BODY_NOT_READABLE"),
    "integer of 5000 digits": ('{"title": ' + "9" * 5000 + "}", JSON, 400, "BODY_NOT_READABLE"),
    "malformed JSON": ("{oops", JSON, 422, "VALIDATION_FAILED"),
    "schema-invalid": ("[1, 2]", JSON, 422, "VALIDATION_FAILED"),
    "not declared JSON": ('{"title": "x"}', "text/plain", 415, "UNSUPPORTED_MEDIA_TYPE"),
}
# Who calls the owner's path: (token maker, expected status and code)
CALLERS: dict[str, tuple[Callable[[User, User], str | None], int, str]] = {
    "no token": (lambda owner, other: None, 401, "MISSING_TOKEN"),
    "a bad token": (lambda owner, other: "a.b.c", 401, "INVALID_TOKEN"),
    "another user's token": (lambda owner, other: other.token, 403, "FORBIDDEN"),
}


def _send(client: Client, route: HttpRoute, path_owner: User, token: str | None, odd: str) -> Reply:
    body, content_type, _, _ = ODD_BODIES[odd]
    headers = {"Content-Type": content_type}
    path, _ = sample(route, path_owner.id)
    return client(handler_of(route), route.method, path, token=token, body=body, headers=headers)


@pytest.mark.parametrize("odd", list(ODD_BODIES))
@pytest.mark.parametrize("route", list(BODY_ROUTES.values()), ids=list(BODY_ROUTES))
def test_the_owner_is_told_what_is_wrong_with_each_odd_body(
    client: Client, alice: User, route: HttpRoute, odd: str
) -> None:
    # GIVEN alice's own path and her valid token, and a body that cannot be used
    _, _, status, code = ODD_BODIES[odd]
    # WHEN she sends it
    reply = _send(client, route, alice, alice.token, odd)
    # THEN the body's problem is reported (so the refusals below are not about the body)
    assert (reply.status, reply.json()["code"]) == (status, code), reply.text


@pytest.mark.parametrize("caller", list(CALLERS))
@pytest.mark.parametrize("odd", list(ODD_BODIES))
@pytest.mark.parametrize("route", list(WRITE_ROUTES.values()), ids=list(WRITE_ROUTES))
def test_a_caller_who_may_not_write_is_refused_before_the_body_is_read(
    client: Client, alice: User, bob: User, route: HttpRoute, odd: str, caller: str
) -> None:
    # GIVEN a request for alice's data without her valid token, with an odd body
    make_token, status, code = CALLERS[caller]
    # WHEN it reaches a write route
    reply = _send(client, route, alice, make_token(alice, bob), odd)
    # THEN it is refused for who sent it, saying nothing about the body
    assert (reply.status, reply.json()["code"]) == (status, code), reply.text
    if status == 401:
        assert reply.headers["www-authenticate"] == "Bearer"


def test_a_request_authenticates_its_token_once(
    client: Client, alice: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a count of token verifications
    calls: list[str | None] = []
    verify = auth.authenticate

    def counting(authorization: str | None, settings: Settings) -> str:
        calls.append(authorization)
        return verify(authorization, settings)

    monkeypatch.setattr(auth, "authenticate", counting)
    # WHEN alice creates a task
    client.create(alice, "counted")
    # THEN her token was verified exactly once for the whole request
    assert calls == [f"Bearer {alice.token}"]
