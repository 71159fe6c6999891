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
