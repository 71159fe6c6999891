"""A clock tests move by hand: what shared/api/auth.py reads the time from, made movable."""

from __future__ import annotations

import time


class MovableClock:
    """Starts at the real time and stands still until ``advance`` moves it, so a test's
    timeline is exactly the one it writes (however slowly the machine runs it)."""

    def __init__(self) -> None:
        # Whole seconds, so that moving by whole seconds is exact: from a fractional start,
        # 3599 s and then 1 s more can add up to an age a hair under 3600 s, and a limit
        # "at 3600 s" would pass or fail with the start (it failed once in a full run).
        self._wall, self._monotonic = float(int(time.time())), float(int(time.monotonic()))

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
