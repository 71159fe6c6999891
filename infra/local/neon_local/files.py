"""The state dir's layout, and writing into it with the right modes and owner."""

from __future__ import annotations

import os
from pathlib import Path

from infra.local.neon_local.commands import is_root, service_ids


class Layout:
    """Where everything lives inside one state dir."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.data, self.run, self.tls = root / "data", root / "run", root / "tls"
        self.ca_crt, self.server_crt = root / "tls/ca.crt", root / "tls/server.crt"
        self.server_key = root / "tls/server.key"
        self.pg_log, self.pgb_log = root / "postgres.log", root / "pgbouncer.log"
        self.pgb_ini, self.pgb_pid = root / "pgbouncer.ini", root / "pgbouncer.pid"
        self.userlist, self.password = root / "userlist.txt", root / "password"
        self.env, self.config = root / "env", root / "stack.json"
        # Fallback bookkeeping (see infra/local/neon_local/state.py).
        self.origin, self.location = root / "origin", root / "location"


def own(path: Path) -> None:
    if is_root():
        os.chown(path, *service_ids())


def write(path: Path, text: str, mode: int = 0o600, service: bool = True) -> None:
    # Created with its final mode so a secret is never briefly world-readable.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as handle:
        os.fchmod(handle.fileno(), mode)
        handle.write(text)
    if service:
        own(path)


def mkdir(path: Path) -> None:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    own(path)
