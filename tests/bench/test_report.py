"""`make bench`'s table: which figures it flags as over budget, and what it says about them."""

from __future__ import annotations

from bench.budgets import LATENCY_SLACK_S
from bench.report import OK, latency_rows, round_trip_rows
from bench.results import (
    NULLPOOL,
    CallsResult,
    ColdCall,
    LatencyAtRtt,
    Measured,
    OperationLatency,
    WarmCall,
)

SETUP = 6  # flights of opening and closing one connection


def calls(
    warm_flights: dict[str, int],
    latency: dict[str, LatencyAtRtt],
    keyed_flights: dict[str, int] | None = None,
) -> Measured:
    """A NullPool measurement: each route's warm flights (the same on all three tries)."""
    warm, keyed = _warm(warm_flights), _warm(keyed_flights or {})
    cold: dict[str, ColdCall] = {
        op: {"flights": n + 4, "connections": 1, "seconds": 0.1} for op, n in warm_flights.items()
    }
    result: CallsResult = {
        "setup_flights": SETUP,
        "cold": cold,
        "warm": warm,
        "keyed": keyed,
        "latency": latency,
    }
    return {"calls": {NULLPOOL.key: result}}


def _warm(flights: dict[str, int]) -> dict[str, WarmCall]:
    return {op: {"flights": n, "connections": 1, "max_flights": n} for op, n in flights.items()}


def latency_line(flights: int, rtt_s: float) -> float:
    """The most a call taking ``flights`` round trips at ``rtt_s`` may take."""
    return flights * rtt_s + LATENCY_SLACK_S


def at_rtt(nominal_s: float, measured_s: float, median_s: float) -> LatencyAtRtt:
    """One route, "get", taking 7 round trips with ``median_s`` at an emulated RTT."""
    figure: OperationLatency = {"median_s": median_s, "p95_s": median_s, "flights": 7, "samples": 5}
    return {
        "rtt_s": nominal_s,
        "measured_rtt_s": measured_s,
        "connect_s": 0.01,
        "operations": {"get": figure},
    }


def test_a_route_with_one_more_round_trip_is_flagged_by_name() -> None:
    # GIVEN warm NullPool calls at set-up + 1 except list, which takes one more
    results = calls({"get": SETUP + 1, "list": SETUP + 2, "health": SETUP + 1}, {})
    # WHEN the table is made
    warm_row = round_trip_rows(results)[0]
    # THEN the row misses its budget and names the route that went over
    assert warm_row.missed
    assert warm_row.measured == "set-up + 1: get,health; set-up + 2: list"
    assert warm_row.budget == "set-up + 1"


def test_latency_at_its_line_passes_and_just_over_it_misses_at_that_rtt() -> None:
    # GIVEN "get" at exactly its line (round trips × RTT + slack) at 1 ms, and at 20 ms
    # 0.1 ms over it, with the proxy having added 20.8 ms where 20 were asked for
    line_1 = latency_line(7, 0.001)
    line_20 = latency_line(7, 0.0208)
    latency = {"1": at_rtt(0.001, 0.001, line_1), "20": at_rtt(0.020, 0.0208, line_20 + 1e-4)}
    # WHEN the table is made
    get_row = latency_rows(calls({"get": SETUP + 1}, latency))[0]
    # THEN the row misses at 20 ms only, and its budget uses the RTT the proxy really added
    assert get_row.verdict == "MISS (20 ms)"
    assert get_row.budget.split(" · ")[1].startswith("7×20.8+")


def test_latency_under_its_line_at_every_rtt_passes() -> None:
    # GIVEN "get" 1 ms under its line at both RTTs, the proxy adding less than asked at 20 ms
    latency = {
        "1": at_rtt(0.001, 0.0012, latency_line(7, 0.0012) - 0.001),
        "20": at_rtt(0.020, 0.0199, latency_line(7, 0.020) - 0.001),
    }
    # WHEN the table is made
    get_row = latency_rows(calls({"get": SETUP + 1}, latency))[0]
    # THEN it passes, and the budget never counts less than the RTT asked for
    assert get_row.verdict == OK
    assert get_row.budget.split(" · ")[1].startswith("7×20.0+")


def test_a_keyed_write_with_one_more_round_trip_misses_and_is_named() -> None:
    # GIVEN every route at set-up + 1, and keyed writes of which one takes a round trip more
    warm = {"get": SETUP + 1, "create": SETUP + 1}
    measured = calls(warm, {}, keyed_flights={"create": SETUP + 2, "put": SETUP + 1})
    # WHEN the round-trip rows are made
    rows = {row.figure: row for row in round_trip_rows(measured)}
    keyed = next(row for figure, row in rows.items() if "Idempotency-Key" in figure)
    plain = next(row for figure, row in rows.items() if ": warm call," in figure)
    # THEN the keyed row misses and names the route; the unkeyed one passes
    assert keyed.missed and "create" in keyed.measured
    assert not plain.missed
