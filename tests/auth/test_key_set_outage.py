"""The auth server's JWKS endpoint failing: the keys a container holds keep verifying tokens,
up to AUTH_KEYS_MAX_STALE_SECONDS (default 6 h); only an unknown kid needs the endpoint."""

from __future__ import annotations

import pytest

from shared.api import auth
from shared.api.auth import authenticate
from shared.core.errors import AuthenticationError, KeySetUnavailable
from shared.core.settings import Settings
from tests.support.clock import MovableClock
from tests.support.jwks_server import JwksServer
from tests.support.tokens import USER_ID, SigningKey, bearer, claims, new_key, settings, sign

HOUR = 3600.0
DEFAULT_MAX_STALE = Settings.model_fields["auth_keys_max_stale_seconds"].default


def _token(jwks_server: JwksServer, key: SigningKey, clock: MovableClock) -> str:
    """A user's token signed by ``key``, issued at the clock's now."""
    return bearer(sign(key, claims(jwks_server.origin, now=clock.time())))


def _warm_then_fail(jwks_server: JwksServer, signing_key: SigningKey, config: Settings) -> None:
    """A container that fetched the key set, then an auth server that answers 500."""
    assert authenticate(bearer(sign(signing_key, claims(jwks_server.origin))), config) == USER_ID
    jwks_server.status, jwks_server.body = 500, b'{"error":"down"}'


@pytest.mark.parametrize("age_hours", [0.1, 1, 5.9])
def test_held_keys_verify_through_an_outage_of_hours(
    jwks_server: JwksServer, signing_key: SigningKey, clock: MovableClock, age_hours: float
) -> None:
    # GIVEN a warm container, then the auth server failing
    config = settings(better_auth_url=jwks_server.origin)
    _warm_then_fail(jwks_server, signing_key, config)
    # WHEN its key set is far past its 5 minute lifespan and a user's token arrives
    clock.advance(age_hours * HOUR)
    user = authenticate(_token(jwks_server, signing_key, clock), config)
    # THEN the token verifies with the key held, after one failed refresh
    assert user == USER_ID
    assert jwks_server.hits == 2


def test_a_failing_endpoint_is_asked_once_a_minute_not_on_every_request(
    jwks_server: JwksServer, signing_key: SigningKey, clock: MovableClock
) -> None:
    # GIVEN a container verifying with stale keys because its refresh just failed
    config = settings(better_auth_url=jwks_server.origin)
    _warm_then_fail(jwks_server, signing_key, config)
    clock.advance(HOUR)
    authenticate(_token(jwks_server, signing_key, clock), config)
    # WHEN requests keep coming every second for two minutes
    for _ in range(120):
        clock.advance(1)
        assert authenticate(_token(jwks_server, signing_key, clock), config) == USER_ID
    # THEN the endpoint was asked once per stale retry interval (a minute), not per request
    assert auth.JWKS_STALE_RETRY_SECONDS == 60
    assert jwks_server.hits == 1 + 1 + 2


def test_held_keys_stop_verifying_at_the_default_limit(
    jwks_server: JwksServer, signing_key: SigningKey, clock: MovableClock
) -> None:
    # GIVEN a warm container, then the auth server failing
    config = settings(better_auth_url=jwks_server.origin)
    _warm_then_fail(jwks_server, signing_key, config)
    # WHEN the held keys reach the limit (6 h, as docs/design.md: Signing keys says)
    assert DEFAULT_MAX_STALE == 6 * HOUR
    clock.advance(DEFAULT_MAX_STALE - 1)
    assert authenticate(_token(jwks_server, signing_key, clock), config) == USER_ID
    clock.advance(1)
    # THEN tokens are refused as 503 (our dependency failed), not 401
    with pytest.raises(KeySetUnavailable) as caught:
        authenticate(_token(jwks_server, signing_key, clock), config)
    assert caught.value.status_code == 503


def test_the_stale_limit_is_a_setting(
    jwks_server: JwksServer, signing_key: SigningKey, clock: MovableClock
) -> None:
    # GIVEN AUTH_KEYS_MAX_STALE_SECONDS of one hour, and the auth server failing
    config = settings(better_auth_url=jwks_server.origin, auth_keys_max_stale_seconds=3600)
    _warm_then_fail(jwks_server, signing_key, config)
    # WHEN the held keys are just under, then at, an hour old
    clock.advance(HOUR - 1)
    under = authenticate(_token(jwks_server, signing_key, clock), config)
    clock.advance(1)
    # THEN they verify until then, and not from then on
    assert under == USER_ID
    with pytest.raises(KeySetUnavailable):
        authenticate(_token(jwks_server, signing_key, clock), config)


def test_only_an_unknown_kid_needs_the_endpoint_during_an_outage(
    jwks_server: JwksServer, signing_key: SigningKey, clock: MovableClock
) -> None:
    # GIVEN a container verifying with stale keys through an outage
    config = settings(better_auth_url=jwks_server.origin)
    _warm_then_fail(jwks_server, signing_key, config)
    clock.advance(HOUR)
    assert authenticate(_token(jwks_server, signing_key, clock), config) == USER_ID
    # WHEN a token signed by a key it does not hold arrives, once the retry wait has passed
    clock.advance(auth.JWKS_RETRY_SECONDS)
    with pytest.raises(KeySetUnavailable):
        authenticate(_token(jwks_server, new_key(), clock), config)
    # THEN that one is a 503 (it cannot be verified), and the held key still verifies
    assert authenticate(_token(jwks_server, signing_key, clock), config) == USER_ID


def test_the_key_set_is_fresh_again_once_the_endpoint_recovers(
    jwks_server: JwksServer, signing_key: SigningKey, clock: MovableClock
) -> None:
    # GIVEN a container verifying with stale keys through an outage
    config = settings(better_auth_url=jwks_server.origin)
    _warm_then_fail(jwks_server, signing_key, config)
    clock.advance(5 * HOUR)
    authenticate(_token(jwks_server, signing_key, clock), config)
    # WHEN the auth server comes back (with a rotated key) and the stale retry interval passes
    rotated = new_key()
    jwks_server.status, jwks_server.body = 200, None
    jwks_server.publish(rotated)
    clock.advance(auth.JWKS_STALE_RETRY_SECONDS)
    # THEN the next request refreshes the set: the new key verifies, the removed one not
    assert authenticate(_token(jwks_server, rotated, clock), config) == USER_ID
    assert jwks_server.hits == 3
    with pytest.raises(AuthenticationError, match="unknown key"):
        authenticate(_token(jwks_server, signing_key, clock), config)
    # AND long after the old limit, the refreshed set is in use (no 503)
    clock.advance(2 * HOUR)
    assert authenticate(_token(jwks_server, rotated, clock), config) == USER_ID
