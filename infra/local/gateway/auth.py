"""Better Auth, played by the gateway when no auth is configured: a JWKS and a token."""

from __future__ import annotations

import json
import time
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

__all__ = ["AUTH_ENV", "DEV_USER", "development_auth"]

DEV_USER = "demo-user"
# Any of these set: auth is configured, and the gateway plays no Better Auth.
AUTH_ENV = ("BETTER_AUTH_URL", "AUTH_JWKS_URL", "BETTER_AUTH_SECRET")
TOKEN_HOURS = 12


def development_auth(base_url: str, user: str = DEV_USER) -> tuple[dict[str, Any], str]:
    """A JWKS and a token for ``user``, shaped as Better Auth's JWT plugin issues them."""
    key = Ed25519PrivateKey.generate()
    jwk = json.loads(jwt.algorithms.OKPAlgorithm.to_jwk(key.public_key()))
    jwk |= {"kid": "local-dev", "alg": "EdDSA"}
    now = int(time.time())
    claims = {
        "sub": user,
        "id": user,
        "name": "Demo User",
        "iat": now,
        "exp": now + TOKEN_HOURS * 3600,
        "iss": base_url,
        "aud": base_url,
    }
    token = jwt.encode(claims, key, algorithm="EdDSA", headers={"kid": "local-dev"})
    return {"keys": [jwk]}, token
