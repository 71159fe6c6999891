"""Rejected tokens never appear in an error message or a formatted traceback."""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable

import pytest

from shared.api.auth import authenticate
from shared.core.errors import AppError
from tests.support.jwks_server import JwksServer
from tests.support.tokens import (
    SECRET,
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

Scenario = Callable[[SigningKey, str], str]


def _expired(key: SigningKey, origin: str) -> str:
    now = int(time.time())
    return sign(key, claims(origin, iat=now - 999, exp=now - 99))


def _tampered(key: SigningKey, origin: str) -> str:
    head, _, signature = sign(key, claims(origin)).split(".")
    body = b64url(b'{"sub":"x"}')
    return f"{head}.{body}.{signature}"


def _undecodable_header(key: SigningKey, origin: str) -> str:
    _, rest = sign(key, claims(origin)).split(".", 1)
    return f"bm90IGpzb24.{rest}"


SCENARIOS: dict[str, Scenario] = {
    "expired": _expired,
    "tampered": _tampered,
    "wrong issuer": lambda key, origin: sign(key, claims(origin, iss="https://evil.example")),
    "bad subject": lambda key, origin: sign(key, claims(origin, sub="a\x00b")),
    "unknown key": lambda key, origin: sign(new_key(), claims(origin)),
    "hs256 confusion": lambda key, origin: forge(
        {"alg": "HS256", "kid": key.kid}, claims(origin), key.public_bytes()
    ),
    "hs256 with secret": lambda key, origin: hs256(claims(origin), SECRET),
    "undecodable header": _undecodable_header,
}


@pytest.mark.parametrize("scenario", SCENARIOS.values(), ids=SCENARIOS.keys())
def test_rejected_token_is_not_echoed(
    jwks_server: JwksServer, signing_key: SigningKey, scenario: Scenario
) -> None:
    # GIVEN a token that will be rejected
    token = scenario(signing_key, jwks_server.origin)
    config = settings(better_auth_url=jwks_server.origin, better_auth_secret=SECRET)
    # WHEN it is authenticated
    with pytest.raises(AppError) as caught:
        authenticate(bearer(token), config)
    # THEN neither the message nor the traceback (with its chained causes) shows it
    shown = "".join(traceback.format_exception(caught.value))
    for fragment in [token, *token.split(".")]:
        assert fragment not in shown


def test_unavailable_key_set_does_not_echo_the_token(
    jwks_server: JwksServer, signing_key: SigningKey
) -> None:
    # GIVEN a broken key set, whose error keeps its cause for operators
    jwks_server.status, jwks_server.body = 500, b"{}"
    token = sign(signing_key, claims(jwks_server.origin))
    config = settings(better_auth_url=jwks_server.origin)
    # WHEN the token is authenticated
    with pytest.raises(AppError) as caught:
        authenticate(bearer(token), config)
    # THEN the traceback names the failure but not the token
    shown = "".join(traceback.format_exception(caught.value))
    assert token.split(".")[2] not in shown
