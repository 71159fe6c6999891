"""The budgets of section 3, as models of figures measured in the same run.

A call at an emulated RTT waits for its round trips and does its work: its median is
modelled as the same route's median with no delay injected (the run's own baseline: its
CPU, the pooler's and the database's time, the proxy's hops) plus round trips × the RTT
the proxy really added; the margins allow for a call that waits being slower than the
same call at 0 ms beyond its RTTs (cold caches, a core to wait for) and for noise. The
round trips are the budget's (bench/budgets.py), not the ones counted, so a call that
takes one more misses here as well as in section 1.

Its CPU time is judged in units of bench/floor.py's request, timed in the same rounds:
a slower machine makes both slower, a slower code path only the route.
"""

from __future__ import annotations

from dataclasses import dataclass

from bench.budgets import (
    CPU_FLOOR_REQUESTS,
    CPU_MARGIN,
    LATENCY_BASELINE_MARGIN,
    LATENCY_SPARE_ROUND_TRIPS,
    NULLPOOL_FLIGHTS_BEYOND_SETUP,
    REUSE_MAX_FLIGHTS,
    SETUP_FLIGHTS,
)
from bench.results import LatencyAtRtt, Mode


def round_trips(mode: Mode) -> int:
    """The round trips a warm call of ``mode`` may wait for, by the budgets of section 1-2.

    A NullPool call's count includes its Terminate, which nothing waits for, and leaves
    out the TCP handshake, which the proxy charges: the two cancel.
    """
    return REUSE_MAX_FLIGHTS if mode.reuse else SETUP_FLIGHTS + NULLPOOL_FLIGHTS_BEYOND_SETUP


@dataclass(frozen=True)
class LatencyModel:
    """The most one route's median at one RTT may be: its baseline and round trips × the
    RTT added, with the margins."""

    round_trips: int
    baseline_s: float  # the same route's median with no delay injected
    rtt_s: float  # the RTT the proxy really added

    @property
    def budget_s(self) -> float:
        """The model with its margins: the baseline's share, and half a round trip."""
        cpu = self.baseline_s * (1 + LATENCY_BASELINE_MARGIN)
        return cpu + (self.round_trips + LATENCY_SPARE_ROUND_TRIPS) * self.rtt_s

    def parts(self) -> str:
        """'8.8×1.3 + 7.5×1.22 = 20.6': baseline × margin, round trips (+ the spare) × RTT
        added, the budget (ms)."""
        margin = 1 + LATENCY_BASELINE_MARGIN
        spare = self.round_trips + LATENCY_SPARE_ROUND_TRIPS
        return (
            f"{self.baseline_s * 1000:.1f}×{margin:g} + {spare:g}×{self.rtt_s * 1000:.2f}"
            f" = {self.budget_s * 1000:.1f}"
        )


@dataclass(frozen=True)
class CpuModel:
    """One route's CPU time per call against its budget in floor requests."""

    cpu_s: float
    floor_s: float  # bench/floor.py's request, in the same rounds
    reference: float | None  # the route's figure in floor requests (budgets.py), if any

    @property
    def ratio(self) -> float:
        return self.cpu_s / self.floor_s

    @property
    def limit(self) -> float | None:
        return None if self.reference is None else self.reference * (1 + CPU_MARGIN)

    @property
    def ok(self) -> bool:
        return self.limit is not None and self.ratio <= self.limit

    def parts(self) -> str:
        """'≤ 13.3×1.15 = 15.3×' or, for a route without a figure, 'no budget'."""
        if self.reference is None or self.limit is None:
            return "CPU: no budget in bench/budgets.py"
        return f"CPU ≤ {self.reference:g}×{1 + CPU_MARGIN:g} = {self.limit:.1f}×"


def cpu_model(mode: Mode, operation: str, cpu_s: float, floor_s: float) -> CpuModel:
    return CpuModel(cpu_s, floor_s, CPU_FLOOR_REQUESTS.get(mode.key, {}).get(operation))


def implied_round_trips(latency: dict[str, LatencyAtRtt]) -> list[float]:
    """How many RTTs each operation's median grows by between the lowest and highest RTT:
    the round trips a call really waits for, checked apart from the counts."""
    if len(latency) < 2:
        return []
    low, high = sorted(latency.values(), key=lambda at: at["rtt_s"])[:: len(latency) - 1]
    spread = high["measured_rtt_s"] - low["measured_rtt_s"]
    return [
        (high["operations"][op]["median_s"] - low["operations"][op]["median_s"]) / spread
        for op in low["operations"]
    ]
