"""A clock tests move by hand: what shared/api/auth.py reads the time from, made movable."""

from __future__ import annotations

import time


class MovableClock:
    """Starts at the real time and stands still until ``advance`` moves it, so a test's
    timeline is exactly the one it writes (however slowly the machine runs it)."""

    def __init__(self) -> None:
        self._wall, self._monotonic = time.time(), time.monotonic()

    def monotonic(self) -> float:
        """Seconds of a monotonic clock."""
        return self._monotonic

    def time(self) -> float:
        """Seconds since the epoch."""
        return self._wall

    def advance(self, seconds: float) -> None:
        """Move both clocks ``seconds`` forward at once."""
        self._wall += seconds
        self._monotonic += seconds
