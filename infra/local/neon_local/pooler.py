"""PgBouncer in transaction mode: its configuration, starting and stopping it."""

from __future__ import annotations

import os
import re
import signal

from infra.local.neon_local.commands import (
    NeonLocalError,
    as_service,
    log_tail,
    pid_alive,
    read_pid,
    run,
    wait_until,
)
from infra.local.neon_local.config import DATABASE, USER, Config
from infra.local.neon_local.files import Layout, write
from infra.local.neon_local.packages import which
from infra.local.neon_local.ports import accepting

LOGIN_RETRY = 0.5  # PgBouncer server_login_retry, seconds


def _pgbouncer_ini(layout: Layout, config: Config) -> str:
    return f"""\
[databases]
{DATABASE} = host=127.0.0.1 port={config.pg_port} dbname={DATABASE}
; Like Neon's pooler, any other database of the project is reachable too.
* = host=127.0.0.1 port={config.pg_port}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {config.pooler_port}
unix_socket_dir = {layout.run}
unix_socket_mode = 0700
auth_type = scram-sha-256
auth_file = {layout.userlist}
pool_mode = transaction
default_pool_size = {config.pool_size}
max_client_conn = 500
ignore_startup_parameters = extra_float_digits,options
client_tls_sslmode = require
client_tls_key_file = {layout.server_key}
client_tls_cert_file = {layout.server_crt}
client_tls_ca_file = {layout.ca_crt}
server_tls_sslmode = require
logfile = {layout.pgb_log}
pidfile = {layout.pgb_pid}
; after a failed server login PgBouncer refuses new clients for this long
; (default 15 s), which would make every PostgreSQL restart look like an outage
server_login_retry = {LOGIN_RETRY}
"""


def configure_pooler(layout: Layout, config: Config, secret: str) -> None:
    """Write pgbouncer.ini and the userlist holding the role's SCRAM secret."""
    write(layout.userlist, f'"{USER}" "{secret}"\n')
    write(layout.pgb_ini, _pgbouncer_ini(layout, config))


def pooler_pid(layout: Layout) -> int | None:
    pid = read_pid(layout.pgb_pid)
    return pid if pid is not None and pid_alive(pid, "pgbouncer") else None


def pooler_port(layout: Layout) -> int:
    match = re.search(r"^listen_port = (\d+)$", layout.pgb_ini.read_text(), re.MULTILINE)
    if not match:
        raise NeonLocalError(f"no listen_port in {layout.pgb_ini}")
    return int(match[1])


def start_pooler(layout: Layout) -> None:
    if pooler_pid(layout) is not None:
        return
    layout.pgb_pid.unlink(missing_ok=True)  # stale: pgbouncer would refuse to start
    exe = which("pgbouncer") or "pgbouncer"
    port = pooler_port(layout)
    try:
        run(as_service([exe, "-d", str(layout.pgb_ini)]), cwd=layout.root, what="pgbouncer")
        if not wait_until(lambda: pooler_pid(layout) is not None and accepting(port)):
            raise NeonLocalError(f"pgbouncer did not accept connections on {port}")
    except NeonLocalError as exc:
        raise NeonLocalError(f"{exc}\n{log_tail(layout.pgb_log)}") from exc


def stop_pooler(layout: Layout) -> None:
    pid = pooler_pid(layout)
    if pid is None:
        return
    os.kill(pid, signal.SIGTERM)  # immediate shutdown; SIGINT would wait for clients
    if not wait_until(lambda: not pid_alive(pid, "pgbouncer"), timeout=10):
        os.kill(pid, signal.SIGKILL)
        wait_until(lambda: not pid_alive(pid, "pgbouncer"), timeout=5)
    layout.pgb_pid.unlink(missing_ok=True)
