"""A small repository of requirements files and lock files, for the lock check's tests.

The sets are infra/packaging/locks.py's own (dev, run, api, docs, jobs) with a handful of packages
and made-up hashes, so a test can make a pair agree or disagree by changing one line.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from infra.packaging import locks

__all__ = ["lock_entry", "relock", "write_repo"]

RUNTIME = {
    "alembic": "1.20.1",
    "cryptography": "50.0.2",
    "fastapi": "0.165.0",
    "mangum": "0.22.0",
    "pg8000": "1.31.6",
    "PyJWT": "2.15.1",
}
RUN = {"uvicorn": "0.54.0"}
DEV = {"pytest": "9.2.0", "uv": "0.13.8"}
# What pg8000 brings in, locked in every set.
TRANSITIVE = {"scramp": "1.5.0", "asn1crypto": "1.5.1"}


def write_repo(root: Path) -> None:
    """requirements.txt, requirements-run.txt, requirements-dev.txt and the locks made from them."""
    (root / "requirements.txt").write_text("# What the functions import.\n" + _pins(RUNTIME))
    (root / "requirements-run.txt").write_text("-r requirements.txt\n" + _pins(RUN))
    dev = "-r requirements-run.txt\n" + _pins(DEV) + "types-PyYAML\n"
    (root / "requirements-dev.txt").write_text(dev)
    relock(root)


def _pins(pins: dict[str, str]) -> str:
    return "".join(f"{name}=={version}\n" for name, version in pins.items())


def relock(root: Path, overrides: dict[str, str] | None = None, sets: tuple[str, ...] = ()) -> None:
    """Write every lock as `make lock` would for the files now under ``root``.

    ``overrides`` replaces versions in the locks of ``sets`` (default: the shipped ones).
    """
    digest = locks.inputs_digest(root)
    for locked in locks.SETS.values():
        pins = {req.name: req.version or "6.0.12" for req in locks.set_requirements(root, locked)}
        pins |= TRANSITIVE
        if locked.name in sets or (not sets and locked.ships):
            pins |= overrides or {}
        body = "".join(lock_entry(name, version) for name, version in sorted(pins.items()))
        (root / locked.lock).write_text(locks.header(locked, digest) + body)


def lock_entry(name: str, version: str) -> str:
    """One pinned, hashed entry in uv's layout."""
    digest = hashlib.sha256(f"{name}-{version}".encode()).hexdigest()
    return f"{name}=={version} \\\n    --hash=sha256:{digest}\n    # via -r requirements.txt\n"
