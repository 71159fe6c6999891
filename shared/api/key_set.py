"""One JWKS URL's signing keys, kept per container: when to fetch, and what to do when it fails.

``PyJWKClient`` only fetches and parses here (its public ``get_signing_keys``, cache off);
this module decides when, for three reasons:

* **Lifespan.** The set is fetched when the container has none, and refreshed once it is
  older than its lifespan (5 minutes).
* **Outage.** When a refresh fails, the keys held keep verifying tokens until they are
  ``max_stale`` old (``AUTH_KEYS_MAX_STALE_SECONDS``, 6 h): each failed refresh logs a
  warning and counts ``AuthKeysStale``, and the next is tried ``stale_retry`` later (a
  hanging endpoint delays one request in that while, by up to the fetch timeout). Past
  ``max_stale``, or with no keys at all, every token is a 503 ``KeySetUnavailable``; after
  any failed fetch the next waits ``retry`` seconds (the 503's own Retry-After).
* **Unknown kid.** Only an unknown ``kid`` needs the endpoint, and only when the token's
  (unverified) ``iat`` is later than the last fetch, less the clock leeway: its key may have
  been published since; an older token's key would be in the set. Such refetches draw on
  an allowance, a token bucket of ``burst`` fetches that refills one every ``refill``
  seconds, so forged kids (whose ``iat`` may claim anything) cost the endpoint at most
  ``burst`` + 60 / ``refill`` fetches in any minute. A kid that a refetch did not find is
  remembered as unknown for ``forget_unknown`` seconds: repeating it costs nothing (a 401).
  A kid that finds the allowance spent cannot be verified: a 503 ``KeySetRefreshing``,
  never a 401, which a frontend would read as "signed out". One forged kid spends one
  fetch of the ``burst``, so a rotated key's first token, a second later, still refetches.

Both clocks come from ``clock`` (the ``time`` module in production), so tests move time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import jwt
from aws_lambda_powertools.metrics import MetricUnit

from shared.core.errors import AuthenticationError, KeySetRefreshing, KeySetUnavailable
from shared.core.observability import logger, metrics

__all__ = ["STALE_METRIC", "Clock", "FetchAllowance", "KeySet", "Policy"]

STALE_METRIC = "AuthKeysStale"
# Reads the (unverified) iat of the token being checked; called only for an unknown kid.
IssuedAt = Callable[[], float | None]


class Clock(Protocol):
    """Where a key set reads the time: ``monotonic()`` for ages, ``time()`` against iat."""

    def monotonic(self) -> float: ...

    def time(self) -> float: ...


@dataclass(frozen=True, slots=True)
class Policy:
    """How a key set ages and refetches, in seconds (shared/api/auth.py sets the values)."""

    lifespan: float  # a fetched set is refreshed once this old
    max_stale: float  # ...and while refreshes fail, it verifies until this old
    retry: float  # after a failed fetch, none before this
    stale_retry: float  # while stale keys verify, a refresh is tried once per this
    leeway: float  # the clock skew allowed between the auth server and us
    burst: int  # unknown-kid refetches allowed at once
    refill: float  # ...and one more per this
    forget_unknown: float  # a kid a refetch did not find is unknown for this long


class FetchAllowance:
    """A token bucket: ``burst`` fetches at once, then one more every ``refill`` seconds."""

    def __init__(self, burst: int, refill: float, now: float) -> None:
        self._burst, self._refill = burst, refill
        self._tokens, self._at = float(burst), now

    def take(self, now: float) -> bool:
        """Spend one fetch if one is left at ``now``."""
        self._tokens = min(self._burst, self._tokens + (now - self._at) / self._refill)
        self._at = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True


class KeySet:
    """The signing keys of one JWKS endpoint, by ``kid``."""

    def __init__(self, client: jwt.PyJWKClient, policy: Policy, clock: Clock = time) -> None:
        self._client, self._policy, self._clock = client, policy, clock
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched: float | None = None  # clock.monotonic() of the last successful fetch
        self._fetched_wall = 0.0  # clock.time() then: a token's iat is wall-clock time
        self._failed: float | None = None  # clock.monotonic() of the last failed fetch
        self._unknown: dict[str, float] = {}  # kid -> when a refetch did not find it
        self._allowance = FetchAllowance(policy.burst, policy.refill, clock.monotonic())
        self._lock = threading.Lock()

    def signing_key(self, kid: str, issued_at: IssuedAt) -> jwt.PyJWK:
        """The key for ``kid``; ``issued_at`` reads the token's iat, only when ``kid`` is unknown.

        Raises AuthenticationError for a kid the endpoint does not publish, KeySetUnavailable
        when the endpoint fails (and no usable key is held), KeySetRefreshing when an unknown
        kid finds the refetch allowance spent.
        """
        with self._lock:
            now = self._clock.monotonic()
            self._refresh(now)
            key = self._keys.get(kid)
            return key if key is not None else self._refetch_for(kid, issued_at, now)

    def _refresh(self, now: float) -> None:
        """Fetch a missing or expired set; keep verifying with a stale one if that fails."""
        policy = self._policy
        if self._fetched is not None and now - self._fetched < policy.lifespan:
            return
        stale = self._fetched is not None and now - self._fetched < policy.max_stale
        if self._failed is not None and now - self._failed < (
            policy.stale_retry if stale else policy.retry
        ):
            if stale:
                return
            raise KeySetUnavailable
        try:
            self._fetch(now)
        except KeySetUnavailable as exc:
            if not stale:
                raise
            self._report_stale(now, exc)

    def _refetch_for(self, kid: str, issued_at: IssuedAt, now: float) -> jwt.PyJWK:
        """Refetch for a kid the set lacks, if its token may be newer and the allowance lets."""
        if not self._worth_a_fetch(kid, issued_at, now):
            raise AuthenticationError("token signed by an unknown key")
        if self._failed is not None and now - self._failed < self._policy.retry:
            raise KeySetUnavailable
        if not self._allowance.take(now):
            raise KeySetRefreshing
        self._fetch(now)
        key = self._keys.get(kid)
        if key is None:
            self._remember_unknown(kid, now)
            raise AuthenticationError("token signed by an unknown key")
        return key

    def _worth_a_fetch(self, kid: str, issued_at: IssuedAt, now: float) -> bool:
        """Whether the key of ``kid`` may have been published since the last fetch."""
        found_missing = self._unknown.get(kid)
        if found_missing is not None and now - found_missing < self._policy.forget_unknown:
            return False
        iat = issued_at()
        if iat is None:  # not a Better Auth token; verification decides, after one refetch
            return True
        # An iat beyond the leeway fails verification anyway: it is worth no fetch.
        leeway = self._policy.leeway
        return self._fetched_wall - leeway < iat <= self._clock.time() + leeway

    def _remember_unknown(self, kid: str, now: float) -> None:
        # Entries come only from fetches, so there are at most as many as the allowance
        # gives in ``forget_unknown`` seconds; the expired ones are dropped here.
        keep = self._policy.forget_unknown
        self._unknown = {k: t for k, t in self._unknown.items() if now - t < keep}
        self._unknown[kid] = now

    def _fetch(self, now: float) -> None:
        wall = self._clock.time()  # before the request: a key published meanwhile may be missing
        try:
            keys = self._client.get_signing_keys(refresh=True)
        except (jwt.PyJWTError, OSError, ValueError) as exc:  # down, slow, not JSON, no keys
            self._failed = now
            raise KeySetUnavailable from exc
        self._keys = {key.key_id: key for key in keys if key.key_id}
        self._fetched, self._fetched_wall, self._failed = now, wall, None

    def _report_stale(self, now: float, failure: KeySetUnavailable) -> None:
        assert self._fetched is not None  # only a held set can be stale
        cause = failure.__cause__
        logger.warning(
            "auth key set refresh failed; verifying with the keys held",
            extra={
                "error": type(cause).__name__ if cause else type(failure).__name__,
                "key_set_age_seconds": round(now - self._fetched),
                "max_stale_seconds": round(self._policy.max_stale),
            },
        )
        metrics.add_metric(name=STALE_METRIC, unit=MetricUnit.Count, value=1)
