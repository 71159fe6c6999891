"""JWKS mode: Better Auth JWT-plugin tokens (EdDSA / Ed25519) and the ways they go wrong."""

from __future__ import annotations

import time

import pytest

from shared.api.auth import authenticate
from shared.core.errors import AuthenticationError
from tests.support.jwks_server import JwksServer
from tests.support.tokens import (
    SECRET,
    USER_ID,
    SigningKey,
    b64url,
    bearer,
    claims,
    forge,
    hs256,
    new_key,
    settings,
    sign,
)


def test_valid_better_auth_token_returns_subject(
    jwks_server: JwksServer, signing_key: SigningKey
) -> None:
    # GIVEN a token shaped exactly like Better Auth's JWT plugin issues it
    token = sign(signing_key, claims(jwks_server.origin))
    config = settings(better_auth_url=jwks_server.origin)
    # WHEN it is authenticated
    user_id = authenticate(bearer(token), config)
    # THEN the user id is its subject
    assert user_id == USER_ID


def test_explicit_jwks_url_issuer_and_audience_are_used(
    jwks_server: JwksServer, signing_key: SigningKey
) -> None:
    # GIVEN custom issuer/audience (Better Auth's jwt.issuer / jwt.audience options)
    payload = claims("https://auth.example.com", aud="todo-api")
    config = settings(
        auth_jwks_url=jwks_server.url,
        auth_issuer="https://auth.example.com",
        auth_audience="todo-api",
    )
    # WHEN a token carrying them is authenticated
    user_id = authenticate(bearer(sign(signing_key, payload)), config)
    # THEN it is accepted
    assert user_id == USER_ID


def test_issuer_defaults_to_origin_of_better_auth_url(
    jwks_server: JwksServer, signing_key: SigningKey
) -> None:
    # GIVEN BETTER_AUTH_URL with a path and trailing slash; Better Auth uses only its origin
    config = settings(better_auth_url=f"{jwks_server.origin}/some/path/")
    token = sign(signing_key, claims(jwks_server.origin))
    # WHEN / THEN the token is accepted and the key set came from <origin>/api/auth/jwks
    assert authenticate(bearer(token), config) == USER_ID
    assert jwks_server.hits == 1


def test_audience_list_containing_ours_is_accepted(
    jwks_server: JwksServer, signing_key: SigningKey
) -> None:
    # GIVEN a token meant for several audiences including ours
    payload = claims(jwks_server.origin, aud=["https://other.example", jwks_server.origin])
    config = settings(better_auth_url=jwks_server.origin)
    # WHEN / THEN it is accepted
    assert authenticate(bearer(sign(signing_key, payload)), config) == USER_ID


def test_expired_token_is_rejected(jwks_server: JwksServer, signing_key: SigningKey) -> None:
    # GIVEN a token that expired a minute ago (beyond the 30 s leeway)
    now = int(time.time())
    payload = claims(jwks_server.origin, iat=now - 960, exp=now - 60)
    config = settings(better_auth_url=jwks_server.origin)
    # WHEN / THEN it is rejected as expired
    with pytest.raises(AuthenticationError, match="^token expired$"):
        authenticate(bearer(sign(signing_key, payload)), config)


def test_token_expired_within_leeway_is_accepted(
    jwks_server: JwksServer, signing_key: SigningKey
) -> None:
    # GIVEN a token that expired 5 seconds ago (clock skew between servers)
    payload = claims(jwks_server.origin, exp=int(time.time()) - 5)
    config = settings(better_auth_url=jwks_server.origin)
    # WHEN / THEN it is still accepted
    assert authenticate(bearer(sign(signing_key, payload)), config) == USER_ID


@pytest.mark.parametrize("claim", ["iat", "nbf"])
def test_token_from_the_future_is_rejected(
    jwks_server: JwksServer, signing_key: SigningKey, claim: str
) -> None:
    # GIVEN a token issued / valid only five minutes from now
    payload = claims(jwks_server.origin)
    payload[claim] = int(time.time()) + 300
    config = settings(better_auth_url=jwks_server.origin)
    # WHEN / THEN it is rejected as not yet valid
    with pytest.raises(AuthenticationError, match="^token not yet valid$"):
        authenticate(bearer(sign(signing_key, payload)), config)


@pytest.mark.parametrize(("claim", "value"), [("exp", "9999999999"), ("nbf", "1"), ("iat", "1")])
def test_a_date_claim_that_is_a_string_is_rejected(
    jwks_server: JwksServer, signing_key: SigningKey, claim: str, value: str
) -> None:
    # GIVEN a correctly signed token whose exp, nbf or iat is a string, not a NumericDate
    payload = claims(jwks_server.origin)
    payload[claim] = value
    config = settings(better_auth_url=jwks_server.origin)
    # WHEN / THEN it is a 401 with the stable code of any other invalid token
    with pytest.raises(AuthenticationError, match="^token has an invalid date claim$") as caught:
        authenticate(bearer(sign(signing_key, payload)), config)
    assert caught.value.code == "INVALID_TOKEN"


def test_wrong_issuer_is_rejected(jwks_server: JwksServer, signing_key: SigningKey) -> None:
    # GIVEN a correctly signed token from another issuer
    payload = claims(jwks_server.origin, iss="https://evil.example")
    config = settings(better_auth_url=jwks_server.origin)
    # WHEN / THEN it is rejected
    with pytest.raises(AuthenticationError, match="^token issuer not accepted$"):
        authenticate(bearer(sign(signing_key, payload)), config)


def test_wrong_audience_is_rejected(jwks_server: JwksServer, signing_key: SigningKey) -> None:
    # GIVEN a correctly signed token meant for another service
    payload = claims(jwks_server.origin, aud="https://other-api.example")
    config = settings(better_auth_url=jwks_server.origin)
    # WHEN / THEN it is rejected
    with pytest.raises(AuthenticationError, match="^token audience not accepted$"):
        authenticate(bearer(sign(signing_key, payload)), config)


@pytest.mark.parametrize("claim", ["exp", "sub", "iss", "aud"])
def test_missing_required_claim_is_rejected(
    jwks_server: JwksServer, signing_key: SigningKey, claim: str
) -> None:
    # GIVEN a correctly signed token without one required claim
    payload = claims(jwks_server.origin, drop=(claim,))
    config = settings(better_auth_url=jwks_server.origin)
    # WHEN / THEN it is rejected
    with pytest.raises(AuthenticationError, match="^token is missing a required claim$"):
        authenticate(bearer(sign(signing_key, payload)), config)


@pytest.mark.parametrize("subject", ["", "   ", "a" * 256, "user\x00id", "user\nid", 42])
def test_implausible_subject_is_rejected(
    jwks_server: JwksServer, signing_key: SigningKey, subject: object
) -> None:
    # GIVEN a correctly signed token whose sub is empty, huge, has control chars or no string
    payload = claims(jwks_server.origin, sub=subject)
    config = settings(better_auth_url=jwks_server.origin)
    # WHEN / THEN it is rejected
    with pytest.raises(AuthenticationError, match="^token has an invalid subject$"):
        authenticate(bearer(sign(signing_key, payload)), config)


def test_token_signed_by_unknown_key_is_rejected(
    jwks_server: JwksServer, signing_key: SigningKey
) -> None:
    # GIVEN a token signed by a key the auth server never published
    stranger = new_key()
    config = settings(better_auth_url=jwks_server.origin)
    # WHEN / THEN it is rejected
    with pytest.raises(AuthenticationError, match="^token signed by an unknown key$"):
        authenticate(bearer(sign(stranger, claims(jwks_server.origin))), config)


def test_token_signed_by_other_key_under_known_kid_is_rejected(
    jwks_server: JwksServer, signing_key: SigningKey
) -> None:
    # GIVEN an attacker's key that reuses the published kid
    impostor = new_key(kid=signing_key.kid)
    config = settings(better_auth_url=jwks_server.origin)
    # WHEN / THEN the signature does not verify
    with pytest.raises(AuthenticationError, match="^invalid token$"):
        authenticate(bearer(sign(impostor, claims(jwks_server.origin))), config)


def test_tampered_payload_is_rejected(jwks_server: JwksServer, signing_key: SigningKey) -> None:
    # GIVEN a valid token whose payload is swapped for another user's
    head, _, signature = sign(signing_key, claims(jwks_server.origin)).split(".")
    body = b64url(b'{"sub":"someone-else","exp":9999999999}')
    config = settings(better_auth_url=jwks_server.origin)
    # WHEN / THEN the signature no longer matches
    with pytest.raises(AuthenticationError, match="^invalid token$"):
        authenticate(bearer(f"{head}.{body}.{signature}"), config)


def test_token_without_kid_is_rejected_without_fetching(jwks_server: JwksServer) -> None:
    # GIVEN an EdDSA token with no kid header
    stranger = new_key()
    token = sign(stranger, claims(jwks_server.origin), kid=None)
    config = settings(better_auth_url=jwks_server.origin)
    # WHEN / THEN it is rejected and the key set is not fetched for it
    with pytest.raises(AuthenticationError, match="^token has no key id$"):
        authenticate(bearer(token), config)
    assert jwks_server.hits == 0


@pytest.mark.parametrize("signature", [None, b"not-a-signature"])
def test_alg_none_is_rejected(
    jwks_server: JwksServer, signing_key: SigningKey, signature: bytes | None
) -> None:
    # GIVEN an unsigned token (alg "none"), with an empty or junk signature segment
    header = {"alg": "none", "kid": signing_key.kid}
    token = forge(header, claims(jwks_server.origin), None)
    if signature is not None:
        token += b64url(signature)
    config = settings(better_auth_url=jwks_server.origin)
    # WHEN / THEN it is rejected and never reaches a key lookup
    with pytest.raises(AuthenticationError):
        authenticate(bearer(token), config)
    assert jwks_server.hits == 0


@pytest.mark.parametrize("secret_form", ["raw", "pem", "jwk_x"])
def test_hs256_token_signed_with_public_key_is_rejected(
    jwks_server: JwksServer, signing_key: SigningKey, secret_form: str
) -> None:
    # GIVEN the algorithm-confusion attack: HS256 keyed with the published public key
    secrets_by_form = {
        "raw": signing_key.public_bytes(),
        "pem": signing_key.public_pem(),
        "jwk_x": signing_key.public_jwk()["x"].encode(),
    }
    header = {"alg": "HS256", "kid": signing_key.kid, "typ": "JWT"}
    token = forge(header, claims(jwks_server.origin), secrets_by_form[secret_form])
    config = settings(better_auth_url=jwks_server.origin)
    # WHEN / THEN it is rejected on its algorithm alone
    with pytest.raises(AuthenticationError, match="^token algorithm not allowed$"):
        authenticate(bearer(token), config)
    assert jwks_server.hits == 0


def test_secret_is_ignored_when_jwks_is_configured(
    jwks_server: JwksServer, signing_key: SigningKey
) -> None:
    # GIVEN both BETTER_AUTH_URL and BETTER_AUTH_SECRET are set (JWKS mode wins)
    config = settings(better_auth_url=jwks_server.origin, better_auth_secret=SECRET)
    token = hs256(claims(jwks_server.origin))
    # WHEN / THEN an HS256 token made with that very secret is still rejected
    with pytest.raises(AuthenticationError, match="^token algorithm not allowed$"):
        authenticate(bearer(token), config)


def test_algorithm_not_in_configuration_is_rejected(
    jwks_server: JwksServer, signing_key: SigningKey
) -> None:
    # GIVEN a server configured for ES256 only and a (valid) EdDSA token
    config = settings(better_auth_url=jwks_server.origin, auth_algorithms="ES256")
    token = sign(signing_key, claims(jwks_server.origin))
    # WHEN / THEN the token is rejected
    with pytest.raises(AuthenticationError, match="^token algorithm not allowed$"):
        authenticate(bearer(token), config)
