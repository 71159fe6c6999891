"""Shared-secret mode: HS256 tokens verified with BETTER_AUTH_SECRET."""

from __future__ import annotations

import time

import pytest

from shared.api.auth import authenticate
from shared.core.errors import AuthenticationError
from tests.support.tokens import SECRET, USER_ID, bearer, claims, hs256, new_key, settings, sign


def test_valid_hs256_token_returns_subject() -> None:
    # GIVEN only a shared secret is configured
    config = settings(better_auth_secret=SECRET)
    token = hs256(claims("https://app.example.com"))
    # WHEN a token signed with it is authenticated
    user_id = authenticate(bearer(token), config)
    # THEN its subject is returned (iss/aud are not checked when not configured)
    assert user_id == USER_ID


def test_hs256_token_signed_with_wrong_secret_is_rejected() -> None:
    # GIVEN a token signed with a different secret
    config = settings(better_auth_secret=SECRET)
    token = hs256(claims("https://app.example.com"), "another-secret-of-plenty-of-bytes-123")
    # WHEN / THEN the signature does not verify
    with pytest.raises(AuthenticationError, match="^invalid token$"):
        authenticate(bearer(token), config)


def test_expired_hs256_token_is_rejected() -> None:
    # GIVEN an HS256 token that expired a minute ago
    now = int(time.time())
    config = settings(better_auth_secret=SECRET)
    token = hs256(claims("https://app.example.com", iat=now - 960, exp=now - 60))
    # WHEN / THEN it is rejected as expired
    with pytest.raises(AuthenticationError, match="^token expired$"):
        authenticate(bearer(token), config)


def test_configured_issuer_and_audience_are_enforced() -> None:
    # GIVEN secret mode with an explicit issuer and audience
    config = settings(
        better_auth_secret=SECRET, auth_issuer="https://app.example.com", auth_audience="todo"
    )
    good = hs256(claims("https://app.example.com", aud="todo"))
    bad = hs256(claims("https://evil.example", aud="todo"))
    # WHEN / THEN the matching token passes and the other is rejected
    assert authenticate(bearer(good), config) == USER_ID
    with pytest.raises(AuthenticationError, match="^token issuer not accepted$"):
        authenticate(bearer(bad), config)


def test_asymmetric_token_is_rejected_in_secret_mode() -> None:
    # GIVEN secret mode and a (well-formed) EdDSA token
    config = settings(better_auth_secret=SECRET)
    token = sign(new_key(), claims("https://app.example.com"))
    # WHEN / THEN only HS256 is accepted
    with pytest.raises(AuthenticationError, match="^token algorithm not allowed$"):
        authenticate(bearer(token), config)


# RFC 7519 NumericDates are JSON numbers: each of these is a date in some other type.
NOT_NUMERIC_DATES = {
    "exp far-future string": ("exp", "9999999999"),
    "exp past string": ("exp", "1"),
    "nbf string": ("nbf", "1"),
    "iat string": ("iat", str(int(time.time()))),
    "exp true": ("exp", True),
    "exp object": ("exp", {"$date": 9999999999}),
    "exp infinite": ("exp", float("inf")),
}


@pytest.mark.parametrize(
    ("claim", "value"), NOT_NUMERIC_DATES.values(), ids=NOT_NUMERIC_DATES.keys()
)
def test_a_date_claim_that_is_not_a_number_is_rejected(claim: str, value: object) -> None:
    # GIVEN an HS256 token, correctly signed, whose exp, nbf or iat is not a JSON number
    config = settings(better_auth_secret=SECRET)
    payload = claims("https://app.example.com")
    payload[claim] = value
    token = hs256(payload)
    # WHEN it is authenticated
    with pytest.raises(AuthenticationError, match="^token has an invalid date claim$") as caught:
        authenticate(bearer(token), config)
    # THEN it is a 401 with the stable code of any other invalid token (not TOKEN_EXPIRED)
    assert (caught.value.status_code, caught.value.code) == (401, "INVALID_TOKEN")


def test_a_fractional_expiry_is_a_valid_numeric_date() -> None:
    # GIVEN an HS256 token whose exp is a non-integer number of seconds (RFC 7519 allows it)
    config = settings(better_auth_secret=SECRET)
    token = hs256(claims("https://app.example.com", exp=time.time() + 600.5))
    # WHEN / THEN it is accepted
    assert authenticate(bearer(token), config) == USER_ID


@pytest.mark.parametrize("claim", ["iat", "nbf"])
def test_an_hs256_token_from_the_future_is_rejected(claim: str) -> None:
    # GIVEN an HS256 token issued / valid only five minutes from now
    config = settings(better_auth_secret=SECRET)
    payload = claims("https://app.example.com")
    payload[claim] = int(time.time()) + 300
    token = hs256(payload)
    # WHEN / THEN it is rejected as not yet valid
    with pytest.raises(AuthenticationError, match="^token not yet valid$"):
        authenticate(bearer(token), config)


def test_configured_audience_is_enforced() -> None:
    # GIVEN secret mode with an explicit audience
    config = settings(better_auth_secret=SECRET, auth_audience="todo")
    other = hs256(claims("https://app.example.com", aud="another-api"))
    # WHEN / THEN a token meant for another audience is rejected
    with pytest.raises(AuthenticationError, match="^token audience not accepted$"):
        authenticate(bearer(other), config)


@pytest.mark.parametrize("claim", ["iss", "aud"])
def test_a_configured_issuer_or_audience_must_be_in_the_token(claim: str) -> None:
    # GIVEN secret mode with AUTH_ISSUER and AUTH_AUDIENCE set
    config = settings(
        better_auth_secret=SECRET, auth_issuer="https://app.example.com", auth_audience="todo"
    )
    token = hs256(claims("https://app.example.com", aud="todo", drop=(claim,)))
    # WHEN / THEN a token without that claim is rejected
    with pytest.raises(AuthenticationError, match="^token is missing a required claim$"):
        authenticate(bearer(token), config)
