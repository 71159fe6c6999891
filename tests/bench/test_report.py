"""`make bench`'s table: which figures it flags as over budget, and what it says about them.

Latency and CPU are judged against models measured in the same run, so these tests give
the report a run's worth of figures: a route's median with no delay injected (the
baseline), at 1 ms and 20 ms with the RTT the proxy really added, its CPU time, and the
floor request's CPU time. A slower machine scales every time the bench takes; a
regression adds a round trip or CPU to the route alone.
"""

from __future__ import annotations

from bench.budgets import CPU_FLOOR_REQUESTS, CPU_MARGIN, SETUP_FLIGHTS
from bench.model import round_trips
from bench.report import MISS, OK, Row, latency_rows, round_trip_rows
from bench.results import (
    NULLPOOL,
    REUSE,
    CallsResult,
    ColdCall,
    LatencyAtRtt,
    Measured,
    Mode,
    OperationLatency,
    WarmCall,
)

SETUP = SETUP_FLIGHTS  # flights of opening and closing one connection
FLOOR_S = 0.0004  # the floor request's CPU time on the machine of these figures
ADDED = {"1": 0.00118, "20": 0.02073}  # the RTT the proxy really added at 1 and 20 ms


def calls(
    warm_flights: dict[str, int],
    latency: dict[str, LatencyAtRtt] | None = None,
    keyed_flights: dict[str, int] | None = None,
    *,
    mode: Mode = NULLPOOL,
    setup: int = SETUP,
    floor_s: float = FLOOR_S,
) -> Measured:
    """One mode's measurement: each route's warm flights (the same on all three tries)."""
    warm, keyed = _warm(warm_flights), _warm(keyed_flights or {})
    cold: dict[str, ColdCall] = {
        op: {"flights": n, "connections": 1, "seconds": 0.1} for op, n in warm_flights.items()
    }
    result: CallsResult = {
        "setup_flights": setup,
        "cold": cold,
        "warm": warm,
        "keyed": keyed,
        "latency": latency or {},
        "floor_cpu_s": floor_s,
    }
    return {"calls": {mode.key: result}}


def _warm(flights: dict[str, int]) -> dict[str, WarmCall]:
    return {op: {"flights": n, "connections": 1, "max_flights": n} for op, n in flights.items()}


def route_run(
    mode: Mode,
    op: str,
    *,
    baseline_s: float,
    cpu_s: float,
    extra_round_trips: int = 0,
    extra_cpu_s: float = 0.0,
    slower: float = 1.0,
) -> Measured:
    """A run's figures for one route that waits for the mode's round trips (+ extra), with
    ``baseline_s`` at 0 ms and ``cpu_s`` of CPU; ``extra_cpu_s`` is added to every call,
    and ``slower`` scales every time the machine takes (baseline, CPU, the floor)."""
    trips = round_trips(mode) + extra_round_trips
    base = (baseline_s + extra_cpu_s) * slower
    cpu = (cpu_s + extra_cpu_s) * slower

    def at(label: str, rtt_s: float, added_s: float) -> LatencyAtRtt:
        figure: OperationLatency = {
            "median_s": base + trips * added_s,
            "p95_s": base + trips * added_s,
            "cpu_s": cpu,
            "flights": trips,
            "samples": 20,
        }
        return {
            "rtt_s": rtt_s,
            "round_trip_s": 0.0003 + added_s,
            "measured_rtt_s": added_s,
            "connect_s": 0.005,
            "operations": {op: figure},
        }

    latency = {"0": at("0", 0.0, 0.0), "1": at("1", 0.001, ADDED["1"])}
    latency["20"] = at("20", 0.020, ADDED["20"])
    flights = trips if mode.reuse else SETUP + trips - round_trips(mode) + 1
    return calls({op: flights}, latency, mode=mode, floor_s=FLOOR_S * slower)


def route_row(results: Measured, op: str) -> Row:
    return next(row for row in latency_rows(results) if f": {op} (" in row.figure)


def at_its_reference(mode: Mode, op: str) -> float:
    """CPU seconds per call exactly at the route's reference in floor requests."""
    return CPU_FLOOR_REQUESTS[mode.key][op] * FLOOR_S


# ------------------------------------------------------------------ round trips


def test_a_route_with_one_more_round_trip_is_flagged_by_name() -> None:
    # GIVEN warm NullPool calls at set-up + 1 except list, which takes one more
    results = calls({"get": SETUP + 1, "list": SETUP + 2, "health": SETUP + 1})
    # WHEN the table is made
    warm_row = next(row for row in round_trip_rows(results) if ": warm call," in row.figure)
    # THEN the row misses its budget and names the route that went over
    assert warm_row.missed
    assert warm_row.measured == "set-up + 1: get,health; set-up + 2: list"
    assert warm_row.budget == "set-up + 1"


def test_a_connection_set_up_with_one_more_round_trip_misses() -> None:
    # GIVEN a run whose connections take one flight more to open (every call with them)
    results = calls({"get": SETUP + 2}, setup=SETUP + 1)
    # WHEN the round-trip rows are made
    rows = round_trip_rows(results)
    setup_row = next(row for row in rows if "set-up, sslnegotiation=postgres" in row.figure)
    warm_row = next(row for row in rows if ": warm call," in row.figure)
    # THEN the set-up row misses, though each call is still "set-up + 1" of that set-up
    assert setup_row.missed and setup_row.measured == f"{SETUP + 1} flights"
    assert not warm_row.missed


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


# ------------------------------------------------------------------ latency and CPU


def test_a_route_at_its_model_passes_and_the_row_shows_the_models_parts() -> None:
    # GIVEN a NullPool getTask run exactly as modelled: 9 ms at 0 ms, 7 round trips more
    # at each RTT, and CPU at its reference in floor requests
    cpu = at_its_reference(NULLPOOL, "getTask")
    results = route_run(NULLPOOL, "getTask", baseline_s=0.009, cpu_s=cpu)
    # WHEN the table is made
    row = route_row(results, "getTask")
    # THEN it passes, and its budget shows baseline × margin + round trips × RTT added
    assert row.verdict == OK
    assert "20 ms ≤ 9.0×1.3 + 7.5×20.73 = 167.2" in row.budget
    assert row.measured.startswith(f"CPU {CPU_FLOOR_REQUESTS['nullpool']['getTask']:.1f}×")


def test_one_more_round_trip_misses_the_latency_row_in_both_modes() -> None:
    for mode in (NULLPOOL, REUSE):
        # GIVEN a run where listTasks waits for one round trip more than its mode's budget
        cpu = at_its_reference(mode, "listTasks")
        results = route_run(mode, "listTasks", baseline_s=0.009, cpu_s=cpu, extra_round_trips=1)
        # WHEN the table is made
        row = route_row(results, "listTasks")
        # THEN its latency row misses at 20 ms, though the baseline absorbed nothing of it
        assert row.missed and "20 ms" in row.verdict, (mode.key, row)


def test_twenty_percent_more_cpu_on_a_route_misses_its_row() -> None:
    for mode in (NULLPOOL, REUSE):
        # GIVEN a run where createTask's code path costs 20% more CPU than its reference,
        # which its time at every RTT carries too
        cpu = at_its_reference(mode, "createTask")
        results = route_run(mode, "createTask", baseline_s=0.009, cpu_s=cpu, extra_cpu_s=cpu * 0.2)
        # WHEN the table is made
        row = route_row(results, "createTask")
        # THEN the row misses on CPU: the latency model, built from the same slower
        # baseline, cannot see it, and the floor request can
        assert row.verdict == f"{MISS} (CPU)", (mode.key, row)


def test_a_slower_machine_scaling_baseline_and_figures_alike_passes() -> None:
    for slower in (0.5, 1.6, 3.0):
        # GIVEN a run on a machine `slower` times as slow: every CPU-bound time the bench
        # takes scales (the route's, the floor's), the network's does not
        cpu = at_its_reference(NULLPOOL, "updateTask") * (1 + CPU_MARGIN) * 0.99
        results = route_run(NULLPOOL, "updateTask", baseline_s=0.009, cpu_s=cpu, slower=slower)
        # WHEN the table is made
        row = route_row(results, "updateTask")
        # THEN it passes at every speed, even with CPU just under its budget
        assert row.verdict == OK, (slower, row)


def test_cpu_noise_within_the_models_margin_passes_at_every_rtt() -> None:
    # GIVEN a reuse run whose calls at 1 and 20 ms are 25% slower in CPU-bound time than the
    # same calls at 0 ms (a CPU that comes back slower after each wait), no round trip more
    cpu = at_its_reference(REUSE, "getTask")
    results = route_run(REUSE, "getTask", baseline_s=0.003, cpu_s=cpu)
    for label in ("1", "20"):
        figure = results["calls"]["reuse"]["latency"][label]["operations"]["getTask"]
        figure["median_s"] += 0.003 * 0.25
    # WHEN the table is made
    row = route_row(results, "getTask")
    # THEN it passes
    assert row.verdict == OK, row


def test_a_route_without_a_cpu_budget_misses_so_a_new_route_gets_one() -> None:
    # GIVEN a run with a route bench/budgets.py does not know
    results = route_run(NULLPOOL, "archiveTask", baseline_s=0.009, cpu_s=0.005)
    # WHEN the table is made
    row = route_row(results, "archiveTask")
    # THEN it misses on CPU and says why
    assert row.verdict == f"{MISS} (CPU)"
    assert "no budget" in row.budget


def test_a_run_without_figures_at_0_ms_cannot_pass() -> None:
    # GIVEN latency figures at 1 and 20 ms only (no baseline to model from)
    results = route_run(NULLPOOL, "getTask", baseline_s=0.009, cpu_s=0.005)
    del results["calls"]["nullpool"]["latency"]["0"]
    # WHEN the table is made
    rows = latency_rows(results)
    # THEN one row misses, saying what is missing
    assert [row.measured for row in rows if row.missed] == ["no figures at 0 ms"]
