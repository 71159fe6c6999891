"""The stack as a value (its URLs in Neon's exact shape) and starting, stopping, finding it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from infra.local.neon_local.commands import NeonLocalError
from infra.local.neon_local.config import (
    DATABASE,
    DEFAULT_POOL_SIZE,
    USER,
    Config,
    load_config,
    resolve_config,
    save_config,
    saved_config,
)
from infra.local.neon_local.files import Layout, mkdir, write
from infra.local.neon_local.packages import ensure_packages
from infra.local.neon_local.pooler import configure_pooler, pooler_pid, start_pooler, stop_pooler
from infra.local.neon_local.ports import require_free
from infra.local.neon_local.postgres import (
    bootstrap,
    configure_postgres,
    postgres_pid,
    psql,
    start_postgres,
    stop_postgres,
)
from infra.local.neon_local.scram import ensure_password
from infra.local.neon_local.state import locate, prepare_dir, requested_dir, stop_layout
from infra.local.neon_local.tls import ensure_tls


def _url(password: str, port: int) -> str:
    return (
        f"postgresql://{USER}:{quote(password, safe='')}@localhost:{port}/{DATABASE}"
        "?sslmode=require&channel_binding=require"
    )


@dataclass(frozen=True)
class Stack:
    """A started stack: its two endpoints, the role's credentials, and restarts."""

    state_dir: Path
    pg_port: int
    pooler_port: int
    user: str
    password: str
    database: str
    ca_file: Path

    @property
    def database_url(self) -> str:
        return _url(self.password, self.pooler_port)

    @property
    def direct_url(self) -> str:
        return _url(self.password, self.pg_port)

    @property
    def _layout(self) -> Layout:
        return Layout(self.state_dir)

    def stop_postgres(self) -> None:
        stop_postgres(self._layout)

    def start_postgres(self) -> None:
        start_postgres(self._layout)

    def stop_pooler(self) -> None:
        stop_pooler(self._layout)

    def start_pooler(self) -> None:
        start_pooler(self._layout)

    def admin_psql(self, sql: str) -> str:
        """Run SQL as the superuser over the trust socket; stdout of psql -A -t -q."""
        return psql(self._layout, self.pg_port, sql, self.database)


def _env_text(stack: Stack) -> str:
    # Quoted: the URLs contain '&', which `set -a; . env` would otherwise run as a job.
    return (
        f"DATABASE_URL='{stack.database_url}'\n"
        f"DATABASE_URL_DIRECT='{stack.direct_url}'\n"
        f"NEON_LOCAL_CA='{stack.ca_file}'\n"
    )


def _make_stack(layout: Layout, config: Config, password: str) -> Stack:
    return Stack(
        layout.root, config.pg_port, config.pooler_port, USER, password, DATABASE, layout.ca_crt
    )


def _check_running_ports(layout: Layout, config: Config) -> None:
    saved = load_config(layout)
    running = (saved.get("pg_port"), saved.get("pooler_port"))
    if running != (config.pg_port, config.pooler_port):
        raise NeonLocalError(
            f"stack in {layout.root} already runs on ports {running[0]}/"
            f"{running[1]}; stop it first to change ports"
        )


def _check_socket_path(layout: Layout, config: Config) -> None:
    # sun_path holds 107 bytes; PostgreSQL only says "path too long" in its log.
    longest = layout.run / f".s.PGSQL.{max(config.pg_port, config.pooler_port)}"
    if len(str(longest).encode()) > 107:
        raise NeonLocalError(
            f"state dir {layout.root} is too deep for unix sockets; "
            "set NEON_LOCAL_DIR (or --dir) to a shorter path"
        )


def _bring_up(layout: Layout, config: Config) -> Stack:
    if postgres_pid(layout) is None:
        require_free(config.pg_port, "PostgreSQL", "NEON_LOCAL_PG_PORT", "--pg-port")
    if pooler_pid(layout) is None:
        require_free(config.pooler_port, "PgBouncer", "NEON_LOCAL_POOLER_PORT", "--pooler-port")
    _check_socket_path(layout, config)
    mkdir(layout.run)
    write(layout.root / ".gitignore", "*\n", 0o644)
    ensure_tls(layout)
    password = ensure_password(layout)
    configure_postgres(layout, config)
    start_postgres(layout)
    configure_pooler(layout, config, bootstrap(layout, config, password))
    start_pooler(layout)
    save_config(layout, config)
    stack = _make_stack(layout, config, password)
    write(layout.env, _env_text(stack), service=False)
    return stack


def start(
    state_dir: Path | None = None,
    pg_port: int | None = None,
    pooler_port: int | None = None,
    pool_size: int = DEFAULT_POOL_SIZE,
) -> Stack:
    """Start (or reuse) the stack and return when both endpoints accept connections."""
    return start_configured(state_dir, pg_port, pooler_port, pool_size)


def start_configured(
    state_dir: Path | None, pg_port: int | None, pooler_port: int | None, pool_size: int | None
) -> Stack:
    """Like ``start``; a ``pool_size`` of None keeps the one the stack last used."""
    ensure_packages()
    layout = Layout(prepare_dir(requested_dir(state_dir)))
    config = resolve_config(layout, pg_port, pooler_port, pool_size)
    if postgres_pid(layout) is not None or pooler_pid(layout) is not None:
        _check_running_ports(layout, config)
    was_down = postgres_pid(layout) is None, pooler_pid(layout) is None
    try:
        return _bring_up(layout, config)
    except BaseException:
        # Leave nothing half-running that this call started.
        if was_down[1]:
            stop_pooler(layout)
        if was_down[0]:
            stop_postgres(layout)
        raise


def stop(state_dir: Path | None = None) -> None:
    """Stop PgBouncer and PostgreSQL; a no-op when nothing runs."""
    requested = requested_dir(state_dir)
    if requested.exists():
        stop_layout(Layout(locate(requested)))


def existing_stack(state_dir: Path | None) -> Stack:
    """The stack a previous start left in ``state_dir`` (running or not)."""
    layout = Layout(locate(requested_dir(state_dir)))
    config = saved_config(layout)
    if not layout.password.exists() or config is None:
        raise NeonLocalError(f"no stack in {layout.root}; run start first")
    return _make_stack(layout, config, layout.password.read_text().strip())
