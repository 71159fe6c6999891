"""Running programs (as the service user when we are root) and watching their processes."""

from __future__ import annotations

import os
import pwd
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

SERVICE_USER = "postgres"  # OS account used for the daemons when we are root
TIMEOUT = 30.0


class NeonLocalError(RuntimeError):
    """A failure worth showing to the user as-is."""


def say(message: str) -> None:
    print(f"neon-local: {message}", file=sys.stderr)


def is_root() -> bool:
    return os.geteuid() == 0


def service_ids() -> tuple[int, int]:
    entry = pwd.getpwnam(SERVICE_USER)
    return entry.pw_uid, entry.pw_gid


def as_service(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", SERVICE_USER, "--", *cmd] if is_root() else cmd


def clean_env() -> dict[str, str]:
    # PG* variables of the caller (PGSSLMODE, PGHOST...) would redirect our tools.
    return {k: v for k, v in os.environ.items() if not k.startswith("PG")}


def scrub(text: str) -> str:
    text = re.sub(r"SCRAM-SHA-256\$[^'\"\s]+", "SCRAM-SHA-256$***", text)
    return re.sub(r"(://[^:/\s]+:)[^@\s]+@", r"\1***@", text)


def run(
    cmd: list[str],
    *,
    stdin: str | None = None,
    cwd: Path | None = None,
    timeout: float = TIMEOUT,
    what: str = "",
) -> str:
    try:
        proc = subprocess.run(
            cmd,
            input=stdin,
            capture_output=True,
            text=True,
            check=False,
            cwd=cwd,
            env=clean_env(),
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as exc:
        raise NeonLocalError(f"{what or cmd[0]} timed out after {timeout:.0f}s") from exc
    if proc.returncode != 0:
        out = scrub((proc.stderr + proc.stdout).strip())
        raise NeonLocalError(f"{what or ' '.join(cmd)} failed ({proc.returncode}): {out}")
    return proc.stdout


def log_tail(path: Path, lines: int = 25) -> str:
    try:
        tail = path.read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return f"(no log at {path})"
    return scrub(f"--- last lines of {path} ---\n" + "\n".join(tail))


def pid_alive(pid: int, comm: str) -> bool:
    # The name guards against a recycled pid; a zombie counts as dead because a
    # container's init may take a while to reap our daemonized children.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    name, _, rest = stat.partition(" (")[2].rpartition(") ")
    return name == comm and not rest.startswith("Z")


def read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def wait_until(check: Callable[[], bool], timeout: float = TIMEOUT) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return False
