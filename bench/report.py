"""Turn the bench's raw results into one table of figures against their budgets."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MB = 1024 * 1024
OK, MISS, INFO = "ok", "MISS", "info"
MODES = {"nullpool": "NullPool (default)", "reuse": "DB_REUSE_CONNECTION=true"}
LATENCY_SLACK_S = 0.005
COLD_START_RATIO = 1.10
MEMORY_GROWTH_BYTES = 5 * MB


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile (p95 of 20 samples is the 19th smallest)."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * pct // 100))
    return ordered[int(rank) - 1]


@dataclass
class Row:
    section: str
    figure: str
    measured: str
    budget: str
    verdict: str

    def as_dict(self) -> dict[str, str]:
        return {
            "section": self.section,
            "figure": self.figure,
            "measured": self.measured,
            "budget": self.budget,
            "verdict": self.verdict,
        }


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def _verdict(ok: bool) -> str:
    return OK if ok else MISS


def round_trip_rows(results: dict[str, Any]) -> list[Row]:
    rows = []
    for mode, label in MODES.items():
        calls = results.get("calls", {}).get(mode)
        if not calls:
            continue
        setup = calls["setup_flights"]
        warm = {op: v["flights"] for op, v in calls["warm"].items()}
        worst = {op: v["max_flights"] for op, v in calls["warm"].items()}
        cold = {op: v["flights"] for op, v in calls["cold"].items()}
        if mode == "nullpool":
            extra = {op: flights - setup for op, flights in warm.items()}
            ok = all(v == 1 for v in extra.values()) and all(worst[op] - setup == 1 for op in worst)
            measured = _grouped(extra, "set-up + {}")
            budget = "set-up + 1"
            cold_extra = {op: flights - setup - 1 for op, flights in cold.items()}
        else:
            ok = all(v <= 2 for v in worst.values())
            measured = _grouped(warm, "{}")
            budget = "≤ 2"
            # a cold call opens the kept connection: set-up without the closing Terminate
            cold_extra = {op: flights - (setup - 1) - 1 for op, flights in cold.items()}
        rows.append(
            Row(
                "1-2 round trips",
                f"{label}: warm call, all 8 routes (set-up = {setup} flights)",
                measured,
                budget,
                _verdict(ok),
            )
        )
        rows.append(
            Row(
                "1-2 round trips",
                f"{label}: cold container's first call, one-time dialect checks",
                _grouped(cold_extra, "+{}"),
                "report",
                INFO,
            )
        )
    return rows


def _grouped(values: dict[str, int], shape: str) -> str:
    """'set-up + 1 (all)' or per-value route lists when routes differ."""
    by_value: dict[int, list[str]] = {}
    for op, value in values.items():
        by_value.setdefault(value, []).append(op)
    if len(by_value) == 1:
        return shape.format(next(iter(by_value))) + " (all routes)"
    return "; ".join(f"{shape.format(v)}: {','.join(ops)}" for v, ops in sorted(by_value.items()))


def latency_rows(results: dict[str, Any]) -> list[Row]:
    rows = []
    for mode, label in MODES.items():
        calls = results.get("calls", {}).get(mode)
        if not calls:
            continue
        latency = calls["latency"]
        ops = next(iter(latency.values()))["operations"] if latency else {}
        for op in ops:
            measured, budget, misses = [], [], []
            for rtt_label, at in latency.items():
                figure = at["operations"][op]
                # The RTT the proxy really added (its sleeps overshoot a little), not the
                # nominal one: the emulator's error is not the code's.
                rtt = max(at["rtt_s"], at["measured_rtt_s"])
                limit = figure["flights"] * rtt + LATENCY_SLACK_S
                measured.append(
                    f"{rtt_label} ms: {_ms(figure['median_s'])} / {_ms(figure['p95_s'])}"
                )
                budget.append(f"{figure['flights']}×{_ms(rtt)}+5 = {_ms(limit)}")
                if figure["median_s"] > limit:
                    misses.append(f"{rtt_label} ms")
            rows.append(
                Row(
                    "3 latency",
                    f"{label}: {op} (median / p95 ms)",
                    " · ".join(measured),
                    " · ".join(budget),
                    f"{MISS} ({', '.join(misses)})" if misses else OK,
                )
            )
        implied = _implied_round_trips(latency)
        if implied:
            rows.append(
                Row(
                    "3 latency",
                    f"{label}: round trips a call waits for (Δ median / Δ RTT)",
                    f"{min(implied):.1f}–{max(implied):.1f} over the 8 routes",
                    "report",
                    INFO,
                )
            )
    return rows


def _implied_round_trips(latency: dict[str, Any]) -> list[float]:
    """How many RTTs each operation's median grows by between the lowest and highest RTT."""
    if len(latency) < 2:
        return []
    low, high = sorted(latency.values(), key=lambda at: at["rtt_s"])[:: len(latency) - 1]
    spread = high["measured_rtt_s"] - low["measured_rtt_s"]
    return [
        (high["operations"][op]["median_s"] - low["operations"][op]["median_s"]) / spread
        for op in low["operations"]
    ]


def cold_start_rows(results: dict[str, Any]) -> list[Row]:
    cold = results.get("cold_start")
    if not cold:
        return []
    bare = cold["bare_s"]
    limit = bare * COLD_START_RATIO
    rows = [Row("4 cold start", f"bare: import {cold['bare_modules']}", _ms(bare), "-", INFO)]
    for module, figure in cold["modules"].items():
        measured = f"{_ms(figure['median_s'])} ({figure['ratio']:.2f}×)"
        if figure["job"]:
            rows.append(Row("4 cold start", f"{module} (one-shot job)", measured, "-", INFO))
        else:
            ok = figure["ratio"] <= COLD_START_RATIO
            budget = f"≤ 1.10× (≈ {_ms(limit)})"
            rows.append(Row("4 cold start", module, measured, budget, _verdict(ok)))
    extra = cold.get("extra_imports")
    if extra:
        share = extra["extra_self_ms"] / extra["bare_self_ms"]
        top = ", ".join(f"{k} {v:.0f}" for k, v in list(extra["by_package_ms"].items())[:4])
        rows.append(
            Row(
                "4 cold start",
                f"{extra['module']}: import work beyond the bare set (-X importtime, self ms)",
                f"+{extra['extra_self_ms']:.0f} ms, +{share:.0%} of the bare set ({top})",
                "report",
                INFO,
            )
        )
    return rows


def memory_rows(results: dict[str, Any]) -> list[Row]:
    rows = []
    memory = results.get("memory")
    if memory:
        growth = memory["growth"]
        rows.append(
            Row(
                "5 memory",
                f"RSS growth over {memory['invocations']} warm invocations (NullPool)",
                f"{growth / MB:+.2f} MB ({memory['rss_start'] / MB:.1f} → "
                f"{memory['rss_end'] / MB:.1f} MB)",
                "< 5 MB",
                _verdict(growth < MEMORY_GROWTH_BYTES),
            )
        )
        rows.append(
            Row(
                "5 memory",
                "peak RSS of that container",
                f"{memory['peak_rss'] / MB:.1f} MB",
                "-",
                INFO,
            )
        )
    package = results.get("package")
    if package and not package["found"]:
        rows.append(Row("5 package", "size per function", package["note"], "-", INFO))
    elif package:
        # Functions of one build folder whose sizes agree to 0.1 MB share a row.
        groups: dict[tuple[str, str, str], list[str]] = {}
        for path, figure in package["zips"].items():
            key = (
                str(Path(path).parent),
                f"{figure['zipped'] / MB:.1f}",
                f"{figure['unzipped'] / MB:.1f}",
            )
            groups.setdefault(key, []).append(figure["function"])
        for (folder, zipped, unzipped), functions in groups.items():
            rows.append(
                Row(
                    "5 package",
                    f"{folder}/: {', '.join(functions)}",
                    f"{zipped} MB zipped, {unzipped} MB unzipped (each)",
                    "Lambda: 50 / 250 MB",
                    INFO,
                )
            )
    return rows


def throughput_rows(results: dict[str, Any]) -> list[Row]:
    rows = []
    for mode, label in MODES.items():
        figure = results.get("throughput", {}).get(mode)
        if not figure:
            continue
        p95 = figure["p95_s"] or 0.0
        rows.append(
            Row(
                "6 throughput",
                f"{label}: {figure['containers']} containers, pool of 5",
                f"{figure['rps']:.0f} req/s, p95 {_ms(p95)} ms, {figure['errors']} errors",
                "0 errors",
                _verdict(figure["errors"] == 0),
            )
        )
    return rows


def rows(results: dict[str, Any]) -> list[Row]:
    return (
        round_trip_rows(results)
        + latency_rows(results)
        + cold_start_rows(results)
        + memory_rows(results)
        + throughput_rows(results)
    )


def text_table(table: list[Row]) -> str:
    """A plain-text table for the terminal."""
    header = Row("", "figure", "measured", "budget", "verdict")
    cells = [[r.figure, r.measured, r.budget, r.verdict] for r in [header, *table]]
    widths = [max(len(row[i]) for row in cells) for i in range(4)]
    lines = []
    section = None
    for row, line in zip([header, *table], cells, strict=True):
        if row.section != section and row.section:
            lines.append(f"-- {row.section}")
            section = row.section
        lines.append("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)))
    return "\n".join(lines)


def markdown_table(table: list[Row]) -> str:
    lines = ["| # | figure | measured | budget | verdict |", "|---|---|---|---|---|"]
    for row in table:
        cells = [row.section, row.figure, row.measured, row.budget, row.verdict]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)


def write(results: dict[str, Any], table: list[Row], directory: Path) -> tuple[Path, Path]:
    """bench-results/latest.json (everything) and latest.md (the table and context)."""
    directory.mkdir(parents=True, exist_ok=True)
    results = {**results, "table": [row.as_dict() for row in table]}
    json_path = directory / "latest.json"
    json_path.write_text(json.dumps(results, indent=2, sort_keys=False) + "\n")
    meta = results["meta"]
    extra = results.get("cold_start", {}).get("extra_imports")
    lines = [
        "# Bench results",
        "",
        f"`{meta['command']}` on {meta['date']}: {meta['machine']}, Python {meta['python']}, "
        f"commit {meta['commit']}, {meta['seconds']:.0f} s; 1-minute load average "
        f"{meta['load_average_before']:.1f} at the start.",
        "",
        markdown_table(table),
        "",
    ]
    if extra:
        lines += [
            f"Imports of `{extra['module']}` beyond the bare set (self ms, `-X importtime`): "
            + ", ".join(f"{k} {v:.1f}" for k, v in list(extra["by_package_ms"].items())[:8]),
            "",
        ]
    md_path = directory / "latest.md"
    md_path.write_text("\n".join(lines))
    return json_path, md_path
