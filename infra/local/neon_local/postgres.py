"""PostgreSQL: initdb and its configuration, starting and stopping it, psql as superuser."""

from __future__ import annotations

import subprocess

from infra.local.neon_local.commands import (
    TIMEOUT,
    NeonLocalError,
    as_service,
    clean_env,
    log_tail,
    pid_alive,
    read_pid,
    run,
    say,
    wait_until,
)
from infra.local.neon_local.config import DATABASE, USER, Config
from infra.local.neon_local.files import Layout, write
from infra.local.neon_local.packages import pg_bin
from infra.local.neon_local.pooler import pooler_pid, pooler_port
from infra.local.neon_local.scram import scram_matches, scram_secret

SUPERUSER = "postgres"


def _pg_conf(layout: Layout, config: Config) -> str:
    return f"""\
listen_addresses = '127.0.0.1'
port = {config.pg_port}
unix_socket_directories = '{layout.run}'
unix_socket_permissions = 0700
ssl = on
ssl_cert_file = '{layout.server_crt}'
ssl_key_file = '{layout.server_key}'
password_encryption = 'scram-sha-256'
timezone = 'UTC'
log_timezone = 'UTC'
shared_buffers = 32MB
max_connections = 60
huge_pages = off
logging_collector = off
"""


_PG_HBA = f"""\
local     all  {SUPERUSER}  trust
hostssl   all  all  127.0.0.1/32  scram-sha-256
hostssl   all  all  ::1/128       scram-sha-256
"""


def _initdb(layout: Layout) -> None:
    say("initialising a new cluster ...")
    # --no-sync skips fsyncing ~1,000 fresh files; at worst a crash right after
    # initdb means deleting data/ and starting again.
    flags = f"-U {SUPERUSER} -E UTF8 --locale=C.UTF-8 --auth=trust --no-sync --no-instructions"
    cmd = [pg_bin("initdb"), "-D", str(layout.data), *flags.split()]
    run(as_service(cmd), cwd=layout.root, timeout=120, what="initdb")
    with (layout.data / "postgresql.conf").open("a") as conf:
        conf.write("\ninclude = 'neon_local.conf'\n")


def configure_postgres(layout: Layout, config: Config) -> None:
    """Create the cluster on first use; (re)write its settings and pg_hba.conf."""
    if not (layout.data / "PG_VERSION").exists():
        _initdb(layout)
    write(layout.data / "neon_local.conf", _pg_conf(layout, config))
    write(layout.data / "pg_hba.conf", _PG_HBA)


def postgres_pid(layout: Layout) -> int | None:
    pid = read_pid(layout.data / "postmaster.pid")
    return pid if pid is not None and pid_alive(pid, "postgres") else None


def _pg_ctl(layout: Layout, *args: str) -> None:
    cmd = [pg_bin("pg_ctl"), "-D", str(layout.data), "-w", "-t", str(int(TIMEOUT)), *args]
    try:
        run(as_service(cmd), cwd=layout.root, timeout=TIMEOUT + 10, what=f"pg_ctl {args[0]}")
    except NeonLocalError as exc:
        raise NeonLocalError(f"{exc}\n{log_tail(layout.pg_log)}") from exc


def start_postgres(layout: Layout) -> None:
    if postgres_pid(layout) is not None:
        return
    _pg_ctl(layout, "start", "-l", str(layout.pg_log), "-s")
    if pooler_pid(layout) is not None:
        # PgBouncer holds off new server logins for a while after one failed during the
        # outage: return only once a pooled login really works.
        wait_until(lambda: _pooled_login_works(layout))


def _pooled_login_works(layout: Layout) -> bool:
    env = {**clean_env(), "PGPASSWORD": layout.password.read_text().strip()}
    target = f"host=127.0.0.1 port={pooler_port(layout)} dbname={DATABASE} user={USER}"
    cmd = [pg_bin("psql"), "-X", "-q", "-A", "-t", "-c", "SELECT 1", f"{target} sslmode=require"]
    try:
        done = subprocess.run(cmd, env=env, capture_output=True, timeout=5, check=False)
    except subprocess.TimeoutExpired:
        return False
    return done.returncode == 0


def stop_postgres(layout: Layout) -> None:
    if postgres_pid(layout) is not None:
        _pg_ctl(layout, "stop", "-m", "fast", "-s")


def psql(layout: Layout, port: int, sql: str, database: str) -> str:
    """Run SQL as the superuser over the trust socket; stdout of psql -A -t -q."""
    # SQL goes in on stdin so it never shows up in `ps`.
    flags = ["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-f", "-"]
    cmd = [pg_bin("psql"), *flags, "-h", str(layout.run), "-p", str(port)]
    return run([*cmd, "-U", SUPERUSER, "-d", database], stdin=sql, cwd=layout.root, what="psql")


# Built from constants only, hence the noqa.  \gexec runs CREATE DATABASE, which
# cannot go inside the DO block or transaction a conditional would otherwise need.
_BOOTSTRAP_SQL = f"""
SELECT 'CREATE ROLE {USER} LOGIN CREATEDB NOSUPERUSER'
  WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{USER}') \\gexec
SELECT 'CREATE DATABASE {DATABASE} OWNER {USER}'
  WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '{DATABASE}') \\gexec
"""  # noqa: S608
_SECRET_SQL = f"SELECT coalesce(rolpassword, '') FROM pg_authid WHERE rolname = '{USER}'"  # noqa: S608


def bootstrap(layout: Layout, config: Config, password: str) -> str:
    """Create role and database if needed; return the role's SCRAM secret."""
    psql(layout, config.pg_port, _BOOTSTRAP_SQL, "postgres")
    secret = psql(layout, config.pg_port, _SECRET_SQL, "postgres").strip()
    if not scram_matches(secret, password):
        # Only the SCRAM secret is sent, so the plaintext never reaches server logs.
        secret = scram_secret(password)
        psql(layout, config.pg_port, f"ALTER ROLE {USER} PASSWORD '{secret}'", "postgres")
    return secret
