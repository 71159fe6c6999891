"""Build keys, settings and tokens shaped like Better Auth's JWT plugin issues them.

Better Auth (plugins/jwt/sign.ts) signs with jose ``SignJWT``: the protected
header is exactly ``{"alg": "EdDSA", "kid": <key id>}`` (no ``typ``); the payload
is the session user (id, name, email, emailVerified, image, createdAt,
updatedAt) plus ``iat``, ``sub`` (the user id), ``exp`` (iat + 15 min), and
``iss`` / ``aud`` both defaulting to the origin of its baseURL. Its JWKS entries
are ``{"alg", "crv", "x", "kty": "OKP", "kid"}``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import socket
import string
import time
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from shared.core.settings import ENV_FILE_CONTEXT, Settings

SECRET = "test-only-secret-0123456789-abcdefghijklmnop"
USER_ID = "Qm9iYnlUYWJsZXMxMjM0NTY3ODkwYWJj"
_ALPHANUMERIC = string.ascii_letters + string.digits
# The environment variables that configure token checking: the auth fields of Settings.
AUTH_ENV_VARS = tuple(
    name.upper() for name in Settings.model_fields if name.startswith(("auth_", "better_auth_"))
)


def better_auth_id() -> str:
    """A 32-character alphanumeric id, like Better Auth's generateId()."""
    return "".join(secrets.choice(_ALPHANUMERIC) for _ in range(32))


def b64url(data: bytes) -> str:
    """Base64url without padding, as JOSE uses."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass(frozen=True)
class SigningKey:
    """An Ed25519 key pair with the kid Better Auth would give it."""

    kid: str
    private: Ed25519PrivateKey

    def public_bytes(self) -> bytes:
        """The raw 32-byte public key."""
        return self.private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    def public_pem(self) -> bytes:
        """The public key as PEM, a classic algorithm-confusion HMAC secret."""
        return self.private.public_key().public_bytes(
            Encoding.PEM, PublicFormat.SubjectPublicKeyInfo
        )

    def public_jwk(self) -> dict[str, str]:
        """The entry Better Auth's /api/auth/jwks endpoint publishes for this key."""
        x = b64url(self.public_bytes())
        return {"alg": "EdDSA", "crv": "Ed25519", "x": x, "kty": "OKP", "kid": self.kid}


def new_key(kid: str | None = None) -> SigningKey:
    """Generate a fresh Ed25519 signing key."""
    return SigningKey(kid or better_auth_id(), Ed25519PrivateKey.generate())


def claims(
    issuer: str, *, drop: tuple[str, ...] = (), now: float | None = None, **overrides: Any
) -> dict[str, Any]:
    """A Better Auth payload for USER_ID, valid ``now`` (default: the real time); override
    or drop claims per test."""
    now = int(time.time() if now is None else now)
    payload: dict[str, Any] = {
        "iat": now,
        "id": USER_ID,
        "name": "Ada Lovelace",
        "email": "ada@example.com",
        "emailVerified": True,
        "image": None,
        "createdAt": "2025-01-01T00:00:00.000Z",
        "updatedAt": "2025-01-01T00:00:00.000Z",
        "sub": USER_ID,
        "exp": now + 15 * 60,
        "iss": issuer,
        "aud": issuer,
    }
    payload.update(overrides)
    return {name: value for name, value in payload.items() if name not in drop}


def sign(key: SigningKey, payload: dict[str, Any], **header: Any) -> str:
    """Sign as Better Auth does: EdDSA, header {alg, kid} and no typ."""
    headers = {"kid": key.kid, **header, "typ": None}
    if headers["kid"] is None:  # lets a test build a token without a kid
        del headers["kid"]
    return jwt.encode(payload, key.private, algorithm="EdDSA", headers=headers)


def forge(header: dict[str, Any], payload: dict[str, Any], hmac_key: bytes | None) -> str:
    """Hand-build a compact JWS (PyJWT refuses to build the malicious ones)."""
    head = b64url(json.dumps(header).encode())
    body = b64url(json.dumps(payload).encode())
    if hmac_key is None:
        return f"{head}.{body}."
    mac = hmac.new(hmac_key, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64url(mac)}"


def hs256(payload: dict[str, Any], secret: str = SECRET) -> str:
    """An HS256 token signed with a shared secret."""
    return jwt.encode(payload, secret, algorithm="HS256")


def settings(**fields: Any) -> Settings:
    """Settings from keyword arguments and the environment, never from a .env file."""
    return Settings.model_validate(fields, context={ENV_FILE_CONTEXT: None})


def bearer(token: str) -> str:
    """The Authorization header value carrying ``token``."""
    return f"Bearer {token}"


def unused_loopback_url(path: str) -> str:
    """An http URL on 127.0.0.1 where nothing listens (connection refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}{path}"
