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
import sys
import tempfile
import time
import traceback
import uuid
from collections import Counter as Tally
from dataclasses import dataclass
from multiprocessing.connection import Connection

from bench.api import CYCLE, KEYED, OPERATIONS, Session, load_handlers
from bench.latency import measure, measure_latency
from bench.results import CallsResult, ColdCall, ContainerReply, MemoryResult, WarmCall
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
    latency = measure_latency(session, counters, job.rtts, job.samples, reuse=_reuse())
    counters.set_rtt(0.0)
    _drop_engine()
    return {
        "setup_flights": setup,
        "cold": cold,
        "warm": warm,
        "keyed": keyed,
        "latency": latency.at_rtt,
        "floor_cpu_s": latency.floor_cpu_s,
    }


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
        first = measure(session, counters, operation, reuse=_reuse())
        cold[operation] = {
            "flights": first.flights,
            "connections": first.connections,
            "seconds": first.seconds,
        }
        warm[operation] = _warm_flights(session, counters, operation, keyed=False)
    keyed = {op: _warm_flights(session, counters, op, keyed=True) for op in KEYED}
    return cold, warm, keyed


def _warm_flights(session: Session, counters: Counters, operation: str, *, keyed: bool) -> WarmCall:
    seen = []
    for _ in range(3):
        session.prepare(operation)
        key = str(uuid.uuid4()) if keyed else None
        measured = measure(session, counters, operation, key, reuse=_reuse())
        seen.append((measured.flights, measured.connections))
    (flights, connections), _ = Tally(seen).most_common(1)[0]
    return {"flights": flights, "connections": connections, "max_flights": max(f for f, _ in seen)}


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
