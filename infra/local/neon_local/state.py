"""Which state dir a stack lives in, including the /tmp fallback for root, and its cleanup.

The state dir defaults to ``<repo>/.neon-local`` (``--dir``/``NEON_LOCAL_DIR``).
Running as root, PostgreSQL and PgBouncer run as the ``postgres`` OS user and the state
dir is chowned to it. If that user cannot reach the requested dir (e.g. it lies under
/root or pytest's 0700 ``/tmp/pytest-of-root``), the stack lives in
``/tmp/neon-local-<hash of the requested path>`` instead; the requested dir gets a
``location`` file pointing there and the fallback gets an ``origin`` file. Fallback
stacks whose origin dir has disappeared are stopped and deleted the next time a
fallback is created, so crashed test sessions do not pile up.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

from infra import ROOT
from infra.local.neon_local.commands import (
    SERVICE_USER,
    TIMEOUT,
    NeonLocalError,
    as_service,
    is_root,
    say,
    service_ids,
)
from infra.local.neon_local.files import Layout, mkdir, write
from infra.local.neon_local.pooler import stop_pooler
from infra.local.neon_local.postgres import stop_postgres

REPO = ROOT
DEFAULT_DIR = REPO / ".neon-local"
# Not tempfile.gettempdir(): root's TMPDIR may be private, this must be shared.
FALLBACK_PARENT = Path("/tmp")  # noqa: S108


def requested_dir(state_dir: Path | None) -> Path:
    """The state dir asked for: the argument, else NEON_LOCAL_DIR, else the default."""
    chosen = state_dir or Path(os.environ.get("NEON_LOCAL_DIR") or DEFAULT_DIR)
    return Path(chosen).expanduser().absolute()


def _fallback_for(requested: Path) -> Path:
    digest = hashlib.sha256(str(requested).encode()).hexdigest()[:12]
    return FALLBACK_PARENT / f"neon-local-{digest}"


def locate(requested: Path) -> Path:
    """Where the stack of ``requested`` really lives: there, or in its fallback."""
    pointer = Layout(requested).location
    if pointer.is_file() and pointer.read_text().strip() == str(_fallback_for(requested)):
        return _fallback_for(requested)
    return requested


def _service_can_use(path: Path) -> bool:
    probe = subprocess.run(
        as_service(["test", "-w", str(path), "-a", "-x", str(path)]),
        capture_output=True,
        timeout=TIMEOUT,
        cwd="/",
        check=False,
    )
    return probe.returncode == 0


def prepare_dir(requested: Path) -> Path:
    """Create the state dir (or its fallback) and return the one the stack uses."""
    try:
        mkdir(requested)
    except PermissionError as exc:
        raise NeonLocalError(f"cannot create state dir {requested}: {exc}") from exc
    fallback = _fallback_for(requested)
    pointed = locate(requested) == fallback
    if not pointed and (not is_root() or _service_can_use(requested)):
        return requested
    _collect_orphans()
    if fallback.is_symlink() or (
        fallback.exists() and fallback.stat().st_uid not in (0, service_ids()[0])
    ):
        raise NeonLocalError(f"{fallback} exists and is not ours; remove it")
    if not pointed and fallback.exists():
        # The requested dir lost its pointer (deleted and made again: a fresh clone at the
        # same path), so what the fallback holds is a previous stack's, not this one's.
        say(f"discarding {fallback}, left by an earlier stack at {requested}")
        stop_layout(Layout(fallback))
        shutil.rmtree(fallback)
    mkdir(fallback)
    write(Layout(fallback).origin, f"{requested}\n", 0o644)
    write(Layout(requested).location, f"{fallback}\n", 0o644, service=False)
    say(f"user {SERVICE_USER} cannot reach {requested}; using {fallback}")
    return fallback


def _collect_orphans() -> None:
    for candidate in FALLBACK_PARENT.glob("neon-local-*"):
        origin = Layout(candidate).origin
        if candidate.is_symlink() or not origin.is_file():
            continue
        if not Path(origin.read_text().strip()).exists():
            stop_layout(Layout(candidate))
            shutil.rmtree(candidate, ignore_errors=True)


def stop_layout(layout: Layout) -> None:
    """Stop the stack in ``layout``: PgBouncer first, then PostgreSQL."""
    stop_pooler(layout)
    stop_postgres(layout)
