"""The JWKS client: caching across warm calls, key rotation, and the key set failing."""

from __future__ import annotations

import time

import pytest

from shared.api import auth
from shared.api.auth import authenticate
from shared.core.errors import AuthenticationError, KeySetUnavailable
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
    # GIVEN a warm container that has just fetched the old key set (default cool-down)
    config = settings(better_auth_url=jwks_server.origin)
    old_token = sign(signing_key, claims(jwks_server.origin))
    assert authenticate(bearer(old_token), config) == USER_ID
    # WHEN the auth server replaces its key with a new one under a new kid
    new = new_key()
    jwks_server.publish(new)
    new_user = authenticate(bearer(sign(new, claims(jwks_server.origin))), config)
    # THEN the new token verifies at once, and the old key is gone without another fetch
    assert new_user == USER_ID
    with pytest.raises(AuthenticationError, match="^token signed by an unknown key$"):
        authenticate(bearer(old_token), config)
    assert jwks_server.hits == 2


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


@pytest.mark.parametrize("iat", ["now", "future within leeway", "none"])
def test_unknown_kids_cannot_force_repeated_fetches(
    jwks_server: JwksServer, signing_key: SigningKey, iat: str
) -> None:
    # GIVEN a warm container with the default refetch cool-down
    config = settings(better_auth_url=jwks_server.origin)
    authenticate(bearer(sign(signing_key, claims(jwks_server.origin))), config)
    # WHEN a burst of tokens with made-up kids arrives, each claiming to be brand new
    issued = {"now": time.time(), "future within leeway": time.time() + auth.LEEWAY_SECONDS - 1}
    drop = ("iat",) if iat == "none" else ()
    for _ in range(50):
        payload = claims(jwks_server.origin, drop=drop, iat=int(issued.get(iat, 0)))
        with pytest.raises(AuthenticationError, match="unknown key"):
            authenticate(bearer(sign(new_key(), payload)), config)
    # THEN the key set was fetched once more, for the whole burst
    assert jwks_server.hits == 2


def test_unknown_kid_refetches_again_once_the_cooldown_has_passed(
    jwks_server: JwksServer, signing_key: SigningKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a short cool-down, and a burst of made-up kids that has just used it
    monkeypatch.setattr(auth, "JWKS_REFRESH_COOLDOWN_SECONDS", 0.2)
    config = settings(better_auth_url=jwks_server.origin)
    authenticate(bearer(sign(signing_key, claims(jwks_server.origin))), config)
    forged = [bearer(sign(new_key(), claims(jwks_server.origin))) for _ in range(20)]
    for token in forged:
        with pytest.raises(AuthenticationError, match="unknown key"):
            authenticate(token, config)
    # WHEN the cool-down passes and the same burst comes again
    time.sleep(0.3)
    for token in forged:
        with pytest.raises(AuthenticationError, match="unknown key"):
            authenticate(token, config)
    # THEN each burst cost one fetch
    assert jwks_server.hits == 1 + 2


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
    jwks_server: JwksServer, signing_key: SigningKey, monkeypatch: pytest.MonkeyPatch, warm_by: str
) -> None:
    # GIVEN a container that fetched the key set moments ago (the default cool-down in place)
    if warm_by == "a lifespan refresh":
        monkeypatch.setattr(auth, "JWKS_LIFESPAN_SECONDS", 0.2)
    config = settings(better_auth_url=jwks_server.origin)
    old_token = sign(signing_key, claims(jwks_server.origin))
    authenticate(bearer(old_token), config)
    if warm_by == "a lifespan refresh":
        time.sleep(0.3)
        authenticate(bearer(old_token), config)
    fetched = jwks_server.hits
    # WHEN the auth server rotates (keeping the old key) and signs a token with the new key
    rotated = new_key()
    jwks_server.publish(signing_key, rotated)
    new_token = sign(rotated, claims(jwks_server.origin))
    # THEN the new token's first request is accepted, after one refetch
    assert authenticate(bearer(new_token), config) == USER_ID
    assert jwks_server.hits == fetched + 1
    # AND both keys keep working from the cache
    assert {authenticate(bearer(t), config) for t in (old_token, new_token)} == {USER_ID}
    assert jwks_server.hits == fetched + 1


def test_key_set_is_refreshed_after_its_lifespan(
    jwks_server: JwksServer, signing_key: SigningKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a very short cache lifespan
    monkeypatch.setattr(auth, "JWKS_LIFESPAN_SECONDS", 0.05)
    config = settings(better_auth_url=jwks_server.origin)
    token = sign(signing_key, claims(jwks_server.origin))
    authenticate(bearer(token), config)
    # WHEN the lifespan passes and another request arrives
    time.sleep(0.1)
    authenticate(bearer(token), config)
    # THEN the key set was fetched again
    assert jwks_server.hits == 2


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


def test_cached_keys_survive_an_outage_within_their_lifespan(
    jwks_server: JwksServer, signing_key: SigningKey
) -> None:
    # GIVEN a warm container that has already fetched the key set
    config = settings(better_auth_url=jwks_server.origin)
    token = sign(signing_key, claims(jwks_server.origin))
    authenticate(bearer(token), config)
    # WHEN the auth server starts failing
    jwks_server.status, jwks_server.body = 500, b"{}"
    # THEN known keys still verify from the cache
    assert authenticate(bearer(token), config) == USER_ID
    assert jwks_server.hits == 1
