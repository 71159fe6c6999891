"""Turn the bench's results into one table of figures against their budgets."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from bench.budgets import (
    COLD_START_FLOOR_RATIO,
    DIRECT_TLS_SETUP_FLIGHTS,
    FIRST_CALL_FLIGHTS_BEYOND_SETUP,
    LAMBDA_UNZIPPED_LIMIT,
    LAMBDA_ZIPPED_LIMIT,
    MB,
    MEMORY_GROWTH_BYTES,
    NULLPOOL_FLIGHTS_BEYOND_SETUP,
    REUSE_MAX_FLIGHTS,
    SETUP_FLIGHTS,
    THROUGHPUT_MAX_ERRORS,
)
from bench.model import LatencyModel, cpu_model, implied_round_trips, round_trips
from bench.results import (
    MODES,
    CallsResult,
    DirectTlsResult,
    ExtraImports,
    LatencyAtRtt,
    Measured,
    Mode,
    ModuleImport,
    PackageZip,
    ThroughputResult,
    WarmCall,
)
from bench.stack import POOL_SIZE
from infra.packaging.package_check import CODE_BUDGET, UPLOAD_BUDGET

OK, MISS, INFO = "ok", "MISS", "info"
REPORTED, UNBUDGETED = "report", "-"  # the budget column of a figure without a budget
ROUND_TRIPS, LATENCY, COLD_START = "1-2 round trips", "3 latency", "4 cold start"
MEMORY, PACKAGE, THROUGHPUT = "5 memory", "5 package", "6 throughput"
T = TypeVar("T")


@dataclass
class Row:
    section: str
    figure: str
    measured: str
    budget: str
    verdict: str

    @property
    def missed(self) -> bool:
        return self.verdict.startswith(MISS)


def checked(section: str, figure: str, measured: str, budget: str, ok: bool) -> Row:
    """A figure against its budget: verdict ok or MISS."""
    return Row(section, figure, measured, budget, OK if ok else MISS)


def reported(section: str, figure: str, measured: str, budget: str = REPORTED) -> Row:
    """A figure reported without a verdict."""
    return Row(section, figure, measured, budget, INFO)


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def _per_mode(
    by_mode: Mapping[str, T] | None, rows_of: Callable[[Mode, T], list[Row]]
) -> list[Row]:
    """``rows_of`` each connection mode's result that is there, in MODES order."""
    found = by_mode or {}
    return [row for mode in MODES if mode.key in found for row in rows_of(mode, found[mode.key])]


# ------------------------------------------------------------------ 1-2 round trips


def round_trip_rows(results: Measured) -> list[Row]:
    calls = results.get("calls") or {}
    setup = [_setup(max(c["setup_flights"] for c in calls.values()))] if calls else []
    return setup + _per_mode(calls, _round_trips)


def _setup(flights: int) -> Row:
    """Opening and closing one connection (TCP, SSLRequest, TLS, SCRAM, Terminate)."""
    return checked(
        ROUND_TRIPS,
        "a connection's set-up, sslnegotiation=postgres (TLS, SCRAM, Terminate)",
        f"{flights} flights",
        f"{SETUP_FLIGHTS} flights",
        flights <= SETUP_FLIGHTS,
    )


def _round_trips(mode: Mode, calls: CallsResult) -> list[Row]:
    setup = calls["setup_flights"]
    # A reuse container's cold call opens the kept connection: no closing Terminate.
    opening = setup - 1 if mode.reuse else setup
    rows = [_warm(mode, setup, calls["warm"], "warm call")]
    if calls.get("keyed"):
        rows.append(_warm(mode, setup, calls["keyed"], "warm call with an Idempotency-Key"))
    return [*rows, _first_call(mode, calls, opening)]


def _warm(mode: Mode, setup: int, calls: dict[str, WarmCall], what: str) -> Row:
    """Every route's warm flights against the mode's budget: ≤ 2, or set-up + 1."""
    warm = {op: v["flights"] for op, v in calls.items()}
    worst = {op: v["max_flights"] for op, v in calls.items()}
    if mode.reuse:
        ok = all(v <= REUSE_MAX_FLIGHTS for v in worst.values())
        measured, budget = _grouped(warm, "{}"), f"≤ {REUSE_MAX_FLIGHTS}"
    else:
        beyond = NULLPOOL_FLIGHTS_BEYOND_SETUP
        extra = {op: flights - setup for op, flights in warm.items()}
        ok = all(v == beyond for v in extra.values()) and all(
            v - setup == beyond for v in worst.values()
        )
        measured, budget = _grouped(extra, "set-up + {}"), f"set-up + {beyond}"
    figure = f"{mode.label}: {what}, all {len(warm)} routes (set-up = {setup} flights)"
    return checked(ROUND_TRIPS, figure, measured, budget, ok)


def _first_call(mode: Mode, calls: CallsResult, opening: int) -> Row:
    """A new engine's first call: opening its connection + the statement, nothing else."""
    beyond = FIRST_CALL_FLIGHTS_BEYOND_SETUP
    first = {op: v["flights"] - opening for op, v in calls["cold"].items()}
    return checked(
        ROUND_TRIPS,
        f"{mode.label}: cold container's first call, all {len(first)} routes",
        _grouped(first, "set-up + {}"),
        f"set-up + {beyond}",
        all(v == beyond for v in first.values()),
    )


def _grouped(values: dict[str, int], shape: str) -> str:
    """'set-up + 1 (all)' or per-value route lists when routes differ."""
    by_value: dict[int, list[str]] = {}
    for op, value in values.items():
        by_value.setdefault(value, []).append(op)
    if len(by_value) == 1:
        return shape.format(next(iter(by_value))) + " (all routes)"
    return "; ".join(f"{shape.format(v)}: {','.join(ops)}" for v, ops in sorted(by_value.items()))


# ------------------------------------------------------------------ 3 latency


def latency_rows(results: Measured) -> list[Row]:
    return _per_mode(results.get("calls"), _latency)


def _latency(mode: Mode, calls: CallsResult) -> list[Row]:
    """Per route: CPU in floor requests, and the median at each RTT against its model."""
    by_rtt = sorted(calls["latency"].items(), key=lambda item: item[1]["rtt_s"])
    if not by_rtt or by_rtt[0][1]["rtt_s"] != 0:
        figure = f"{mode.label}: latency"
        return [checked(LATENCY, figure, "no figures at 0 ms", "a model from 0 ms", False)]
    (_, baseline), *delayed = by_rtt
    floor_s = calls["floor_cpu_s"]
    operations = baseline["operations"]
    return [
        _model_row(mode, calls["latency"], floor_s),
        *(_route_latency(mode, op, baseline, delayed, floor_s) for op in operations),
    ]


def _model_row(mode: Mode, latency: dict[str, LatencyAtRtt], floor_s: float) -> Row:
    """The parts every route's model shares, measured in this run, and the slope check."""
    added = ", ".join(
        f"{label} ms: {at['measured_rtt_s'] * 1000:.2f}"
        for label, at in latency.items()
        if at["rtt_s"]
    )
    implied = implied_round_trips(latency)
    waits = f" (a call waits for {min(implied):.1f}–{max(implied):.1f}: Δ median / Δ RTT)"
    return reported(
        LATENCY,
        f"{mode.label}: the model's parts, shared by its routes",
        f"{round_trips(mode)} round trips{waits if implied else ''}; RTT added {added}; "
        f"floor request {floor_s * 1000:.3f} ms CPU",
    )


def _route_latency(
    mode: Mode,
    op: str,
    baseline: LatencyAtRtt,
    delayed: list[tuple[str, LatencyAtRtt]],
    floor_s: float,
) -> Row:
    """One route: CPU at 0 ms against its budget, the median at each RTT against its model."""
    base = baseline["operations"][op]
    cpu = cpu_model(mode, op, base["cpu_s"], floor_s)
    measured = [f"CPU {cpu.ratio:.1f}×", f"0 ms: {_ms(base['median_s'])}"]
    budget, misses = [cpu.parts()], ([] if cpu.ok else ["CPU"])
    for label, at in delayed:
        median = at["operations"][op]["median_s"]
        model = LatencyModel(round_trips(mode), base["median_s"], at["measured_rtt_s"])
        measured.append(f"{label} ms: {_ms(median)}")
        budget.append(f"{label} ms ≤ {model.parts()}")
        if median > model.budget_s:
            misses.append(f"{label} ms")
    verdict = f"{MISS} ({', '.join(misses)})" if misses else OK
    figure = f"{mode.label}: {op} (median ms; CPU in floor requests)"
    return Row(LATENCY, figure, " · ".join(measured), " · ".join(budget), verdict)


# ------------------------------------------------------------------ 4 cold start


_UNBUDGETED_IMPORTS = {"docs": "developers' docs, not the API's path", "job": "one-shot job"}


def cold_start_rows(results: Measured) -> list[Row]:
    cold = results.get("cold_start")
    if not cold:
        return []
    floor = cold["floor"]
    return [
        reported(
            COLD_START, f"bare: import {cold['bare_modules']}", _ms(cold["bare_s"]), UNBUDGETED
        ),
        reported(
            COLD_START,
            "floor: the least handler on them (bench/floor.py: one table, one route, Mangum)",
            f"{_ms(floor['median_s'])} ({floor['bare_ratio']:.2f}× bare)",
            UNBUDGETED,
        ),
        *(_module_import(module, figure, floor) for module, figure in cold["modules"].items()),
        _extra_imports(cold["extra_imports"]),
    ]


def _module_import(module: str, figure: ModuleImport, floor: ModuleImport) -> Row:
    """An API function's import against the floor's; the docs function and the jobs' beside."""
    measured = (
        f"{_ms(figure['median_s'])} ({figure['floor_ratio']:.2f}× the floor, "
        f"{figure['bare_ratio']:.2f}× bare)"
    )
    if figure["role"] != "api":
        what = _UNBUDGETED_IMPORTS[figure["role"]]
        return reported(COLD_START, f"{module} ({what})", measured, UNBUDGETED)
    limit = _ms(floor["median_s"] * COLD_START_FLOOR_RATIO)
    budget = f"≤ {COLD_START_FLOOR_RATIO:.2f}× the floor (≈ {limit})"
    return checked(
        COLD_START, module, measured, budget, figure["floor_ratio"] <= COLD_START_FLOOR_RATIO
    )


def _extra_imports(extra: ExtraImports) -> Row:
    share = extra["extra_self_ms"] / extra["bare_self_ms"]
    top = ", ".join(f"{k} {v:.0f}" for k, v in list(extra["by_package_ms"].items())[:4])
    return reported(
        COLD_START,
        f"{extra['module']}: import work beyond the bare set (-X importtime, self ms)",
        f"+{extra['extra_self_ms']:.0f} ms, +{share:.0%} of the bare set ({top})",
    )


# ------------------------------------------------------------------ 5 memory, package


def memory_rows(results: Measured) -> list[Row]:
    memory = results.get("memory")
    if not memory:
        return []
    growth, start, end = memory["growth"], memory["rss_start"], memory["rss_end"]
    return [
        checked(
            MEMORY,
            f"RSS growth over {memory['invocations']} warm invocations (NullPool)",
            f"{growth / MB:+.2f} MB ({start / MB:.1f} → {end / MB:.1f} MB)",
            f"< {MEMORY_GROWTH_BYTES / MB:g} MB",
            growth < MEMORY_GROWTH_BYTES,
        ),
        reported(
            MEMORY, "peak RSS of that container", f"{memory['peak_rss'] / MB:.1f} MB", UNBUDGETED
        ),
    ]


def package_rows(results: Measured) -> list[Row]:
    package = results.get("package")
    if not package:
        return []
    if not package["found"]:
        return [reported(PACKAGE, "size per function", package["note"], UNBUDGETED)]
    # Functions of one build folder whose sizes agree to 0.1 MB share a row.
    groups: dict[tuple[str, str, str], list[str]] = {}
    for path, figure in package["zips"].items():
        zipped, unzipped = f"{figure['zipped'] / MB:.1f}", f"{figure['unzipped'] / MB:.1f}"
        groups.setdefault((str(Path(path).parent), zipped, unzipped), []).append(figure["function"])
    limits = f"Lambda: {LAMBDA_ZIPPED_LIMIT / MB:g} / {LAMBDA_UNZIPPED_LIMIT / MB:g} MB"
    rows = [
        reported(
            PACKAGE,
            f"{folder}/: {', '.join(functions)}",
            f"{zipped} MB zipped, {unzipped} MB unzipped (each)",
            limits,
        )
        for (folder, zipped, unzipped), functions in groups.items()
    ]
    return rows + _upload_rows(package["zips"])


def _upload_rows(zips: Mapping[str, PackageZip]) -> list[Row]:
    """Per build folder: the largest function zip, and what a fresh deploy uploads (every
    function zip and layer, infra/packaging/package_check.py's budgets)."""
    folders: dict[str, list[PackageZip]] = {}
    for path, figure in zips.items():
        folders.setdefault(str(Path(path).parent), []).append(figure)
    rows = []
    for folder, figures in folders.items():
        code = [f["zipped"] for f in figures if not f["function"].startswith("layer-")]
        upload = sum(f["zipped"] for f in figures)
        rows += [
            checked(
                PACKAGE,
                f"{folder}/: largest function zip",
                f"{max(code) / 2**20:.2f} MiB",
                f"< {CODE_BUDGET / 2**20:g} MiB",
                max(code) < CODE_BUDGET,
            ),
            checked(
                PACKAGE,
                f"{folder}/: a fresh deploy uploads",
                f"{upload / 2**20:.1f} MiB",
                f"< {UPLOAD_BUDGET / 2**20:g} MiB",
                upload < UPLOAD_BUDGET,
            ),
        ]
    return rows


# ------------------------------------------------------------------ 6 throughput


def throughput_rows(results: Measured) -> list[Row]:
    return _per_mode(results.get("throughput"), _throughput)


def _throughput(mode: Mode, figure: ThroughputResult) -> list[Row]:
    p95 = figure["p95_s"] or 0.0
    return [
        checked(
            THROUGHPUT,
            f"{mode.label}: {figure['containers']} containers, pool of {POOL_SIZE}",
            f"{figure['rps']:.0f} req/s, p95 {_ms(p95)} ms, {figure['errors']} errors",
            f"{THROUGHPUT_MAX_ERRORS} errors",
            figure["errors"] <= THROUGHPUT_MAX_ERRORS,
        )
    ]


# ------------------------------------------------------------------ direct TLS


def direct_tls_rows(results: Measured) -> list[Row]:
    found: DirectTlsResult | None = results.get("direct_tls")
    if not found:
        return []
    flights = found["setup_flights"]
    return [
        checked(
            ROUND_TRIPS,
            f"set-up with sslnegotiation=direct, PostgreSQL {found['server_version']}",
            f"{flights['direct']} flights (sslnegotiation=postgres: {flights['postgres']})",
            f"{DIRECT_TLS_SETUP_FLIGHTS} flights",
            flights["direct"] <= DIRECT_TLS_SETUP_FLIGHTS,
        )
    ]


# ------------------------------------------------------------------ the table


def rows(results: Measured) -> list[Row]:
    return (
        round_trip_rows(results)
        + direct_tls_rows(results)
        + latency_rows(results)
        + cold_start_rows(results)
        + memory_rows(results)
        + package_rows(results)
        + throughput_rows(results)
    )
