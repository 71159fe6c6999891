"""The JWKS client: caching across warm calls, key rotation, and the key set failing."""

from __future__ import annotations

import time

import pytest

from shared.api import auth
from shared.api.auth import authenticate
from shared.core.errors import AuthenticationError, KeySetUnavailable
from tests.support.clock import MovableClock
from tests.support.jwks_server import JwksServer
from tests.support.tokens import (
    USER_ID,
    SigningKey,
    bearer,
    claims,
    new_key,
    settings,
    sign,
    unused_loopback_url,
)


def test_key_set_is_fetched_once_across_many_calls(
    jwks_server: JwksServer, signing_key: SigningKey
) -> None:
    # GIVEN one warm container verifying many requests
    config = settings(better_auth_url=jwks_server.origin)
    tokens = [sign(signing_key, claims(jwks_server.origin)) for _ in range(25)]
    # WHEN every token is authenticated
    users = {authenticate(bearer(token), config) for token in tokens}
    # THEN all succeed and the key set was fetched exactly once
    assert users == {USER_ID}
    assert jwks_server.hits == 1


def test_equal_settings_objects_share_the_cached_key_set(
    jwks_server: JwksServer, signing_key: SigningKey
) -> None:
    # GIVEN two separately built but equal settings objects
    token = sign(signing_key, claims(jwks_server.origin))
    first = settings(better_auth_url=jwks_server.origin)
    second = settings(better_auth_url=jwks_server.origin)
    # WHEN each authenticates a request
    authenticate(bearer(token), first)
    authenticate(bearer(token), second)
    # THEN the key set is still fetched once (the cache is keyed by URL)
    assert jwks_server.hits == 1


def test_rotated_key_is_picked_up_and_removed_key_stops_working(
    jwks_server: JwksServer, signing_key: SigningKey
) -> None:
    # GIVEN a warm container that has just fetched the old key set
    config = settings(better_auth_url=jwks_server.origin)
    old_token = sign(signing_key, claims(jwks_server.origin))
    assert authenticate(bearer(old_token), config) == USER_ID
    # WHEN the auth server replaces its key with a new one under a new kid
    new = new_key()
    jwks_server.publish(new)
    new_user = authenticate(bearer(sign(new, claims(jwks_server.origin))), config)
    # THEN the new token verifies at once, after one refetch
    assert new_user == USER_ID
    assert jwks_server.hits == 2
    # AND the old key's tokens are refused: one refetch confirms its kid is gone, for all
    for _ in range(5):
        with pytest.raises(AuthenticationError, match="^token signed by an unknown key$"):
            authenticate(bearer(old_token), config)
    assert jwks_server.hits == 3


def test_old_key_keeps_working_while_still_published(
    jwks_server: JwksServer, signing_key: SigningKey
) -> None:
    # GIVEN Better Auth's rotation, which keeps old public keys in the set
    config = settings(better_auth_url=jwks_server.origin)
    old_token = sign(signing_key, claims(jwks_server.origin))
    authenticate(bearer(old_token), config)
    new = new_key()
    jwks_server.publish(signing_key, new)
    # WHEN tokens from both keys arrive
    new_user = authenticate(bearer(sign(new, claims(jwks_server.origin))), config)
    old_user = authenticate(bearer(old_token), config)
    # THEN both verify, with a single refetch
    assert new_user == old_user == USER_ID
    assert jwks_server.hits == 2


def test_a_token_older_than_the_fetched_set_never_costs_a_fetch(
    jwks_server: JwksServer, signing_key: SigningKey
) -> None:
    # GIVEN a warm container that fetched the key set just now
    config = settings(better_auth_url=jwks_server.origin)
    authenticate(bearer(sign(signing_key, claims(jwks_server.origin))), config)
    # WHEN tokens with unknown kids arrive that were issued well before that fetch
    old = int(time.time()) - 10 * auth.LEEWAY_SECONDS
    for _ in range(5):
        payload = claims(jwks_server.origin, iat=old)
        with pytest.raises(AuthenticationError, match="unknown key"):
            authenticate(bearer(sign(new_key(), payload)), config)
    # THEN none of them refetched: their key would have been in the set already
    assert jwks_server.hits == 1


@pytest.mark.parametrize("warm_by", ["its first fetch", "a lifespan refresh"])
def test_a_key_published_after_the_last_fetch_is_accepted_on_its_first_request(
    jwks_server: JwksServer, signing_key: SigningKey, clock: MovableClock, warm_by: str
) -> None:
    # GIVEN a container that fetched the key set moments ago
    config = settings(better_auth_url=jwks_server.origin)
    old_token = sign(signing_key, claims(jwks_server.origin))
    authenticate(bearer(old_token), config)
    if warm_by == "a lifespan refresh":
        clock.advance(auth.JWKS_LIFESPAN_SECONDS + 1)
        old_token = sign(signing_key, claims(jwks_server.origin, now=clock.time()))
        authenticate(bearer(old_token), config)
    fetched = jwks_server.hits
    # WHEN the auth server rotates (keeping the old key) and signs a token with the new key
    rotated = new_key()
    jwks_server.publish(signing_key, rotated)
    new_token = sign(rotated, claims(jwks_server.origin, now=clock.time()))
    # THEN the new token's first request is accepted, after one refetch
    assert authenticate(bearer(new_token), config) == USER_ID
    assert jwks_server.hits == fetched + 1
    # AND both keys keep working from the cache
    assert {authenticate(bearer(t), config) for t in (old_token, new_token)} == {USER_ID}
    assert jwks_server.hits == fetched + 1


def test_key_set_is_refreshed_after_its_lifespan(
    jwks_server: JwksServer, signing_key: SigningKey, clock: MovableClock
) -> None:
    # GIVEN a warm container
    config = settings(better_auth_url=jwks_server.origin)
    authenticate(bearer(sign(signing_key, claims(jwks_server.origin))), config)
    # WHEN requests arrive just before and just after the set's 5 minute lifespan
    clock.advance(auth.JWKS_LIFESPAN_SECONDS - 1)
    authenticate(bearer(sign(signing_key, claims(jwks_server.origin, now=clock.time()))), config)
    before = jwks_server.hits
    clock.advance(2)
    authenticate(bearer(sign(signing_key, claims(jwks_server.origin, now=clock.time()))), config)
    # THEN only the later one fetched the set again
    assert (before, jwks_server.hits) == (1, 2)


def test_unreachable_key_set_is_a_503_not_a_401(signing_key: SigningKey) -> None:
    # GIVEN a JWKS URL where nothing is listening
    config = settings(
        auth_jwks_url=unused_loopback_url(auth.JWKS_PATH),
        auth_issuer="https://auth.example.com",
        auth_audience="https://auth.example.com",
    )
    token = sign(signing_key, claims("https://auth.example.com"))
    # WHEN a valid-looking token is authenticated
    with pytest.raises(KeySetUnavailable) as caught:
        authenticate(bearer(token), config)
    # THEN the failure is ours (503), not the caller's
    assert caught.value.status_code == 503
    assert not isinstance(caught.value, AuthenticationError)


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (500, b'{"error":"boom"}'),
        (200, b"<html>not json</html>"),
        (200, b"[]"),
        (200, b'{"keys": []}'),
        (200, b'{"keys": [{"kty": "OKP", "crv": "Ed25519"}]}'),
    ],
)
def test_broken_key_set_is_a_503(
    jwks_server: JwksServer, signing_key: SigningKey, status: int, body: bytes
) -> None:
    # GIVEN an auth server answering with an error or an unusable document
    jwks_server.status, jwks_server.body = status, body
    config = settings(better_auth_url=jwks_server.origin)
    token = sign(signing_key, claims(jwks_server.origin))
    # WHEN / THEN verification reports the key set as unavailable
    with pytest.raises(KeySetUnavailable):
        authenticate(bearer(token), config)


def test_slow_key_set_times_out_as_a_503(
    jwks_server: JwksServer, signing_key: SigningKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN an auth server slower than the fetch timeout
    monkeypatch.setattr(auth, "JWKS_TIMEOUT_SECONDS", 0.2)
    jwks_server.delay = 1.0
    config = settings(better_auth_url=jwks_server.origin)
    token = sign(signing_key, claims(jwks_server.origin))
    # WHEN a token is authenticated
    started = time.monotonic()
    with pytest.raises(KeySetUnavailable):
        authenticate(bearer(token), config)
    # THEN it gives up at the timeout instead of hanging the request
    assert time.monotonic() - started < 0.9


def test_after_a_failed_fetch_the_next_waits_for_the_503s_retry_after(
    jwks_server: JwksServer, signing_key: SigningKey, clock: MovableClock
) -> None:
    # GIVEN a new container whose first fetch fails
    jwks_server.status, jwks_server.body = 500, b"{}"
    config = settings(better_auth_url=jwks_server.origin)
    token = bearer(sign(signing_key, claims(jwks_server.origin)))
    with pytest.raises(KeySetUnavailable) as caught:
        authenticate(token, config)
    # WHEN requests keep arriving until its Retry-After has passed, the server back meanwhile
    with pytest.raises(KeySetUnavailable):
        authenticate(token, config)
    jwks_server.status, jwks_server.body = 200, None
    clock.advance(caught.value.retry_after_seconds)
    # THEN the endpoint was not asked again before then, and is asked (and verifies) after
    assert jwks_server.hits == 1
    assert authenticate(token, config) == USER_ID
    assert jwks_server.hits == 2
