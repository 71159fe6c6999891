"""401 for every kind of bad token, 403 for someone else's path, in both auth modes."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable

import pytest

from functions import create_task, delete_task, get_task, list_tasks
from tests.support.client import Client, Tokens, User
from tests.support.events import Reply
from tests.support.jwks_server import KeyServer
from tests.support.routes import HttpRoute, handler_of, sample, task_routes
from tests.support.tokens import SECRET, b64url, claims, forge, hs256, new_key, sign

EVERY_ROUTE = pytest.mark.parametrize("route", task_routes(), ids=lambda route: route.key)
BODY_ROUTES = [route for route in task_routes() if sample(route, "someone")[1] is not None]


def _call(client: Client, route: HttpRoute, user_id: str, token: str | None = None) -> Reply:
    path, body = sample(route, user_id)
    return client(handler_of(route), route.method, path, token=token, json_body=body)


@EVERY_ROUTE
def test_every_task_route_answers_401_without_a_token(client: Client, route: HttpRoute) -> None:
    # GIVEN a request with no Authorization header
    # WHEN it reaches any task route
    reply = _call(client, route, "someone")
    # THEN it is refused as unauthenticated, naming the scheme
    assert (reply.status, reply.detail) == (401, "missing bearer token")
    assert reply.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("route", BODY_ROUTES, ids=lambda route: route.key)
@pytest.mark.parametrize("token", [None, "not-a-jwt"], ids=["no token", "bad token"])
def test_401_comes_before_a_malformed_json_body(
    client: Client, route: HttpRoute, token: str | None
) -> None:
    # GIVEN a body that is not JSON, declared as JSON, and no valid token
    path, _ = sample(route, "someone")
    headers = {"Content-Type": "application/json"}
    # WHEN it reaches a route that takes a body
    reply = client(
        handler_of(route), route.method, path, token=token, body="{oops", headers=headers
    )
    # THEN the caller learns it is not authenticated, not what the body should look like
    assert reply.status == 401 and reply.headers["www-authenticate"] == "Bearer"


@EVERY_ROUTE
def test_every_task_route_answers_403_for_another_users_path(
    client: Client, alice: User, bob: User, route: HttpRoute
) -> None:
    # GIVEN alice's valid token
    # WHEN she uses it on bob's path
    reply = _call(client, route, bob.id, token=alice.token)
    # THEN she is authenticated but not allowed
    assert reply.status == 403
    assert reply.detail == "not allowed to access another user's data"


def _expired(tokens: Tokens, user: str) -> str:
    past = int(time.time()) - 3600
    return tokens.eddsa(user, iat=past - 900, exp=past)


def _foreign_key_same_kid(tokens: Tokens, user: str) -> str:
    impostor = new_key(tokens.server.key.kid)
    return tokens.eddsa(user, key=impostor)


def _unknown_kid(tokens: Tokens, user: str) -> str:
    return tokens.eddsa(user, key=new_key())


def _alg_none(tokens: Tokens, user: str) -> str:
    header = {"alg": "none", "kid": tokens.server.key.kid}
    return tokens.raw(forge(header, claims(tokens.server.origin, sub=user), None))


def _alg_none_with_a_signature(tokens: Tokens, user: str) -> str:
    return tokens.raw(_alg_none(tokens, user) + "c2lnbmF0dXJl")


def _hs256_with_the_public_key(tokens: Tokens, user: str) -> str:
    header = {"alg": "HS256", "kid": tokens.server.key.kid}
    payload = claims(tokens.server.origin, sub=user)
    return tokens.raw(forge(header, payload, tokens.server.key.public_pem()))


def _hs256_shared_secret(tokens: Tokens, user: str) -> str:
    return tokens.raw(hs256(claims(tokens.server.origin, sub=user)))


def _tampered_payload(tokens: Tokens, user: str) -> str:
    head, _, signature = tokens.eddsa("someone-else").split(".")
    body = b64url(json.dumps(claims(tokens.server.origin, sub=user)).encode())
    return tokens.raw(f"{head}.{body}.{signature}")


def _wrong_issuer(tokens: Tokens, user: str) -> str:
    return tokens.eddsa(user, iss="https://evil.example.com")


def _wrong_audience(tokens: Tokens, user: str) -> str:
    return tokens.eddsa(user, aud="https://other-app.example.com")


def _no_subject(tokens: Tokens, user: str) -> str:
    payload = claims(tokens.server.origin, drop=("sub",), id=user)
    return tokens.raw(sign(tokens.server.key, payload))


def _no_expiry(tokens: Tokens, user: str) -> str:
    payload = claims(tokens.server.origin, drop=("exp",), sub=user)
    return tokens.raw(sign(tokens.server.key, payload))


def _not_yet_valid(tokens: Tokens, user: str) -> str:
    return tokens.eddsa(user, nbf=int(time.time()) + 3600)


BAD_TOKENS: dict[str, tuple[Callable[[Tokens, str], str], str]] = {
    "expired": (_expired, "token expired"),
    "wrongly signed (same kid)": (_foreign_key_same_kid, "invalid token"),
    "unknown key id": (_unknown_kid, "token signed by an unknown key"),
    "tampered payload": (_tampered_payload, "invalid token"),
    "alg none": (_alg_none, "malformed token"),
    "alg none with a signature": (_alg_none_with_a_signature, "token algorithm not allowed"),
    "HS256 signed with the public key": (_hs256_with_the_public_key, "token algorithm not allowed"),
    "HS256 shared secret in JWKS mode": (_hs256_shared_secret, "token algorithm not allowed"),
    "wrong issuer": (_wrong_issuer, "token issuer not accepted"),
    "wrong audience": (_wrong_audience, "token audience not accepted"),
    "no subject": (_no_subject, "token is missing a required claim"),
    "no expiry": (_no_expiry, "token is missing a required claim"),
    "not yet valid": (_not_yet_valid, "token not yet valid"),
}


@pytest.mark.parametrize("case", list(BAD_TOKENS.values()), ids=list(BAD_TOKENS))
def test_a_bad_token_is_401_and_touches_nothing(
    client: Client, tokens: Tokens, alice: User, case: tuple[Callable[[Tokens, str], str], str]
) -> None:
    # GIVEN one of alice's tasks and a bad token naming alice
    make, detail = case
    task = client.create(alice, "guarded")
    token = make(tokens, alice.id)
    # WHEN the bad token is used to delete the task
    reply = client(delete_task.handler, "DELETE", alice.task(task["id"]), token=token)
    # THEN it is a 401 with a short reason, and the task still exists
    assert (reply.status, reply.detail) == (401, detail)
    assert reply.headers["www-authenticate"] == "Bearer"
    still = client(get_task.handler, "GET", alice.task(task["id"]), token=alice.token)
    assert (still.status, still.json()) == (200, task)


@pytest.mark.parametrize(
    ("authorization", "detail"),
    [
        ("", "missing bearer token"),
        ("Bearer", "expected 'Authorization: Bearer <token>'"),
        ("Bearer ", "expected 'Authorization: Bearer <token>'"),
        ("Basic YWxpY2U6c2VjcmV0", "expected 'Authorization: Bearer <token>'"),
        ("Bearer not-a-jwt", "malformed token"),
        ("Bearer a.b.c", "invalid token"),
        ("Bearer x.y.z extra", "expected 'Authorization: Bearer <token>'"),
        ("Bearer " + "a" * 9000, "authorization header too large"),
        ("Bearer é.é.é", "malformed token"),
    ],
    ids=[
        "empty",
        "scheme only",
        "scheme and space",
        "basic",
        "not a jwt",
        "garbage segments",
        "three parts",
        "oversized",
        "non-ascii",
    ],
)
def test_a_malformed_authorization_header_is_401(
    client: Client, alice: User, authorization: str, detail: str
) -> None:
    # GIVEN a malformed Authorization header
    headers = {"Authorization": authorization}
    # WHEN it is sent to alice's list
    reply = client(list_tasks.handler, "GET", alice.tasks, headers=headers)
    # THEN the request is unauthenticated
    assert (reply.status, reply.detail) == (401, detail)


def test_the_scheme_name_is_case_insensitive(client: Client, alice: User) -> None:
    # GIVEN alice's valid token behind a lower-case scheme name
    headers = {"Authorization": f"bearer {alice.token}"}
    # WHEN she lists her tasks
    reply = client(list_tasks.handler, "GET", alice.tasks, headers=headers)
    # THEN she is authenticated
    assert reply.status == 200


def test_401_comes_before_403_for_a_stranger_without_a_token(client: Client, alice: User) -> None:
    # GIVEN alice's path and no token at all
    # WHEN it is requested
    reply = client(get_task.handler, "GET", alice.task(1))
    # THEN the caller is told to authenticate, not that the path is someone else's
    assert reply.status == 401


def test_a_token_for_a_user_with_an_unusual_id_works_end_to_end(
    client: Client, tokens: Tokens
) -> None:
    # GIVEN a user whose id needs percent-encoding in a URL
    user = User("usér 用户+x", "")
    user.token = tokens.eddsa(user.id)
    encoded = "/api/us%C3%A9r%20%E7%94%A8%E6%88%B7%2Bx/tasks"
    # WHEN the user creates a task on the encoded path
    reply = client(create_task.handler, "POST", encoded, token=user.token, json_body={"title": "t"})
    # THEN the id is matched, stored as is, and the Location is percent-encoded again
    assert reply.status == 201, reply.text
    assert reply.json()["user_id"] == user.id
    assert reply.headers["location"] == f"{encoded}/{reply.json()['id']}"


def test_unreachable_key_set_is_503_with_retry_after(
    client: Client, key_server: KeyServer, alice: User
) -> None:
    # GIVEN the auth server's key set is down before any key was fetched
    key_server.stop()
    # WHEN alice calls the API
    reply = client(list_tasks.handler, "GET", alice.tasks, token=alice.token)
    # THEN our dependency failed, not her: 503, come back later
    assert (reply.status, reply.detail) == (503, "signing key set unavailable")
    assert reply.headers["retry-after"] == "5"


@pytest.mark.usefixtures("hs256_mode")
def test_hs256_mode_accepts_a_token_signed_with_the_shared_secret(
    client: Client, tokens: Tokens
) -> None:
    # GIVEN only BETTER_AUTH_SECRET is configured, and a user with an HS256 token
    user = User("hs-" + secrets.token_hex(8), "")
    user.token = tokens.hs256(user.id)
    # WHEN the user creates and then reads a task
    created = client(
        create_task.handler,
        "POST",
        user.tasks,
        token=user.token,
        json_body={"title": "shared secret"},
    )
    fetched = client(get_task.handler, "GET", user.task(created.json()["id"]), token=user.token)
    # THEN both succeed
    assert (created.status, fetched.status) == (201, 200)
    assert fetched.json() == created.json()


@pytest.mark.usefixtures("hs256_mode")
@pytest.mark.parametrize(
    "make",
    [
        lambda t, u: t.eddsa(u),
        lambda t, u: t.hs256(u, secret="another-secret-of-at-least-32-bytes!!"),
        lambda t, u: t.hs256(u, exp=int(time.time()) - 3600),
        lambda t, u: t.raw(forge({"alg": "none"}, claims("", sub=u), None)),
        lambda t, u: t.raw(forge({"alg": "HS512"}, claims("", sub=u), SECRET.encode())),
    ],
    ids=["EdDSA token", "other secret", "expired", "alg none", "HS512"],
)
def test_hs256_mode_rejects_other_tokens(
    client: Client, tokens: Tokens, alice: User, make: Callable[[Tokens, str], str]
) -> None:
    # GIVEN shared-secret mode and a token it must not accept
    token = make(tokens, alice.id)
    # WHEN it is used
    reply = client(list_tasks.handler, "GET", alice.tasks, token=token)
    # THEN it is a 401
    assert reply.status == 401
    assert reply.headers["www-authenticate"] == "Bearer"
