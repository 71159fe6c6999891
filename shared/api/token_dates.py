"""A token's time claims (``exp``, ``nbf``, ``iat``), checked as RFC 7519 NumericDates.

A NumericDate is a JSON number of seconds. PyJWT reads these claims with ``int()``, so
it takes ``"exp": "9999999999"`` (a string) as a date, and ``true`` as 1. Here such a
claim is refused before any time comparison, so a token with a string date is always
the same 401, whatever the string says.
"""

from __future__ import annotations

import math
from typing import Any

from shared.core.errors import AuthenticationError, TokenExpired

__all__ = ["check_dates", "issued_at", "numeric_date"]

_NUMERIC_DATES = ("exp", "nbf", "iat")


def numeric_date(value: object) -> float | None:
    """``value`` as seconds when it is a finite JSON number (not a bool), else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        seconds = float(value)
    except OverflowError:  # an integer of hundreds of digits
        return None
    return seconds if math.isfinite(seconds) else None


def issued_at(claims: dict[str, Any]) -> float | None:
    """A claims set's ``iat`` when it is a NumericDate, else None."""
    return numeric_date(claims.get("iat"))


def check_dates(claims: dict[str, Any], now: float, leeway: float) -> None:
    """Raise unless every date claim present is a number, ``exp`` is after ``now`` and
    neither ``nbf`` nor ``iat`` is later than it, each give or take ``leeway`` seconds.

    The comparisons are PyJWT's own; a missing ``exp`` is refused too.
    """
    dates: dict[str, float] = {}
    for name in _NUMERIC_DATES:
        if name in claims:
            value = numeric_date(claims[name])
            if value is None:
                raise AuthenticationError("token has an invalid date claim")
            dates[name] = value
    if "exp" not in dates:
        raise AuthenticationError("token is missing a required claim")
    if dates["exp"] <= now - leeway:
        raise TokenExpired
    if max(dates.get("nbf", -math.inf), dates.get("iat", -math.inf)) > now + leeway:
        raise AuthenticationError("token not yet valid")
