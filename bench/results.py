"""What each bench section measures, in the JSON-ready shapes bench-results/latest.json holds.

Containers send these down a pipe and the report reads them, so they are plain dicts
(TypedDicts): the JSON written is exactly what was measured, with no conversion step.
Durations are seconds (``_s``), sizes bytes, unless a key says ``_ms``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, NotRequired, TypedDict


@dataclass(frozen=True)
class Mode:
    """A connection mode the bench measures: its results' key and what the table calls it."""

    key: str
    label: str
    reuse: bool  # DB_REUSE_CONNECTION


NULLPOOL = Mode("nullpool", "NullPool (default)", reuse=False)
REUSE = Mode("reuse", "DB_REUSE_CONNECTION=true", reuse=True)
MODES = (NULLPOOL, REUSE)


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile (p95 of 20 samples is the 19th smallest)."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * pct // 100))
    return ordered[int(rank) - 1]


# ------------------------------------------------------------------ calls (1-3)


class ColdCall(TypedDict):
    """A cold container's first call to one route, counted at the socket."""

    flights: int
    connections: int
    seconds: float


class WarmCall(TypedDict):
    """A warm call to one route: the most common of three counts, and the worst flights."""

    flights: int
    connections: int
    max_flights: int


class OperationLatency(TypedDict):
    median_s: float
    p95_s: float
    cpu_s: float  # median CPU time of the container per call
    flights: int  # the most common count over the samples
    samples: int


class LatencyAtRtt(TypedDict):
    """Every route's latency at one emulated RTT."""

    rtt_s: float  # nominal
    round_trip_s: float  # a bare one-flight statement on an open connection, at this RTT
    measured_rtt_s: float  # what the proxy really added: round_trip_s over the one at 0 ms
    connect_s: float
    operations: dict[str, OperationLatency]


class CallsResult(TypedDict):
    """One connection mode's round trips and latency, keyed by operation (and RTT in ms)."""

    setup_flights: int
    cold: dict[str, ColdCall]
    warm: dict[str, WarmCall]
    keyed: dict[str, WarmCall]  # the write routes again, each with a new Idempotency-Key
    latency: dict[str, LatencyAtRtt]  # "0" (no delay injected) is the model's baseline
    floor_cpu_s: float  # bench/floor.py's request, CPU time, in the same rounds


# ------------------------------------------------------------------ cold start (4)


Role = Literal["api", "docs", "job"]  # an API function, the docs function, a one-shot job


class ModuleImport(TypedDict):
    median_s: float
    bare_ratio: float  # median of each round's import over the same round's bare import
    floor_ratio: float  # ... over the same round's import of bench/floor.py (the verdict's)
    runs_s: list[float]
    role: Role  # only an API function's import has a budget


class ExtraImports(TypedDict):
    """Import work of ``module`` beyond the bare set, from ``-X importtime`` (self ms)."""

    module: str
    extra_self_ms: float
    bare_self_ms: float
    by_package_ms: dict[str, float]  # largest first
    top_modules_ms: dict[str, float]


class ColdStartResult(TypedDict):
    runs: int
    bare_modules: str
    bare_s: float
    bare_runs_s: list[float]
    floor: ModuleImport  # bench/floor.py: the least handler on the same frameworks
    modules: dict[str, ModuleImport]
    extra_imports: ExtraImports


# ------------------------------------------------------------------ memory, package (5)


class MemoryResult(TypedDict):
    """RSS of one container over a run of warm invocations."""

    warmup: int
    invocations: int
    rss_start: int
    rss_end: int
    growth: int
    peak_rss: int
    trend: list[int]
    seconds: float


class PackageZip(TypedDict):
    function: str
    zipped: int
    unzipped: int
    files: int
    largest_unzipped: dict[str, int]  # unzipped bytes per top-level folder, largest first


class PackagesFound(TypedDict):
    found: Literal[True]
    zips: dict[str, PackageZip]  # keyed by the zip's path in the checkout


class PackagesMissing(TypedDict):
    found: Literal[False]
    note: str


PackageResult = PackagesFound | PackagesMissing


# ------------------------------------------------------------------ throughput (6)


class ThroughputResult(TypedDict):
    containers: int
    start_up_s: float
    start_up_steps_s: dict[str, float]  # when the slowest container reached each step
    seconds: float
    requests: int
    rps: float
    median_s: float | None  # None when no request completed
    p95_s: float | None
    errors: int
    error_samples: list[str]


class DirectTlsResult(TypedDict):
    """A connection's set-up flights per sslnegotiation, against PostgreSQL 17+."""

    server_version: str
    setup_flights: dict[str, int]  # "postgres" (SSLRequest first), "direct"


# ------------------------------------------------------------------ the whole run


class SectionTiming(TypedDict):
    seconds: float
    load_at_start: float  # 1-minute load average


class Meta(TypedDict):
    command: str
    date: str
    machine: str
    python: str
    commit: str
    seconds: float
    section_seconds: dict[str, SectionTiming]
    load_average_before: float
    rtts_s: list[float]
    latency_samples: int


class Measured(TypedDict, total=False):
    """A key per section that ran, by mode key where there are two (latest.json adds meta)."""

    cold_start: ColdStartResult
    package: PackageResult
    calls: dict[str, CallsResult]
    memory: MemoryResult
    throughput: dict[str, ThroughputResult]
    direct_tls: DirectTlsResult


class ContainerReply(TypedDict):
    """What a bench container sends back: its job's result under the job's kind, or an error."""

    calls: NotRequired[CallsResult]
    memory: NotRequired[MemoryResult]
    error: NotRequired[str]
