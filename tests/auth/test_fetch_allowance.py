"""Tokens with made-up kids: they cost the JWKS endpoint little, and never lock a new key out.

A kid the key set lacks refetches it from an allowance (shared/api/key_set.py): a few
fetches at once, then one more every few seconds. A spent allowance is a 503 with
Retry-After, never a 401 that would sign a user out; a kid a refetch did not find is
a 401 for a while without fetching again.
"""

from __future__ import annotations

import pytest

from shared.api import auth
from shared.api.auth import authenticate
from shared.core.errors import AuthenticationError, KeySetRefreshing
from tests.support.clock import MovableClock
from tests.support.jwks_server import JwksServer
from tests.support.tokens import USER_ID, SigningKey, bearer, claims, new_key, settings, sign

FORGED = "^token signed by an unknown key$"
FETCHES_PER_MINUTE = auth.JWKS_FETCH_BURST + 60 / auth.JWKS_FETCH_REFILL_SECONDS


def _forged(origin: str, clock: MovableClock) -> str:
    """A token signed by a key nobody published, under a fresh made-up kid, issued now."""
    return bearer(sign(new_key(), claims(origin, now=clock.time())))


def _warm(jwks_server: JwksServer, signing_key: SigningKey) -> None:
    """A container that verified a token, and so fetched the key set, just now."""
    token = sign(signing_key, claims(jwks_server.origin))
    assert authenticate(bearer(token), settings(better_auth_url=jwks_server.origin)) == USER_ID


FORGERIES = {
    "one forged kid": 1,
    "the same forged kid 20 times": 20,
}


@pytest.mark.parametrize("repeats", FORGERIES.values(), ids=FORGERIES.keys())
def test_a_rotated_key_is_accepted_on_its_first_try_right_after_a_forged_kid(
    jwks_server: JwksServer, signing_key: SigningKey, clock: MovableClock, repeats: int
) -> None:
    # GIVEN a warm container, and an unauthenticated caller's token with a made-up kid
    _warm(jwks_server, signing_key)
    config = settings(better_auth_url=jwks_server.origin)
    forged = _forged(jwks_server.origin, clock)
    for _ in range(repeats):
        with pytest.raises(AuthenticationError, match=FORGED):
            authenticate(forged, config)
    # WHEN a second later the auth server rotates and a user's token carries the new kid
    clock.advance(1)
    rotated = new_key()
    jwks_server.publish(signing_key, rotated)
    token = sign(rotated, claims(jwks_server.origin, now=clock.time()))
    # THEN it is accepted on its first try
    assert authenticate(bearer(token), config) == USER_ID
    # AND the forged kid cost one fetch however often it came, the new key one more
    assert jwks_server.hits == 1 + 1 + 1


@pytest.mark.parametrize("iat", ["now", "future within leeway", "none"])
def test_a_burst_of_forged_kids_spends_the_allowance_then_gets_503_not_401(
    jwks_server: JwksServer, signing_key: SigningKey, clock: MovableClock, iat: str
) -> None:
    # GIVEN a warm container
    _warm(jwks_server, signing_key)
    config = settings(better_auth_url=jwks_server.origin)
    issued = {"now": 0, "future within leeway": auth.LEEWAY_SECONDS - 1}
    drop = ("iat",) if iat == "none" else ()
    # WHEN 50 tokens with distinct made-up kids arrive at once, each claiming to be brand new
    refused: list[type[Exception]] = []
    for _ in range(50):
        payload = claims(jwks_server.origin, drop=drop, iat=int(clock.time()) + issued.get(iat, 0))
        with pytest.raises((AuthenticationError, KeySetRefreshing)) as caught:
            authenticate(bearer(sign(new_key(), payload)), config)
        refused.append(type(caught.value))
    # THEN the allowance's burst went to the endpoint, each a 401; the rest were 503s
    burst = auth.JWKS_FETCH_BURST
    assert refused == [AuthenticationError] * burst + [KeySetRefreshing] * (50 - burst)
    assert jwks_server.hits == 1 + burst


def test_a_spent_allowance_tells_the_client_when_to_retry_and_then_lets_a_new_key_in(
    jwks_server: JwksServer, signing_key: SigningKey, clock: MovableClock
) -> None:
    # GIVEN a warm container whose allowance forged kids have just spent
    _warm(jwks_server, signing_key)
    config = settings(better_auth_url=jwks_server.origin)
    for _ in range(auth.JWKS_FETCH_BURST):
        with pytest.raises(AuthenticationError, match=FORGED):
            authenticate(_forged(jwks_server.origin, clock), config)
    # WHEN the auth server rotates and a user's token carries the new kid
    rotated = new_key()
    jwks_server.publish(signing_key, rotated)
    token = bearer(sign(rotated, claims(jwks_server.origin, now=clock.time())))
    with pytest.raises(KeySetRefreshing) as caught:
        authenticate(token, config)
    # THEN it is a 503 (not a 401), and after its Retry-After the same token is accepted
    assert (caught.value.status_code, caught.value.code) == (503, "AUTH_KEYS_REFRESHING")
    clock.advance(caught.value.retry_after_seconds)
    assert authenticate(token, config) == USER_ID


def test_a_flood_of_forged_kids_costs_a_few_fetches_per_minute(
    jwks_server: JwksServer, signing_key: SigningKey, clock: MovableClock
) -> None:
    # GIVEN a warm container
    _warm(jwks_server, signing_key)
    config = settings(better_auth_url=jwks_server.origin)
    # WHEN a new made-up kid arrives four times a second for three minutes
    fetched_at: list[float] = []
    for tick in range(3 * 60 * 4):
        before = jwks_server.hits
        with pytest.raises((AuthenticationError, KeySetRefreshing)):
            authenticate(_forged(jwks_server.origin, clock), config)
        fetched_at += [tick / 4] * (jwks_server.hits - before)
        clock.advance(0.25)
    # THEN no minute saw more fetches than the allowance gives (its burst, then one per refill)
    busiest = max(sum(t <= u <= t + 60 for u in fetched_at) for t in fetched_at)
    assert busiest == FETCHES_PER_MINUTE == 9  # as docs/design.md: Signing keys says
    # AND once the burst is spent, the endpoint sees one fetch per refill
    last_minute = [t for t in fetched_at if t >= 120]
    assert len(last_minute) == 60 / auth.JWKS_FETCH_REFILL_SECONDS


def test_a_kid_found_missing_is_worth_a_fetch_again_after_a_minute(
    jwks_server: JwksServer, signing_key: SigningKey, clock: MovableClock
) -> None:
    # GIVEN a made-up kid that a refetch has just not found
    _warm(jwks_server, signing_key)
    config = settings(better_auth_url=jwks_server.origin)
    stranger = new_key()
    with pytest.raises(AuthenticationError, match=FORGED):
        authenticate(bearer(sign(stranger, claims(jwks_server.origin))), config)
    # WHEN its key is published after all, and its tokens keep coming
    jwks_server.publish(signing_key, stranger)
    clock.advance(auth.JWKS_FORGET_UNKNOWN_SECONDS - 1)
    within = bearer(sign(stranger, claims(jwks_server.origin, now=clock.time())))
    with pytest.raises(AuthenticationError, match=FORGED):
        authenticate(within, config)
    clock.advance(1)
    after = bearer(sign(stranger, claims(jwks_server.origin, now=clock.time())))
    # THEN within the minute it costs nothing; after it, one fetch finds the key
    assert jwks_server.hits == 2
    assert authenticate(after, config) == USER_ID
    assert jwks_server.hits == 3
