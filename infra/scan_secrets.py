"""Fail when the repository holds what looks like a real database credential.

Looks at every file git tracks or would track: Neon passwords (``npg_...``) and
PostgreSQL URLs whose password is not an obvious placeholder. Prints where, never what.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from infra import ROOT

NEON_PASSWORD = re.compile(r"npg_[A-Za-z0-9]{8,}")
URL_PASSWORD = re.compile(r"postgres(?:ql)?(?:\+\w+)?://[^:/@\s'\"]+:([^@\s'\"]+)@")
# <password>, {password}, ${PASSWORD}, $PW, ***, PASSWORD, YOUR_PASSWORD, ... are fine.
PLACEHOLDER = re.compile(r"^(?:.*[<>{}$*].*|[A-Z_]+|password|pass|secret|pw|x+|\.\.\.)$")


def candidate_files() -> list[Path]:
    """Tracked files plus untracked ones git does not ignore."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    return [ROOT / name for name in listed.split("\0") if name and (ROOT / name).is_file()]


def findings(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, kind) of every suspicious spot in one file."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (UnicodeDecodeError, OSError):
        return
    for number, line in enumerate(lines, start=1):
        if NEON_PASSWORD.search(line):
            yield number, "Neon password"
        for match in URL_PASSWORD.finditer(line):
            if not PLACEHOLDER.match(match.group(1)):
                yield number, "connection string with a password"


def main() -> int:
    hits = [
        f"{path.relative_to(ROOT)}:{number}: {kind}"
        for path in candidate_files()
        for number, kind in findings(path)
    ]
    for hit in hits:
        print(hit, file=sys.stderr)
    if hits:
        print("credential scan: remove these and use placeholders/env vars", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
