"""Verify Better Auth bearer tokens and check that a path's user id is the caller's.

Which keys verify a token is decided by configuration alone, never by the token:

1. JWKS mode, when ``AUTH_JWKS_URL`` or ``BETTER_AUTH_URL`` is set (tokens from
   Better Auth's JWT plugin). Public keys come from ``AUTH_JWKS_URL``, else from
   ``<origin of BETTER_AUTH_URL>/api/auth/jwks``; the URL must be https unless
   its host is loopback. Algorithms are ``AUTH_ALGORITHMS`` (default ``EdDSA``),
   asymmetric ones only. ``BETTER_AUTH_SECRET`` is ignored in this mode, so an
   HS256 token is always rejected here, even when the secret is also set.
   ``iss`` and ``aud`` are required: ``AUTH_ISSUER`` / ``AUTH_AUDIENCE``, each
   defaulting to the origin of ``BETTER_AUTH_URL`` (Better Auth's own default).
   When and how often the key set is fetched, and how long held keys outlive a
   failing endpoint (``AUTH_KEYS_MAX_STALE_SECONDS``): shared/api/key_set.py.
2. Shared-secret mode, when only ``BETTER_AUTH_SECRET`` is set: HS256 only,
   secret of at least 32 bytes; ``iss`` / ``aud`` are checked only when
   ``AUTH_ISSUER`` / ``AUTH_AUDIENCE`` are set.
3. Neither: every call raises ``ConfigurationError``.

In both modes ``exp`` and ``sub`` are required, and ``exp``, ``nbf`` and ``iat`` must be
JSON numbers (RFC 7519 NumericDates; shared/api/token_dates.py), with a 30 second clock
leeway.
"""

from __future__ import annotations

import base64
import json
import re
import time
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

# Imported eagerly: every route authenticates, so a lazy import would only move
# the cost from Lambda's init phase into the first request.
import jwt
from jwt.exceptions import InvalidSubjectError

from shared.api.key_set import Clock, KeySet, Policy
from shared.api.token_dates import check_dates, issued_at
from shared.core.errors import (
    AuthenticationError,
    ConfigurationError,
    KeySetRefreshing,
    KeySetUnavailable,
    MissingToken,
    PermissionDenied,
)
from shared.core.settings import Settings

if TYPE_CHECKING:
    from jwt.types import Options

MAX_HEADER_LENGTH = 8 * 1024
MAX_SUBJECT_LENGTH = 255
MIN_SECRET_BYTES = 32
LEEWAY_SECONDS = 30
JWKS_PATH = "/api/auth/jwks"
JWKS_TIMEOUT_SECONDS = 3.0
JWKS_LIFESPAN_SECONDS = 300.0
# After a failed fetch, none for as long as the 503 tells the client to wait.
JWKS_RETRY_SECONDS = float(KeySetUnavailable.retry_after_seconds)
# While a stale set verifies (the endpoint failing), a refresh is tried once a minute.
JWKS_STALE_RETRY_SECONDS = 60.0
# Unknown kids may refetch 3 times at once, then once per 10 s: at most 9 fetches in any
# minute however many forged kids arrive, and one forged kid leaves 2 for a rotated key.
# The 503 for a spent allowance says when the next one comes back: one fact, in errors.py.
JWKS_FETCH_BURST = 3
JWKS_FETCH_REFILL_SECONDS = float(KeySetRefreshing.retry_after_seconds)
# A kid a refetch did not find is answered 401 without fetching for this long.
JWKS_FORGET_UNKNOWN_SECONDS = 60.0
# What auth reads the time from (token dates, key set ages): tests replace it, before
# the first token, to move time.
CLOCK: Clock = time

_ASYMMETRIC_ALGORITHMS = frozenset(
    {
        "EdDSA",
        "ES256",
        "ES384",
        "ES512",
        "RS256",
        "RS384",
        "RS512",
        "PS256",
        "PS384",
        "PS512",
    }
)
_LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
_DEFAULT_PORTS = {"http": 80, "https": 443}
_COMPACT_JWS = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_NOT_CONFIGURED = (
    "token verification is not configured: set AUTH_JWKS_URL or BETTER_AUTH_URL "
    "(JWKS mode), or BETTER_AUTH_SECRET (HS256 mode)"
)
_REJECTIONS: tuple[tuple[type[jwt.PyJWTError], str], ...] = (
    (jwt.InvalidIssuerError, "token issuer not accepted"),
    (jwt.InvalidAudienceError, "token audience not accepted"),
    (jwt.MissingRequiredClaimError, "token is missing a required claim"),
    (jwt.InvalidAlgorithmError, "token algorithm not allowed"),
    (InvalidSubjectError, "token has an invalid subject"),
)


@dataclass(frozen=True, slots=True)
class _Verifier:
    """Everything needed to check a token, derived once per settings object."""

    algorithms: tuple[str, ...]
    jwks_url: str | None
    secret: str | None = field(repr=False)
    issuer: str | None
    audience: str | None
    max_stale: float = 0.0  # JWKS mode: AUTH_KEYS_MAX_STALE_SECONDS


def authenticate(authorization: str | None, settings: Settings) -> str:
    """Return the verified user id (`sub`) of an `Authorization: Bearer <jwt>` value, or raise."""
    verifier = _verifier(settings)
    token = _bearer_token(authorization)
    return _subject(_claims(token, verifier))


def authorize(user_id: str, path_user_id: str) -> None:
    """Raise PermissionDenied unless the path's user id is the token's subject."""
    if not path_user_id or user_id != path_user_id:
        raise PermissionDenied


def reset_key_cache() -> None:
    """Forget the verifiers and fetched key sets: the next token re-reads the settings."""
    _verifier.cache_clear()
    _key_set.cache_clear()


@lru_cache(maxsize=8)
def _verifier(settings: Settings) -> _Verifier:
    """Pick the mode and validate its configuration (see the module docstring)."""
    if settings.auth_jwks_url or settings.better_auth_url:
        return _jwks_verifier(settings)
    if settings.better_auth_secret and settings.better_auth_secret.get_secret_value():
        return _secret_verifier(settings)
    raise ConfigurationError(_NOT_CONFIGURED)


def _jwks_verifier(settings: Settings) -> _Verifier:
    """Build the JWKS-mode verifier; Better Auth always sets iss and aud, so both are required."""
    origin = _origin(settings.better_auth_url) if settings.better_auth_url else None
    url = settings.auth_jwks_url or f"{origin}{JWKS_PATH}"
    _check_jwks_url(url)
    issuer = settings.auth_issuer or origin
    audience = settings.auth_audience or origin
    if not issuer or not audience:
        raise ConfigurationError(
            "AUTH_JWKS_URL without BETTER_AUTH_URL needs AUTH_ISSUER and AUTH_AUDIENCE"
        )
    algorithms = _jwks_algorithms(settings.auth_algorithms)
    max_stale = float(settings.auth_keys_max_stale_seconds)
    return _Verifier(algorithms, url, None, issuer, audience, max_stale)


def _secret_verifier(settings: Settings) -> _Verifier:
    """Build the HS256 verifier; a short secret would make tokens brute-forceable."""
    assert settings.better_auth_secret is not None  # guaranteed by _verifier
    secret = settings.better_auth_secret.get_secret_value()
    if len(secret.encode()) < MIN_SECRET_BYTES:
        raise ConfigurationError(f"BETTER_AUTH_SECRET must be at least {MIN_SECRET_BYTES} bytes")
    issuer = settings.auth_issuer or None
    audience = settings.auth_audience or None
    return _Verifier(("HS256",), None, secret, issuer, audience)


def _origin(url: str) -> str:
    """Return ``scheme://host[:port]`` the way Better Auth derives its issuer from baseURL."""
    try:
        parts = urlsplit(url.strip())
        scheme, host, port = parts.scheme.lower(), parts.hostname, parts.port
    except ValueError:
        raise ConfigurationError("BETTER_AUTH_URL is not a valid URL") from None
    if scheme not in _DEFAULT_PORTS or not host:
        raise ConfigurationError("BETTER_AUTH_URL must be an absolute http(s) URL")
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        netloc = f"{netloc}:{port}"
    return f"{scheme}://{netloc}"


def _check_jwks_url(url: str) -> None:
    """Require https for the key set, except on loopback where local dev runs plain http."""
    try:
        parts = urlsplit(url)
        scheme, host = parts.scheme.lower(), parts.hostname
    except ValueError:
        raise ConfigurationError("AUTH_JWKS_URL is not a valid URL") from None
    if not host:
        raise ConfigurationError("AUTH_JWKS_URL must be an absolute https URL")
    if scheme == "https" or (scheme == "http" and host in _LOOPBACK_HOSTS):
        return
    raise ConfigurationError(
        "the JWKS URL (AUTH_JWKS_URL or BETTER_AUTH_URL) must use https unless its host is loopback"
    )


def _jwks_algorithms(raw: str) -> tuple[str, ...]:
    """Parse AUTH_ALGORITHMS; symmetric or 'none' algorithms would reopen algorithm confusion."""
    algorithms = tuple(name.strip() for name in raw.split(",") if name.strip())
    if not algorithms or not set(algorithms) <= _ASYMMETRIC_ALGORITHMS:
        allowed = ", ".join(sorted(_ASYMMETRIC_ALGORITHMS))
        raise ConfigurationError(
            f"AUTH_ALGORITHMS must list only asymmetric algorithms ({allowed})"
        )
    return algorithms


def _bearer_token(authorization: str | None) -> str:
    """Extract the JWT from ``Bearer <jwt>``; the scheme is case-insensitive (RFC 9110)."""
    if not authorization or not authorization.strip():
        raise MissingToken
    if len(authorization) > MAX_HEADER_LENGTH:
        raise AuthenticationError("authorization header too large")
    parts = authorization.split()
    if len(parts) != 2 or parts[0].lower() != "bearer":
        raise AuthenticationError("expected 'Authorization: Bearer <token>'")
    if not _COMPACT_JWS.fullmatch(parts[1]):
        raise AuthenticationError("malformed token")
    return parts[1]


def _claims(token: str, verifier: _Verifier) -> dict[str, Any]:
    """Verify signature and registered claims; PyJWT's messages are replaced by our own."""
    header = _unverified(token.partition(".")[0])
    if header.get("alg") not in verifier.algorithms:
        # Checked before any key lookup, so a forged alg never costs a JWKS fetch.
        raise AuthenticationError("token algorithm not allowed")
    key = _key(token, header, verifier)
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=list(verifier.algorithms),
            issuer=verifier.issuer,
            audience=verifier.audience,
            options=_options(verifier),
        )
    except jwt.PyJWTError as exc:
        raise _rejection(exc) from None
    check_dates(claims, CLOCK.time(), LEEWAY_SECONDS)
    return claims


def _unverified(segment: str) -> dict[str, Any]:
    """Read one unverified JSON segment (header or payload), only to choose the key."""
    # Not jwt.get_unverified_header: it would parse the whole token a second time,
    # about a third of a warm call's cost.
    try:
        value = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (ValueError, RecursionError):  # bad base64/UTF-8/JSON; absurdly nested JSON
        raise AuthenticationError("invalid token") from None
    if not isinstance(value, dict):
        raise AuthenticationError("invalid token")
    return value


def _key(token: str, header: dict[str, Any], verifier: _Verifier) -> str | jwt.PyJWK:
    """Return the verification key the configuration allows for this header."""
    if verifier.secret is not None:
        return verifier.secret
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise AuthenticationError("token has no key id")
    assert verifier.jwks_url is not None  # a verifier has a secret or a JWKS URL
    # The payload is read (unverified) only when the kid is unknown: is the token newer?
    return _key_set(verifier.jwks_url, verifier.max_stale).signing_key(
        kid, lambda: issued_at(_unverified(token.split(".")[1]))
    )


def _options(verifier: _Verifier) -> Options:
    """Decode options; aud is only verified when an audience is expected.

    The dates are checked by ``check_dates`` instead: PyJWT would take a string for one.
    """
    return {
        "require": ["exp", "sub"],
        "verify_aud": verifier.audience is not None,
        "verify_exp": False,
        "verify_nbf": False,
        "verify_iat": False,
    }


def _rejection(exc: jwt.PyJWTError) -> AuthenticationError:
    """Map a PyJWT failure to a short client-safe error (its own text may echo token parts)."""
    for kind, message in _REJECTIONS:
        if isinstance(exc, kind):
            return AuthenticationError(message)
    return AuthenticationError()


def _subject(claims: dict[str, Any]) -> str:
    """Return ``sub`` if it is a plausible user id; it ends up in SQL parameters and logs."""
    sub = claims.get("sub")
    if (
        not isinstance(sub, str)
        or not sub.strip()
        or len(sub) > MAX_SUBJECT_LENGTH
        or _CONTROL_CHARS.search(sub)
    ):
        raise AuthenticationError("token has an invalid subject")
    return sub


@lru_cache(maxsize=4)
def _key_set(jwks_url: str, max_stale: float) -> KeySet:
    """One key set per URL (and stale limit) per process: a warm container reuses its keys."""
    client = jwt.PyJWKClient(
        jwks_url,
        cache_jwk_set=False,  # KeySet caches, and decides when to refetch
        timeout=JWKS_TIMEOUT_SECONDS,
        # urllib's default "Python-urllib" agent is blocked by some edge firewalls.
        headers={"User-Agent": "todo-api-auth/1", "Accept": "application/json"},
    )
    policy = Policy(
        lifespan=JWKS_LIFESPAN_SECONDS,
        max_stale=max_stale,
        retry=JWKS_RETRY_SECONDS,
        stale_retry=JWKS_STALE_RETRY_SECONDS,
        leeway=LEEWAY_SECONDS,
        burst=JWKS_FETCH_BURST,
        refill=JWKS_FETCH_REFILL_SECONDS,
        forget_unknown=JWKS_FORGET_UNKNOWN_SECONDS,
    )
    return KeySet(client, policy, CLOCK)
