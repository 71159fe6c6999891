"""One JWKS URL's signing keys, kept per container and refetched when a token may be newer.

PyJWT's ``PyJWKClient`` cache starts its refetch cool-down after *every* successful fetch
(the first one and each lifespan refresh included), so a container that fetched the set
shortly before the auth server rotated its key refuses the new key's tokens for the whole
cool-down (with Better Auth: about 9 s of 401 "token signed by an unknown key", which a
frontend reads as "signed out"). Here ``PyJWKClient`` only fetches and parses, through its
public ``get_signing_keys`` with its cache off; this module decides when:

* the set is fetched when it has never been, or is older than its lifespan;
* an unknown ``kid`` refetches at once when the token's (unverified) ``iat`` is later than
  the last fetch, less the clock leeway: its key may have been published since. A token
  issued before the set was fetched was signed by a key the set would hold, so its unknown
  ``kid`` costs nothing;
* such a refetch happens at most once per cool-down, counted only from the previous one
  (fetched or failed), so forged kids, whose ``iat`` may claim anything, cost at most one
  fetch per cool-down.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import jwt

from shared.core.errors import AuthenticationError, KeySetUnavailable

__all__ = ["KeySet"]


class KeySet:
    """The signing keys of one JWKS endpoint, by ``kid``."""

    def __init__(
        self, client: jwt.PyJWKClient, *, lifespan: float, cooldown: float, leeway: float
    ) -> None:
        self._client = client
        self._lifespan, self._cooldown, self._leeway = lifespan, cooldown, leeway
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched: float | None = None  # time.monotonic() of the last successful fetch
        self._fetched_wall = 0.0  # time.time() of it: a token's iat is wall-clock time
        self._refetched: float | None = None  # time.monotonic() of the last unknown-kid refetch
        self._lock = threading.Lock()

    def signing_key(self, kid: str, issued_at: Callable[[], float | None]) -> jwt.PyJWK:
        """The key for ``kid``; ``issued_at`` reads the token's iat, only when ``kid`` is unknown.

        Raises KeySetUnavailable when the endpoint fails, AuthenticationError for an unknown kid.
        """
        with self._lock:
            if self._fetched is None or time.monotonic() - self._fetched >= self._lifespan:
                self._fetch()
            key = self._keys.get(kid)
            if key is None and self._may_be_newer(issued_at()):
                self._refetched = time.monotonic()
                self._fetch()
                key = self._keys.get(kid)
        if key is None:
            raise AuthenticationError("token signed by an unknown key")
        return key

    def _may_be_newer(self, iat: float | None) -> bool:
        """Whether a token issued at ``iat`` may be signed by a key published after the fetch."""
        if self._refetched is not None and time.monotonic() - self._refetched < self._cooldown:
            return False
        if iat is None:  # not a Better Auth token; verification decides, after one refetch
            return True
        # An iat beyond the leeway fails verification anyway: it is worth no fetch.
        return self._fetched_wall - self._leeway < iat <= time.time() + self._leeway

    def _fetch(self) -> None:
        try:
            keys = self._client.get_signing_keys(refresh=True)
        except (jwt.PyJWTError, OSError, ValueError) as exc:  # down, slow, not JSON, no keys
            raise KeySetUnavailable from exc
        self._keys = {key.key_id: key for key in keys if key.key_id}
        self._fetched, self._fetched_wall = time.monotonic(), time.time()
