"""The bench's table on the terminal, and everything measured in bench-results/."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from bench.report import Row
from bench.results import Measured, Meta


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


def write(results: Measured, meta: Meta, table: list[Row], directory: Path) -> tuple[Path, Path]:
    """bench-results/latest.json (everything) and latest.md (the table and context)."""
    directory.mkdir(parents=True, exist_ok=True)
    document = {**results, "meta": meta, "table": [asdict(row) for row in table]}
    json_path = directory / "latest.json"
    json_path.write_text(json.dumps(document, indent=2, sort_keys=False) + "\n")
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
    cold = results.get("cold_start")
    if cold:
        extra = cold["extra_imports"]
        lines += [
            f"Imports of `{extra['module']}` beyond the bare set (self ms, `-X importtime`): "
            + ", ".join(f"{k} {v:.1f}" for k, v in list(extra["by_package_ms"].items())[:8]),
            "",
        ]
    md_path = directory / "latest.md"
    md_path.write_text("\n".join(lines))
    return json_path, md_path
