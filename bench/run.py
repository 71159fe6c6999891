"""`make bench`: measure the task API against its performance budgets, print one table.

    python -m bench.run [--quick] [--out bench-results] [--skip SECTION ...]

Sections, in order (each can be skipped by name):

  cold        import time of each handler module in fresh processes vs the bare frameworks
  package     zipped/unzipped size of each function's package, if built
  direct      a connection's set-up flights with sslnegotiation=direct, against the tests'
              PostgreSQL 18 (the stack's PgBouncer 1.18 and PostgreSQL 15 lack direct TLS)
  calls       round trips per API call counted at the socket, and latency through a proxy
              adding 0 ms (the model's baseline), 1 ms and 20 ms RTT, in interleaved
              rounds, with CPU per call beside bench/floor.py's request, both modes
  memory      RSS growth and peak over 2,000 warm invocations in one container
  throughput  32 concurrent containers through PgBouncer (server pool of 5)

Everything runs on loopback against a private PostgreSQL + PgBouncer stack started in a
temporary directory on free ports and stopped at the end. Figures are written to
<out>/latest.json and <out>/latest.md; see docs/performance.md for what each one means.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench import coldstart, direct_tls, output, package, report, throughput
from bench.api import AuthServer
from bench.container import Job, main
from bench.results import (
    MODES,
    NULLPOOL,
    CallsResult,
    ContainerReply,
    Measured,
    MemoryResult,
    Meta,
    SectionTiming,
    ThroughputResult,
)
from bench.stack import ROOT, private_stack
from tests.support.flights import Counters
from tests.support.latency import LatencyProxy
from tests.support.tokens import better_auth_id

SECTIONS = ("cold", "package", "direct", "calls", "memory", "throughput")
RTTS = (0.0, 0.001, 0.020)  # the first, no delay, is what the latency model builds on
LAMBDA_ENV = {
    "POWERTOOLS_SERVICE_NAME": "todo-api",
    "POWERTOOLS_METRICS_NAMESPACE": "TodoApi",
    "POWERTOOLS_LOG_LEVEL": "INFO",
    "DB_CONNECT_TIMEOUT": "5",
    "DB_CONNECT_ATTEMPTS": "3",
    "DB_QUERY_TIMEOUT": "8",
}
_DB_ENV = ("DATABASE_URL", "DATABASE_URL_DIRECT", "DB_REUSE_CONNECTION")
_AUTH_PREFIXES = ("AUTH_", "BETTER_AUTH_")


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer samples (a smoke run)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench-results")
    parser.add_argument("--skip", nargs="*", choices=SECTIONS, default=[])
    parser.add_argument("--samples", type=int, help="latency samples per operation and RTT")
    parser.add_argument("--cold-runs", type=int, help="fresh processes per module")
    parser.add_argument("--invocations", type=int, default=2000, help="memory run length")
    parser.add_argument("--containers", type=int, default=32)
    parser.add_argument("--seconds", type=float, help="timed phase of the throughput run")
    parser.add_argument(
        "--fail-on-miss", action="store_true", help="exit 1 when a figure misses its budget"
    )
    args = parser.parse_args(argv)
    args.samples = args.samples or (5 if args.quick else 20)
    args.cold_runs = args.cold_runs or (2 if args.quick else 7)
    args.seconds = args.seconds or (3.0 if args.quick else 8.0)
    if args.quick:
        args.invocations = min(args.invocations, 400)
    return args


_TIMINGS: dict[str, SectionTiming] = {}


def _say(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


@contextmanager
def _section(name: str, message: str) -> Iterator[None]:
    """Announce a section and record how long it took."""
    _say(message + " ...")
    began = time.monotonic()
    # The 1-minute load average when a section starts: on a shared machine, others' work
    # shows up in the figures, and this says how much of it there was.
    load = os.getloadavg()[0]
    yield
    _TIMINGS[name] = {"seconds": round(time.monotonic() - began, 1), "load_at_start": load}


def _in_container(ctx: multiprocessing.context.SpawnContext, job: Job) -> ContainerReply:
    """Run ``job`` in a fresh process (a new container) and return its reply."""
    receive, send = ctx.Pipe(duplex=False)
    process = ctx.Process(target=main, args=(job, send), daemon=True)
    process.start()
    send.close()
    reply: ContainerReply = receive.recv()
    process.join(timeout=30)
    if "error" in reply:
        raise RuntimeError(f"bench container failed: {reply['error']}")
    return reply


def _env(database_url: str, auth: AuthServer, reuse: bool) -> dict[str, str]:
    return LAMBDA_ENV | {
        "DATABASE_URL": database_url,
        "BETTER_AUTH_URL": auth.origin,
        "DB_REUSE_CONNECTION": "true" if reuse else "false",
    }


def _user(auth: AuthServer) -> tuple[str, str]:
    user_id = better_auth_id()
    return user_id, auth.token(user_id)


def _with_stack(args: argparse.Namespace, results: Measured) -> None:
    ctx = multiprocessing.get_context("spawn")
    with private_stack() as stack:
        auth = AuthServer()
        try:
            if "calls" not in args.skip:
                results["calls"] = _calls(ctx, args, stack.pooler_port, stack.database_url, auth)
            if "memory" not in args.skip:
                results["memory"] = _memory(ctx, args, stack.database_url, auth)
            if "throughput" not in args.skip:
                results["throughput"] = _throughput(args, stack.database_url, auth)
        finally:
            auth.stop()


def _calls(
    ctx: multiprocessing.context.SpawnContext,
    args: argparse.Namespace,
    pooler_port: int,
    database_url: str,
    auth: AuthServer,
) -> dict[str, CallsResult]:
    """Each mode's round trips and latency, in its own container, through the proxy."""
    counters = Counters.create(ctx)
    calls: dict[str, CallsResult] = {}
    with LatencyProxy(pooler_port, counters) as proxy:
        url = proxy.url(database_url)
        for mode in MODES:
            user_id, token = _user(auth)
            job = Job("calls", _env(url, auth, mode.reuse), user_id, token, counters)
            job.rtts, job.samples = RTTS, args.samples
            with _section(f"calls {mode.key}", f"round trips and latency, {mode.key}"):
                calls[mode.key] = _in_container(ctx, job)["calls"]
    return calls


def _memory(
    ctx: multiprocessing.context.SpawnContext,
    args: argparse.Namespace,
    database_url: str,
    auth: AuthServer,
) -> MemoryResult:
    user_id, token = _user(auth)
    env = _env(database_url, auth, NULLPOOL.reuse)
    job = Job("memory", env, user_id, token, invocations=args.invocations)
    if args.quick:
        job.warmup = 40
    with _section("memory", f"memory over {args.invocations} warm invocations"):
        return _in_container(ctx, job)["memory"]


def _throughput(
    args: argparse.Namespace, database_url: str, auth: AuthServer
) -> dict[str, ThroughputResult]:
    by_mode: dict[str, ThroughputResult] = {}
    for mode in MODES:
        users = [_user(auth) for _ in range(args.containers)]
        env = _env(database_url, auth, mode.reuse)
        message = f"throughput, {args.containers} containers, {mode.key}"
        with _section(f"throughput {mode.key}", message):
            by_mode[mode.key] = throughput.run(args.containers, args.seconds, env, users)
    return by_mode


def _commit() -> str:
    try:
        done = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "shared", "functions"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
    except OSError:
        return "unknown"
    return done.stdout.strip() + (" (+ uncommitted changes)" if dirty.stdout.strip() else "")


def _meta(argv: list[str] | None, args: argparse.Namespace, began: float, load: float) -> Meta:
    """What the figures were measured on and how: latest.json's "meta"."""
    return {
        "command": "make bench" if not argv else "python -m bench.run " + " ".join(argv),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{os.cpu_count()} CPUs, {platform.machine()}, {platform.system()}",
        "python": platform.python_version(),
        "commit": _commit(),
        "seconds": time.monotonic() - began,
        "section_seconds": _TIMINGS,
        "load_average_before": load,
        "rtts_s": list(RTTS),
        "latency_samples": args.samples,
    }


def _shown(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def run(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    # Containers get exactly the configuration the bench gives them, nothing inherited.
    for name in [n for n in os.environ if n in _DB_ENV or n.startswith(_AUTH_PREFIXES)]:
        os.environ.pop(name, None)
    os.environ.update(LAMBDA_ENV)
    began = time.monotonic()
    load_before = os.getloadavg()
    results: Measured = {}
    if "cold" not in args.skip:
        with _section("cold", f"cold start, {args.cold_runs} fresh processes per module"):
            results["cold_start"] = coldstart.measure(args.cold_runs)
    if "package" not in args.skip:
        results["package"] = package.sizes()
    if "direct" not in args.skip:
        with _section("direct", "direct TLS set-up against PostgreSQL 18"):
            results["direct_tls"] = direct_tls.measure()
    if {"calls", "memory", "throughput"} - set(args.skip):
        with _section("stack", "starting a private PostgreSQL + PgBouncer stack"):
            _with_stack(args, results)
    meta = _meta(argv, args, began, load_before[0])
    table = report.rows(results)
    print(output.text_table(table))
    json_path, md_path = output.write(results, meta, table, args.out)
    misses = sum(row.missed for row in table)
    _say(
        f"{misses} figure(s) over budget; wrote {_shown(json_path)} and {_shown(md_path)} "
        f"in {meta['seconds']:.0f} s"
    )
    return 1 if misses and args.fail_on_miss else 0


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
