"""Key set outages and forged kids as a user meets them: API Gateway events through the task
handlers, tokens checked against the loopback JWKS server, the clock moved by the test."""

from __future__ import annotations

import pytest

from functions import list_tasks
from shared.api import auth
from shared.api.key_set import STALE_METRIC
from tests.support.client import Client, Secrets, User
from tests.support.clock import MovableClock
from tests.support.events import Reply
from tests.support.jwks_server import JwksServer
from tests.support.output import Output
from tests.support.resets import new_container
from tests.support.tokens import (
    SECRET,
    SigningKey,
    better_auth_id,
    claims,
    hs256,
    new_key,
    sign,
)

HOUR = 3600.0


def _user(secrets: Secrets, jwks_server: JwksServer, key: SigningKey, clock: MovableClock) -> User:
    """A fresh Better Auth user, with a token signed by ``key`` and issued at the clock's now."""
    user_id = better_auth_id()
    payload = claims(jwks_server.origin, now=clock.time(), sub=user_id, id=user_id)
    return User(user_id, secrets.add(sign(key, payload)))


def _list(client: Client, user: User, token: str | None = None) -> Reply:
    """The user's task list, with their token or another one."""
    return client(list_tasks.handler, "GET", user.tasks, token=token or user.token)


def _forged(secrets: Secrets, jwks_server: JwksServer, clock: MovableClock) -> str:
    """An unauthenticated caller's token: a made-up kid and a key nobody published."""
    return secrets.add(sign(new_key(), claims(jwks_server.origin, now=clock.time())))


def test_an_auth_server_outage_of_hours_does_not_take_the_api_down(
    client: Client,
    secrets: Secrets,
    jwks_server: JwksServer,
    signing_key: SigningKey,
    clock: MovableClock,
    output: Output,
) -> None:
    # GIVEN a warm container that has verified a token, then the JWKS endpoint failing
    assert _list(client, _user(secrets, jwks_server, signing_key, clock)).status == 200
    jwks_server.status, jwks_server.body = 500, b'{"error":"down"}'
    # WHEN three hours later a user lists their tasks
    clock.advance(3 * HOUR)
    reply = _list(client, _user(secrets, jwks_server, signing_key, clock))
    # THEN the key the container holds verifies the token
    assert reply.status == 200, reply.text
    # AND the operators are told: a warning naming the set's age, and an AuthKeysStale count
    [warning] = [r for r in output.logs() if r["message"].startswith("auth key set refresh")]
    assert (warning["level"], warning["key_set_age_seconds"]) == ("WARNING", 3 * 3600)
    assert warning["max_stale_seconds"] == 6 * 3600
    [blob] = [m for m in output.metrics() if STALE_METRIC in m]
    assert blob[STALE_METRIC] == [1.0]
    assert {"Name": STALE_METRIC, "Unit": "Count"} in blob["_aws"]["CloudWatchMetrics"][0][
        "Metrics"
    ]


def test_past_the_stale_limit_an_outage_is_a_503_with_retry_after(
    client: Client,
    secrets: Secrets,
    jwks_server: JwksServer,
    signing_key: SigningKey,
    clock: MovableClock,
) -> None:
    # GIVEN a warm container, then the JWKS endpoint failing for six hours (the default limit)
    assert _list(client, _user(secrets, jwks_server, signing_key, clock)).status == 200
    jwks_server.status, jwks_server.body = 500, b'{"error":"down"}'
    clock.advance(6 * HOUR)
    # WHEN a user lists their tasks
    reply = _list(client, _user(secrets, jwks_server, signing_key, clock))
    # THEN it is a 503 to retry later, not a 401 that would sign them out
    assert (reply.status, reply.json()["code"]) == (503, "AUTH_KEYS_UNAVAILABLE")
    assert reply.headers["retry-after"] == "5"
    assert "www-authenticate" not in reply.headers


def test_a_rotated_key_works_on_its_first_request_a_second_after_a_forged_kid(
    client: Client,
    secrets: Secrets,
    jwks_server: JwksServer,
    signing_key: SigningKey,
    clock: MovableClock,
) -> None:
    # GIVEN a warm container, and a caller who never logged in sending a made-up kid
    alice = _user(secrets, jwks_server, signing_key, clock)
    assert _list(client, alice).status == 200
    forged = _list(client, alice, _forged(secrets, jwks_server, clock))
    assert (forged.status, forged.json()["code"]) == (401, "INVALID_TOKEN")
    # WHEN a second later the auth server rotates its key and bob signs in with the new one
    clock.advance(1)
    rotated = new_key()
    jwks_server.publish(signing_key, rotated)
    bob = _user(secrets, jwks_server, rotated, clock)
    reply = _list(client, bob)
    # THEN bob's first request is served
    assert reply.status == 200, reply.text


def test_when_forged_kids_spent_the_refetches_a_new_key_gets_503_then_works(
    client: Client,
    secrets: Secrets,
    jwks_server: JwksServer,
    signing_key: SigningKey,
    clock: MovableClock,
) -> None:
    # GIVEN a warm container whose refetch allowance forged kids have just spent
    alice = _user(secrets, jwks_server, signing_key, clock)
    assert _list(client, alice).status == 200
    for _ in range(auth.JWKS_FETCH_BURST):
        assert _list(client, alice, _forged(secrets, jwks_server, clock)).status == 401
    # WHEN the auth server rotates and bob's token carries the new kid
    rotated = new_key()
    jwks_server.publish(signing_key, rotated)
    bob = _user(secrets, jwks_server, rotated, clock)
    refused = _list(client, bob)
    # THEN he is told to retry in 10 s (a 503, not a 401), and then he is served
    assert (refused.status, refused.json()["code"]) == (503, "AUTH_KEYS_REFRESHING")
    assert refused.headers["retry-after"] == "10"
    assert "www-authenticate" not in refused.headers
    clock.advance(int(refused.headers["retry-after"]))
    assert _list(client, bob).status == 200


@pytest.mark.parametrize("claim", ["exp", "nbf"])
def test_hs256_mode_answers_a_string_date_with_401_invalid_token(
    client: Client, secrets: Secrets, fresh_settings: pytest.MonkeyPatch, claim: str
) -> None:
    # GIVEN shared-secret mode, and a token signed with the secret whose date is a string
    secrets.add(SECRET)
    fresh_settings.delenv("BETTER_AUTH_URL")
    fresh_settings.setenv("BETTER_AUTH_SECRET", SECRET)
    new_container()
    user_id = better_auth_id()
    payload = claims("", drop=("iss", "aud"), sub=user_id)
    payload[claim] = {"exp": "9999999999", "nbf": "1"}[claim]
    user = User(user_id, secrets.add(hs256(payload)))
    # WHEN the user lists their tasks
    reply = _list(client, user)
    # THEN the token is refused with the stable code of an invalid token
    assert (reply.status, reply.code, reply.detail) == (
        401,
        "INVALID_TOKEN",
        "token has an invalid date claim",
    )
