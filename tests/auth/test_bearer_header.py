"""Parsing of the Authorization header, before any cryptography happens."""

from __future__ import annotations

import pytest

from shared.api import auth
from shared.api.auth import authenticate
from shared.core.errors import AuthenticationError
from tests.support.jwks_server import JwksServer
from tests.support.tokens import SigningKey, b64url, claims, settings, sign


@pytest.mark.parametrize("header", [None, "", "   "])
def test_missing_header_is_rejected(jwks_server: JwksServer, header: str | None) -> None:
    # GIVEN a request without credentials
    config = settings(better_auth_url=jwks_server.origin)
    # WHEN it is authenticated
    with pytest.raises(AuthenticationError, match="^missing bearer token$") as caught:
        authenticate(header, config)
    # THEN it is a 401 and the key set was not fetched
    assert caught.value.status_code == 401
    assert jwks_server.hits == 0


@pytest.mark.parametrize(
    "header",
    ["Basic dXNlcjpwYXNz", "Token a.b.c", "Bearer", "Bearer a.b.c d.e.f", "Bearera.b.c"],
)
def test_wrong_scheme_or_shape_is_rejected(jwks_server: JwksServer, header: str) -> None:
    # GIVEN a header that is not exactly "Bearer <one token>"
    config = settings(better_auth_url=jwks_server.origin)
    # WHEN / THEN it is rejected with a hint at the expected form
    with pytest.raises(AuthenticationError, match="Bearer <token>"):
        authenticate(header, config)


@pytest.mark.parametrize("scheme", ["bearer", "BEARER", "bEaReR"])
def test_scheme_is_case_insensitive(
    jwks_server: JwksServer, signing_key: SigningKey, scheme: str
) -> None:
    # GIVEN a valid token sent with an unusual capitalisation of the scheme
    token = sign(signing_key, claims(jwks_server.origin))
    config = settings(better_auth_url=jwks_server.origin)
    # WHEN it is authenticated
    user_id = authenticate(f"{scheme} {token}", config)
    # THEN it is accepted
    assert user_id == "Qm9iYnlUYWJsZXMxMjM0NTY3ODkwYWJj"


@pytest.mark.parametrize("token", ["garbage", "a.b", "a.b.c.d", "a.b.", "a$b.c.d", "e30.e30.!!!"])
def test_token_that_is_not_a_compact_jws_is_rejected(jwks_server: JwksServer, token: str) -> None:
    # GIVEN a bearer value that is not three base64url segments
    config = settings(better_auth_url=jwks_server.origin)
    # WHEN / THEN it is rejected without contacting the key set
    with pytest.raises(AuthenticationError, match="^malformed token$"):
        authenticate(f"Bearer {token}", config)
    assert jwks_server.hits == 0


@pytest.mark.parametrize(
    "header",
    [b"{}", b"not json", b"[]", b"\xff\xfe", b"[" * 5000],
    ids=["empty", "not-json", "array", "not-utf8", "deeply-nested"],
)
def test_token_with_undecodable_header_is_rejected(jwks_server: JwksServer, header: bytes) -> None:
    # GIVEN well-shaped segments whose header is empty, not JSON, or not an object
    token = f"{b64url(header)}.e30.e30"
    config = settings(better_auth_url=jwks_server.origin)
    # WHEN / THEN it is rejected as invalid
    with pytest.raises(AuthenticationError):
        authenticate(f"Bearer {token}", config)
    assert jwks_server.hits == 0


def test_oversized_header_is_rejected(jwks_server: JwksServer) -> None:
    # GIVEN a header just over the size limit
    header = "Bearer " + "a" * auth.MAX_HEADER_LENGTH
    config = settings(better_auth_url=jwks_server.origin)
    # WHEN / THEN it is rejected before any parsing
    with pytest.raises(AuthenticationError, match="too large"):
        authenticate(header, config)
