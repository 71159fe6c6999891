"""Latency inside a bench container: every route at each emulated RTT, and what the model needs.

The budget of each figure is a model measured in the same run (bench/budgets.py): the
route's own median with no injected delay (0 ms, its CPU, the pooler's and the
database's time, the proxy's hops), plus round trips × the RTT the proxy really added.
So the rounds are interleaved: each round runs the whole cycle of routes at every RTT
in turn, and the figures at 0 ms and at 20 ms are taken seconds apart, under the same
load of a shared machine. The CPU figure is the container's process time per call,
beside bench/floor.py's request (the least handler these frameworks allow, no database)
timed in the same rounds: a ratio that a slower or a faster machine leaves alone.
"""

from __future__ import annotations

import statistics
import time
from collections import Counter as Tally
from typing import NamedTuple

from bench.api import CYCLE, Handler, Session
from bench.results import LatencyAtRtt, OperationLatency, percentile
from tests.support.flights import Counters

PROBE_STATEMENTS = 3  # per round and RTT, on a connection of their own
FLOOR_CALLS = 8  # the floor's requests per round, back to back


class Measurement(NamedTuple):
    """One invocation, counted at the socket and timed."""

    flights: int
    connections: int
    seconds: float  # wall time, from the handler's call to its return
    cpu_s: float  # this process's CPU time meanwhile


def measure(
    session: Session, counters: Counters, operation: str, key: str | None = None, *, reuse: bool
) -> Measurement:
    """One invocation of ``operation``, its flights counted (a NullPool call's Terminate too)."""
    if not reuse:
        counters.settle()  # the previous call's connection has closed
    counters.reset()
    event = session.event(operation, key)
    cpu, began = time.process_time(), time.perf_counter()
    session.call(operation, event)
    elapsed, cpu = time.perf_counter() - began, time.process_time() - cpu
    if not reuse:
        counters.settle()  # the closing Terminate is counted too
    return Measurement(counters.flights, counters.connections, elapsed, cpu)


class Probe(NamedTuple):
    """A bare connection at one RTT: how long it took to open, and its statements' times."""

    connect_s: float
    statements_s: list[float]


def probe(counters: Counters, statements: int = PROBE_STATEMENTS) -> Probe:
    """Open a connection, run single-flight statements, close it: the bare round trip
    through the proxy, the pooler and the database at the RTT the proxy emulates now."""
    from shared.core.settings import get_settings
    from shared.db.connect import connect
    from shared.db.url import parse_database_url

    settings = get_settings()
    assert settings.database_url is not None
    params = parse_database_url(settings.database_url.get_secret_value())
    began = time.perf_counter()
    conn = connect(params, settings)
    opened = time.perf_counter() - began
    conn.autocommit = True
    cursor = conn.cursor()
    times = []
    for _ in range(statements):
        began = time.perf_counter()
        cursor.execute("SELECT 1")
        cursor.fetchall()
        times.append(time.perf_counter() - began)
    conn.close()
    return Probe(opened, times)


class _Floor:
    """bench/floor.py's handler, invoked with a ready event: the CPU unit of the run."""

    def __init__(self) -> None:
        from bench.floor import PATH, handler
        from tests.support.events import LambdaContext, http_api_event

        self.handler: Handler = handler
        self.context = LambdaContext()
        self.path = PATH.replace("{user_id}", "u1")
        self.http_api_event = http_api_event

    def cpu_s(self) -> float:
        """CPU time of one request to the floor (its event built before the clock starts)."""
        event = self.http_api_event("GET", self.path)
        began = time.process_time()
        self.handler(event, self.context)
        return time.process_time() - began


class _Samples:
    """What the rounds collect at one RTT."""

    def __init__(self) -> None:
        self.seconds: dict[str, list[float]] = {op: [] for op in CYCLE}
        self.cpu_s: dict[str, list[float]] = {op: [] for op in CYCLE}
        self.flights: dict[str, list[int]] = {op: [] for op in CYCLE}
        self.connect_s: list[float] = []
        self.round_trip_s: list[float] = []

    def add(self, operation: str, measured: Measurement) -> None:
        self.seconds[operation].append(measured.seconds)
        self.cpu_s[operation].append(measured.cpu_s)
        self.flights[operation].append(measured.flights)

    def add_probe(self, found: Probe) -> None:
        self.connect_s.append(found.connect_s)
        self.round_trip_s += found.statements_s

    def operation(self, op: str) -> OperationLatency:
        return {
            "median_s": statistics.median(self.seconds[op]),
            "p95_s": percentile(self.seconds[op], 95),
            "cpu_s": statistics.median(self.cpu_s[op]),
            "flights": Tally(self.flights[op]).most_common(1)[0][0],
            "samples": len(self.seconds[op]),
        }

    def result(self, rtt: float, round_trip_at_0: float) -> LatencyAtRtt:
        return {
            "rtt_s": rtt,
            "round_trip_s": statistics.median(self.round_trip_s),
            "measured_rtt_s": statistics.median(self.round_trip_s) - round_trip_at_0,
            "connect_s": statistics.median(self.connect_s),
            "operations": {op: self.operation(op) for op in CYCLE},
        }


class Latency(NamedTuple):
    at_rtt: dict[str, LatencyAtRtt]  # keyed by the RTT in ms: "0", "1", "20"
    floor_cpu_s: float


def measure_latency(
    session: Session, counters: Counters, rtts: tuple[float, ...], samples: int, *, reuse: bool
) -> Latency:
    """Every route of a cycle ``samples`` times at each of ``rtts`` (the first is 0: the
    baseline), interleaved by round, each RTT's cycle after a probe of the bare round
    trip, and the floor's requests at the end of each round."""
    floor = _Floor()
    for rtt in rtts:  # two warm-up cycles at each RTT, and the floor's first requests
        counters.set_rtt(rtt)
        _cycles(session, 2)
        floor.cpu_s()
    collected = {rtt: _Samples() for rtt in rtts}
    floor_cpu: list[float] = []
    for _ in range(samples):
        for rtt in rtts:
            counters.set_rtt(rtt)
            # First, so the cycle's first call follows work at its own RTT, not the idle
            # waits of the previous RTT's.
            collected[rtt].add_probe(probe(counters))
            for operation in CYCLE:
                session.prepare(operation)
                collected[rtt].add(operation, measure(session, counters, operation, reuse=reuse))
        # Back to back, so the floor's figure is the machine's speed at this moment, not
        # what the previous call left in the caches: with one floor request after each
        # route's call, the routes' ratios to it moved by up to ±20 % between runs under
        # load; back to back, by ±3-12 %.
        floor_cpu += [floor.cpu_s() for _ in range(FLOOR_CALLS)]
    zero = statistics.median(collected[rtts[0]].round_trip_s)
    at_rtt = {f"{rtt * 1000:g}": collected[rtt].result(rtt, zero) for rtt in rtts}
    return Latency(at_rtt, statistics.median(floor_cpu))


def _cycles(session: Session, count: int) -> None:
    for _ in range(count):
        for operation in CYCLE:
            session.prepare(operation)
            session.call(operation)
