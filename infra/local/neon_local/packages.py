"""The Debian packages the stack needs: finding their programs, installing what is missing."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from infra.local.neon_local.commands import NeonLocalError, is_root, say

PACKAGES = ("postgresql", "pgbouncer", "openssl")


def pg_bindir() -> Path | None:
    found = [p.parent for p in Path("/usr/lib/postgresql").glob("*/bin/postgres")]
    ranked = sorted(found, key=lambda b: int(b.parent.name) if b.parent.name.isdigit() else 0)
    return ranked[-1] if ranked else None


def pg_bin(name: str) -> str:
    bindir = pg_bindir()
    if bindir is None:
        raise NeonLocalError("PostgreSQL server binaries not found in /usr/lib/postgresql")
    return str(bindir / name)


def which(name: str) -> str | None:
    # /usr/sbin is often not on an ordinary user's PATH, but pgbouncer lives there.
    path = os.environ.get("PATH", "") + ":/usr/sbin:/usr/bin:/sbin:/bin"
    return shutil.which(name, path=path)


def _missing_packages() -> list[str]:
    present = {
        "postgresql": pg_bindir() is not None,
        "pgbouncer": which("pgbouncer") is not None,
        "openssl": which("openssl") is not None,
    }
    return [name for name in PACKAGES if not present[name]]


def _install(packages: list[str]) -> None:
    # Keep Debian from creating (and starting) its default 5432 cluster.
    conf_dir = Path("/etc/postgresql-common/createcluster.d")
    conf_dir.mkdir(parents=True, exist_ok=True)
    (conf_dir / "neon-local.conf").write_text("create_main_cluster = false\n")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    say(f"installing {' '.join(packages)} with apt-get ...")
    subprocess.run(["apt-get", "update"], check=True, env=env, timeout=600, stdout=sys.stderr)
    subprocess.run(
        ["apt-get", "install", "-y", "-o", "Dpkg::Options::=--force-confold", *packages],
        check=True,
        env=env,
        timeout=1200,
        stdout=sys.stderr,
    )


def ensure_packages() -> None:
    """Install what is missing when root; otherwise say which command to run."""
    missing = _missing_packages()
    if not missing:
        return
    if not is_root():
        raise NeonLocalError(
            "missing packages; install them with:\n  sudo apt-get update"
            f" && sudo apt-get install -y {' '.join(missing)}"
        )
    _install(missing)
    if _missing_packages():
        raise NeonLocalError(f"still missing after apt-get: {_missing_packages()}")
