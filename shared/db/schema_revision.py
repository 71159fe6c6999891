"""The schema revision this code was built for, and whether the database is behind it.

The newest file in ``shared/jobs/migrations/versions`` decides: revision ids are the
files' four-digit prefixes (``make revision`` numbers them, infra/codegen/revision.py), so the
newest revision is the largest prefix. The API functions' packages leave ``shared/jobs``
out (they never migrate), so ``infra/packaging/package_build.py`` writes that revision beside this
module as ``BUILT_FILE`` when it builds them; a checkout reads the folder itself.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

__all__ = ["BUILT_FILE", "VERSIONS", "is_behind", "newest_revision", "shipped_revision"]

VERSIONS = Path(__file__).resolve().parents[1] / "jobs" / "migrations" / "versions"
BUILT_FILE = Path(__file__).with_name("schema_revision.txt")


def newest_revision(versions: Path = VERSIONS) -> str:
    """The newest revision id among the migration files in ``versions``."""
    return max(path.name.split("_", 1)[0] for path in versions.glob("[0-9]*_*.py"))


@cache
def shipped_revision() -> str:
    """The revision this code needs: written at build time, else read from the checkout."""
    if BUILT_FILE.is_file():
        return BUILT_FILE.read_text(encoding="utf-8").strip()
    return newest_revision()


def is_behind(found: str | None) -> bool:
    """Whether a database at revision ``found`` (None: no revision) lacks this release's.

    A newer revision is not behind: a rolled-back release runs on the schema its successor
    migrated, which stays compatible with it (docs/operations.md: Roll back).
    """
    needed = shipped_revision()
    if found is None or not found.isdigit():
        return found != needed
    return int(found) < int(needed)
