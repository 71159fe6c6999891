"""Throughput: many concurrent "containers" (processes) through PgBouncer's pool of 5.

Each container is its own process with its own engine, imports and user, calling the
routes' handlers with API Gateway events in a loop, as a busy warm Lambda container
does. The processes fork from a server that has already imported the handlers
(multiprocessing's forkserver with preload), which is what a warm container has done
too, and only the timed phase counts: all start together and run for a fixed time.
"""

from __future__ import annotations

import multiprocessing
import statistics
import sys
import time
import traceback
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Barrier
from typing import TypedDict

from bench.api import CYCLE, ROUTES, Session, UnexpectedStatus, load_handlers
from bench.container import isolate
from bench.results import ThroughputResult, percentile


class _Worker(TypedDict):
    """What one container reports after the timed phase."""

    latencies: list[float]
    errors: list[str]
    wall: float
    marks: dict[str, float]  # time.time() at "started", "imported", "warm"


def _worker(
    env: dict[str, str],
    user_id: str,
    token: str,
    barrier: Barrier,
    seconds: float,
    pipe: Connection,
) -> None:
    marks = {"started": time.time()}
    isolate(env)
    latencies: list[float] = []
    errors: list[str] = []
    try:
        session = Session(load_handlers(), user_id, token)
        marks["imported"] = time.time()
        session.call("listTasks")  # the container's first, cold call (JWKS, engine) is not timed
        marks["warm"] = time.time()
    except BaseException as exc:
        errors.append(f"warm-up: {type(exc).__name__}: {exc}")
    barrier.wait()
    began = time.perf_counter()
    deadline = began + seconds
    i = 0
    while not errors[:1] and time.perf_counter() < deadline:
        operation = CYCLE[i % len(CYCLE)]
        i += 1
        event = session.event(operation)
        start = time.perf_counter()
        try:
            session.call(operation, event)
        except UnexpectedStatus as exc:
            errors.append(str(exc))
            session.task_id = None
        except Exception as exc:
            traceback.print_exc(file=sys.stderr)
            errors.append(f"{operation}: {type(exc).__name__}: {exc}")
            session.task_id = None
        latencies.append(time.perf_counter() - start)
    pipe.send(
        _Worker(latencies=latencies, errors=errors, wall=time.perf_counter() - began, marks=marks)
    )
    pipe.close()


def run(
    containers: int,
    seconds: float,
    env: dict[str, str],
    users: list[tuple[str, str]],
) -> ThroughputResult:
    """Start ``containers`` processes, run them together for ``seconds``, sum up."""
    began = time.perf_counter()
    launched = time.time()
    ctx = multiprocessing.get_context("forkserver")
    # Takes effect only if the fork server is not running yet (nothing else starts it).
    # Not bench.run: each child runs the main module afresh, and runpy warns when it is
    # already imported.
    handlers = [route.module for route in ROUTES.values()]
    ctx.set_forkserver_preload([*handlers, "bench.throughput"])
    barrier = ctx.Barrier(containers + 1)
    pipes: list[Connection] = []
    processes = []
    for n in range(containers):
        receive, send = ctx.Pipe(duplex=False)
        user_id, token = users[n]
        process = ctx.Process(
            target=_worker, args=(env, user_id, token, barrier, seconds, send), daemon=True
        )
        process.start()
        send.close()
        pipes.append(receive)
        processes.append(process)
    barrier.wait(timeout=120)
    ready = time.perf_counter() - began
    results: list[_Worker] = [pipe.recv() for pipe in pipes]
    for process in processes:
        process.join(timeout=30)
    return _summary(containers, ready, launched, results)


def _summary(
    containers: int, ready: float, launched: float, results: list[_Worker]
) -> ThroughputResult:
    """All containers' requests as one figure; ``launched`` is when the first was started."""
    latencies = sorted(x for r in results for x in r["latencies"])
    errors = [e for r in results for e in r["errors"]]
    wall = max(r["wall"] for r in results)
    return {
        "containers": containers,
        "start_up_s": ready,
        # When the slowest container reached each step, seconds after the launch.
        "start_up_steps_s": {
            step: max(r["marks"].get(step, launched) for r in results) - launched
            for step in ("started", "imported", "warm")
        },
        "seconds": wall,
        "requests": len(latencies),
        "rps": len(latencies) / wall,
        "median_s": statistics.median(latencies) if latencies else None,
        "p95_s": percentile(latencies, 95) if latencies else None,
        "errors": len(errors),
        "error_samples": errors[:5],
    }
