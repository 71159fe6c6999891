"""Code that runs inside one bench "container": a fresh process importing the handlers.

The parent process starts each container with `multiprocessing` (spawn, so imports are
fresh), hands it a job and reads back one JSON-ready dict. Powertools writes a log line
and a metrics blob per invocation to stdout, as in Lambda; a container sends its stdout
to /dev/null so the cost stays and the noise goes.
"""

from __future__ import annotations

import gc
import os
import resource
import statistics
import sys
import tempfile
import time
import traceback
import uuid
from collections import Counter as Tally
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import NamedTuple

from bench.api import CYCLE, KEYED, OPERATIONS, Session, load_handlers
from bench.results import (
    CallsResult,
    ColdCall,
    ContainerReply,
    LatencyAtRtt,
    MemoryResult,
    WarmCall,
    percentile,
)
from tests.support.flights import Counters

_PAGE = os.sysconf("SC_PAGE_SIZE")
COUNT_RTT = 0.001  # seconds of emulated RTT while round trips are counted


@dataclass
class Job:
    """What one container does; ``kind`` is "calls" (round trips + latency) or "memory"."""

    kind: str
    env: dict[str, str]
    user_id: str
    token: str
    counters: Counters | None = None
    rtts: tuple[float, ...] = ()
    samples: int = 20
    invocations: int = 2000
    warmup: int = 200  # memory: untimed invocations before the first RSS reading


def isolate(env: dict[str, str]) -> None:
    """Set up this process like a Lambda container.

    Its configuration is ``env`` alone: the working directory moves away from the
    checkout, so a developer's ``.env`` file there cannot change what is measured.
    Stdout (Powertools' log lines and metrics) goes to /dev/null.
    """
    # The import path must mean the same once the working directory has changed.
    sys.path[:] = [os.path.abspath(entry) for entry in sys.path]
    os.chdir(tempfile.gettempdir())
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.environ.update(env)


def main(job: Job, pipe: Connection) -> None:
    """Container entry point: run ``job``, send its result (or its error) down ``pipe``."""
    isolate(job.env)
    try:
        handlers = load_handlers()
        session = Session(handlers, job.user_id, job.token)
        reply: ContainerReply = (
            {"memory": _memory(job, session)}
            if job.kind == "memory"
            else {"calls": _calls(job, session)}
        )
        pipe.send(reply)
    except BaseException as exc:
        traceback.print_exc(file=sys.stderr)
        pipe.send(ContainerReply(error=f"{type(exc).__name__}: {exc}"))
    finally:
        pipe.close()


def rss_bytes() -> int:
    """The process's resident set size now."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * _PAGE


# ------------------------------------------------------------------ round trips, latency


def _reuse() -> bool:
    return os.environ.get("DB_REUSE_CONNECTION", "").lower() == "true"


def _drop_engine() -> None:
    """Forget the engine, as a new container would not have one (closing kept connections)."""
    from shared.db.engine import reset_engine

    reset_engine()


def _measured(
    session: Session, counters: Counters, operation: str, key: str | None = None
) -> tuple[int, int, float]:
    """Flights, connections and wall seconds of one invocation, counted at the socket."""
    if not _reuse():
        counters.settle()  # the previous call's connection has closed
    counters.reset()
    event = session.event(operation, key)
    began = time.perf_counter()
    session.call(operation, event)
    elapsed = time.perf_counter() - began
    if not _reuse():
        counters.settle()  # the closing Terminate is counted too
    return counters.flights, counters.connections, elapsed


def _setup_flights(counters: Counters) -> int:
    """Round trips of opening (TLS + SCRAM) and closing one connection, nothing else."""
    from shared.core.settings import get_settings
    from shared.db.connect import connect
    from shared.db.url import parse_database_url

    settings = get_settings()
    assert settings.database_url is not None
    params = parse_database_url(settings.database_url.get_secret_value())
    counters.settle()
    counters.reset()
    connect(params, settings).close()
    counters.settle()
    return counters.flights


class Calibration(NamedTuple):
    statement_s: float  # median seconds of one single-flight statement
    connect_s: float  # opening the connection


def _calibrate(counters: Counters, rtt: float, statements: int = 25) -> Calibration:
    """Median seconds of one single-flight statement on an open connection at ``rtt``."""
    from shared.core.settings import get_settings
    from shared.db.connect import connect
    from shared.db.url import parse_database_url

    settings = get_settings()
    assert settings.database_url is not None
    params = parse_database_url(settings.database_url.get_secret_value())
    counters.set_rtt(rtt)
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
    return Calibration(statistics.median(times), opened)


def _calls(job: Job, session: Session) -> CallsResult:
    assert job.counters is not None
    counters = job.counters
    # Counted at a small RTT: bytes a client sends without waiting (TLS Finished and the
    # startup message) then reach the proxy before any answer can, so they are one flight.
    counters.set_rtt(COUNT_RTT)
    session.call("health")  # the JWKS fetch and first-use work are not what is counted here
    _drop_engine()  # a kept connection (reuse mode) would never let the counts settle
    setup = _setup_flights(counters)
    cold, warm, keyed = _route_flights(session, counters)
    baseline = _calibrate(counters, 0.0)  # the server's own time for a statement
    latency = {
        f"{rtt * 1000:g}": _latency_at(session, counters, rtt, job.samples, baseline.statement_s)
        for rtt in job.rtts
    }
    counters.set_rtt(0.0)
    _drop_engine()
    return {"setup_flights": setup, "cold": cold, "warm": warm, "keyed": keyed, "latency": latency}


def _route_flights(
    session: Session, counters: Counters
) -> tuple[dict[str, ColdCall], dict[str, WarmCall], dict[str, WarmCall]]:
    """Each route's flights: once in a cold container, then the most common of three warm;
    and the write routes' warm flights again with a new Idempotency-Key each call."""
    cold: dict[str, ColdCall] = {}
    warm: dict[str, WarmCall] = {}
    for operation in OPERATIONS:
        session.prepare(operation)
        _drop_engine()
        counters.settle()  # a kept connection's Terminate is not this call's
        flights, connections, elapsed = _measured(session, counters, operation)
        cold[operation] = {"flights": flights, "connections": connections, "seconds": elapsed}
        warm[operation] = _warm_flights(session, counters, operation, keyed=False)
    keyed = {op: _warm_flights(session, counters, op, keyed=True) for op in KEYED}
    return cold, warm, keyed


def _warm_flights(session: Session, counters: Counters, operation: str, *, keyed: bool) -> WarmCall:
    seen = []
    for _ in range(3):
        session.prepare(operation)
        key = str(uuid.uuid4()) if keyed else None
        flights, connections, _ = _measured(session, counters, operation, key)
        seen.append((flights, connections))
    (flights, connections), _ = Tally(seen).most_common(1)[0]
    return {"flights": flights, "connections": connections, "max_flights": max(f for f, _ in seen)}


def _latency_at(
    session: Session, counters: Counters, rtt: float, samples: int, baseline_s: float
) -> LatencyAtRtt:
    """Every route of a cycle, ``samples`` times at ``rtt``, after two warm-up cycles."""
    calibration = _calibrate(counters, rtt)
    for _ in range(2):  # warm-up at this RTT
        for operation in CYCLE:
            session.prepare(operation)
            session.call(operation)
    times: dict[str, list[float]] = {op: [] for op in CYCLE}
    flights_seen: dict[str, list[int]] = {op: [] for op in CYCLE}
    for _ in range(samples):
        for operation in CYCLE:
            session.prepare(operation)
            flights, _, elapsed = _measured(session, counters, operation)
            times[operation].append(elapsed)
            flights_seen[operation].append(flights)
    # The proxy's overshoot drifts with the machine's load: calibrating again after
    # the samples and taking the mean matches the RTT to the moments they were taken.
    after = _calibrate(counters, rtt).statement_s
    return {
        "rtt_s": rtt,
        "measured_rtt_s": (calibration.statement_s + after) / 2 - baseline_s,
        "connect_s": calibration.connect_s,
        "operations": {
            op: {
                "median_s": statistics.median(times[op]),
                "p95_s": percentile(times[op], 95),
                "flights": Tally(flights_seen[op]).most_common(1)[0][0],
                "samples": len(times[op]),
            }
            for op in CYCLE
        },
    }


# ------------------------------------------------------------------ memory


def _memory(job: Job, session: Session) -> MemoryResult:
    warmup = job.warmup
    for i in range(warmup):
        session.call(CYCLE[i % len(CYCLE)])
    gc.collect()
    start = rss_bytes()
    trend = []
    began = time.perf_counter()
    step = max(1, job.invocations // 8)
    for i in range(job.invocations):
        session.call(CYCLE[(warmup + i) % len(CYCLE)])
        if (i + 1) % step == 0:
            trend.append(rss_bytes())
    elapsed = time.perf_counter() - began
    gc.collect()
    end = rss_bytes()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {
        "warmup": warmup,
        "invocations": job.invocations,
        "rss_start": start,
        "rss_end": end,
        "growth": end - start,
        "peak_rss": peak,
        "trend": trend,
        "seconds": elapsed,
    }
