"""Package size per function, read from the zips `osls package` leaves behind."""

from __future__ import annotations

import zipfile
from pathlib import Path

from bench.results import PackageResult, PackageZip

ROOT = Path(__file__).resolve().parent.parent
# serverless.yml names each function's artifact under .build/<arch>/; a plain
# `osls package` without the plugin writes .serverless/<function>.zip.
PATTERNS = (".serverless/*.zip", ".build/*/*.zip")


def sizes() -> PackageResult:
    """Zipped and unzipped bytes per function zip found, or a note to run make package."""
    found: dict[str, PackageZip] = {}
    for pattern in PATTERNS:
        for path in sorted(ROOT.glob(pattern)):
            with zipfile.ZipFile(path) as archive:
                infos = archive.infolist()
            by_top: dict[str, int] = {}
            for info in infos:
                top = info.filename.split("/")[0]
                by_top[top] = by_top.get(top, 0) + info.file_size
            largest = sorted(by_top.items(), key=lambda item: -item[1])[:6]
            found[str(path.relative_to(ROOT))] = {
                "function": path.stem,
                "zipped": path.stat().st_size,
                "unzipped": sum(info.file_size for info in infos),
                "files": len(infos),
                "largest_unzipped": dict(largest),
            }
    if not found:
        return {"found": False, "note": "no package zips found: run make package"}
    return {"found": True, "zips": found}
