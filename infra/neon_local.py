#!/usr/bin/env python3
"""Run a Neon-like PostgreSQL + PgBouncer stack on loopback (stdlib only).

    python infra/neon_local.py start|stop|status|env|restart-postgres|restart-pooler
        [--dir D] [--pg-port N] [--pooler-port N] [--pool-size N]

What runs (all under one state directory, default ``<repo>/.neon-local``):

* PostgreSQL (highest ``/usr/lib/postgresql/<ver>/bin``) on 127.0.0.1:55432 with
  TLS, SCRAM-SHA-256 and its own data dir and unix-socket dir.
* PgBouncer in transaction mode on 127.0.0.1:56432, TLS required from clients
  and towards the server, authenticating with the role's SCRAM secret copied
  from ``pg_authid`` so it can log in to the server with the client's keys.
* Database ``neondb`` owned by the non-superuser role ``neondb_owner`` with a
  random password kept only in ``<state>/password`` (0600).  The superuser
  ``postgres`` is reachable only through the trust socket in ``<state>/run``
  (mode 0700, so only the owning OS user and root can use it).

``<state>/env`` holds ``DATABASE_URL`` (pooled), ``DATABASE_URL_DIRECT`` and
``NEON_LOCAL_CA``.  Values are single-quoted because the URLs contain ``&``,
which would otherwise break ``set -a; . file`` and ``eval``.

Ports and directory: ``--pg-port``/``NEON_LOCAL_PG_PORT``,
``--pooler-port``/``NEON_LOCAL_POOLER_PORT``, ``--dir``/``NEON_LOCAL_DIR``.
The ports last used are remembered in ``<state>/stack.json``.

Running as root: PostgreSQL and PgBouncer refuse root, so initdb, pg_ctl and
pgbouncer run as the existing ``postgres`` OS user via ``runuser`` and the
state dir is chowned to it.  If that user cannot reach the requested state dir
(e.g. it lies under /root or pytest's 0700 ``/tmp/pytest-of-root``), the stack
lives in ``/tmp/neon-local-<hash of the requested path>`` instead; the
requested dir gets a ``location`` file pointing there and the fallback gets an
``origin`` file.  Fallback stacks whose origin dir has disappeared are stopped
and deleted the next time a fallback is created, so crashed test sessions do
not pile up.  As a non-root user everything runs as that user.

Missing packages (postgresql, pgbouncer, openssl) are installed with apt-get
when root (without Debian's default 5432 cluster); otherwise the command to
run is printed and the program exits non-zero.  Any system PostgreSQL or
PgBouncer that is already running is simply ignored.

Where this differs from Neon (all PgBouncer 1.18 behaviour):

* The pooler offers only SCRAM-SHA-256, never SCRAM-SHA-256-PLUS, so libpq
  clients (psql) refuse the pooled URL's ``channel_binding=require``; the direct
  endpoint does offer -PLUS.
* A wrong password through the pooler fails with 08P01 "SASL authentication
  failed", not PostgreSQL's 28P01.
* While PostgreSQL is down, queries of already connected clients wait (up to
  query_wait_timeout, 120 s) and new logins are refused right away.
  ``start_postgres`` waits out server_login_retry so pooled logins work again
  as soon as it returns.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DIR = REPO / ".neon-local"
DEFAULT_PG_PORT = 55432
DEFAULT_POOLER_PORT = 56432
USER = "neondb_owner"
DATABASE = "neondb"
SUPERUSER = "postgres"
SERVICE_USER = "postgres"  # OS account used for the daemons when we are root
TIMEOUT = 30.0
# Not tempfile.gettempdir(): root's TMPDIR may be private, this must be shared.
FALLBACK_PARENT = Path("/tmp")  # noqa: S108
PACKAGES = ("postgresql", "pgbouncer", "openssl")
SCRAM_ITERATIONS = 4096
LOGIN_RETRY = 0.5  # PgBouncer server_login_retry, seconds
_handed_out_ports: set[int] = set()


class NeonLocalError(RuntimeError):
    """A failure worth showing to the user as-is."""


# --------------------------------------------------------------------------- layout


class _Layout:
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
        # Fallback bookkeeping (see module docstring).
        self.origin, self.location = root / "origin", root / "location"


# --------------------------------------------------------------------------- processes


def _is_root() -> bool:
    return os.geteuid() == 0


def _service_ids() -> tuple[int, int]:
    entry = pwd.getpwnam(SERVICE_USER)
    return entry.pw_uid, entry.pw_gid


def _as_service(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", SERVICE_USER, "--", *cmd] if _is_root() else cmd


def _clean_env() -> dict[str, str]:
    # PG* variables of the caller (PGSSLMODE, PGHOST...) would redirect our tools.
    return {k: v for k, v in os.environ.items() if not k.startswith("PG")}


def _scrub(text: str) -> str:
    text = re.sub(r"SCRAM-SHA-256\$[^'\"\s]+", "SCRAM-SHA-256$***", text)
    return re.sub(r"(://[^:/\s]+:)[^@\s]+@", r"\1***@", text)


def _run(
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
            env=_clean_env(),
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as exc:
        raise NeonLocalError(f"{what or cmd[0]} timed out after {timeout:.0f}s") from exc
    if proc.returncode != 0:
        out = _scrub((proc.stderr + proc.stdout).strip())
        raise NeonLocalError(f"{what or ' '.join(cmd)} failed ({proc.returncode}): {out}")
    return proc.stdout


def _log_tail(path: Path, lines: int = 25) -> str:
    try:
        tail = path.read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return f"(no log at {path})"
    return _scrub(f"--- last lines of {path} ---\n" + "\n".join(tail))


def _pid_alive(pid: int, comm: str) -> bool:
    # The name guards against a recycled pid; a zombie counts as dead because a
    # container's init may take a while to reap our daemonized children.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    name, _, rest = stat.partition(" (")[2].rpartition(") ")
    return name == comm and not rest.startswith("Z")


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _wait_until(check: Callable[[], bool], timeout: float = TIMEOUT) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return False


# --------------------------------------------------------------------------- packages


def _pg_bindir() -> Path | None:
    found = [p.parent for p in Path("/usr/lib/postgresql").glob("*/bin/postgres")]
    ranked = sorted(found, key=lambda b: int(b.parent.name) if b.parent.name.isdigit() else 0)
    return ranked[-1] if ranked else None


def _which(name: str) -> str | None:
    # /usr/sbin is often not on an ordinary user's PATH, but pgbouncer lives there.
    path = os.environ.get("PATH", "") + ":/usr/sbin:/usr/bin:/sbin:/bin"
    return shutil.which(name, path=path)


def _missing_packages() -> list[str]:
    present = {
        "postgresql": _pg_bindir() is not None,
        "pgbouncer": _which("pgbouncer") is not None,
        "openssl": _which("openssl") is not None,
    }
    return [name for name in PACKAGES if not present[name]]


def _install(packages: list[str]) -> None:
    # Keep Debian from creating (and starting) its default 5432 cluster.
    conf_dir = Path("/etc/postgresql-common/createcluster.d")
    conf_dir.mkdir(parents=True, exist_ok=True)
    (conf_dir / "neon-local.conf").write_text("create_main_cluster = false\n")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    _say(f"installing {' '.join(packages)} with apt-get ...")
    subprocess.run(["apt-get", "update"], check=True, env=env, timeout=600, stdout=sys.stderr)
    subprocess.run(
        ["apt-get", "install", "-y", "-o", "Dpkg::Options::=--force-confold", *packages],
        check=True,
        env=env,
        timeout=1200,
        stdout=sys.stderr,
    )


def _ensure_packages() -> None:
    missing = _missing_packages()
    if not missing:
        return
    if not _is_root():
        raise NeonLocalError(
            "missing packages; install them with:\n  sudo apt-get update"
            f" && sudo apt-get install -y {' '.join(missing)}"
        )
    _install(missing)
    if _missing_packages():
        raise NeonLocalError(f"still missing after apt-get: {_missing_packages()}")


def _bin(name: str) -> str:
    bindir = _pg_bindir()
    if bindir is None:
        raise NeonLocalError("PostgreSQL server binaries not found in /usr/lib/postgresql")
    return str(bindir / name)


# --------------------------------------------------------------------------- files


def _say(message: str) -> None:
    print(f"neon-local: {message}", file=sys.stderr)


def _own(path: Path) -> None:
    if _is_root():
        os.chown(path, *_service_ids())


def _write(path: Path, text: str, mode: int = 0o600, service: bool = True) -> None:
    # Created with its final mode so a secret is never briefly world-readable.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as handle:
        os.fchmod(handle.fileno(), mode)
        handle.write(text)
    if service:
        _own(path)


def _mkdir(path: Path) -> None:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    _own(path)


# --------------------------------------------------------------------------- state dir


def _requested_dir(state_dir: Path | None) -> Path:
    chosen = state_dir or Path(os.environ.get("NEON_LOCAL_DIR") or DEFAULT_DIR)
    return Path(chosen).expanduser().absolute()


def _fallback_for(requested: Path) -> Path:
    digest = hashlib.sha256(str(requested).encode()).hexdigest()[:12]
    return FALLBACK_PARENT / f"neon-local-{digest}"


def _locate(requested: Path) -> Path:
    pointer = _Layout(requested).location
    if pointer.is_file() and pointer.read_text().strip() == str(_fallback_for(requested)):
        return _fallback_for(requested)
    return requested


def _service_can_use(path: Path) -> bool:
    probe = subprocess.run(
        _as_service(["test", "-w", str(path), "-a", "-x", str(path)]),
        capture_output=True,
        timeout=TIMEOUT,
        cwd="/",
        check=False,
    )
    return probe.returncode == 0


def _prepare_dir(requested: Path) -> Path:
    try:
        _mkdir(requested)
    except PermissionError as exc:
        raise NeonLocalError(f"cannot create state dir {requested}: {exc}") from exc
    fallback = _fallback_for(requested)
    pointed = _locate(requested) == fallback
    if not pointed and (not _is_root() or _service_can_use(requested)):
        return requested
    _collect_orphans()
    if fallback.is_symlink() or (
        fallback.exists() and fallback.stat().st_uid not in (0, _service_ids()[0])
    ):
        raise NeonLocalError(f"{fallback} exists and is not ours; remove it")
    if not pointed and fallback.exists():
        # The requested dir lost its pointer (deleted and made again: a fresh clone at the
        # same path), so what the fallback holds is a previous stack's, not this one's.
        _say(f"discarding {fallback}, left by an earlier stack at {requested}")
        _stop_layout(_Layout(fallback))
        shutil.rmtree(fallback)
    _mkdir(fallback)
    _write(_Layout(fallback).origin, f"{requested}\n", 0o644)
    _write(_Layout(requested).location, f"{fallback}\n", 0o644, service=False)
    _say(f"user {SERVICE_USER} cannot reach {requested}; using {fallback}")
    return fallback


def _collect_orphans() -> None:
    for candidate in FALLBACK_PARENT.glob("neon-local-*"):
        origin = _Layout(candidate).origin
        if candidate.is_symlink() or not origin.is_file():
            continue
        if not Path(origin.read_text().strip()).exists():
            _stop_layout(_Layout(candidate))
            shutil.rmtree(candidate, ignore_errors=True)


# --------------------------------------------------------------------------- config


@dataclass(frozen=True)
class _Config:
    pg_port: int
    pooler_port: int
    pool_size: int


def _load_config(layout: _Layout) -> dict[str, int]:
    try:
        data = json.loads(layout.config.read_text())
    except (OSError, ValueError):
        return {}
    return {k: int(v) for k, v in data.items() if isinstance(v, int)}


def _resolve_config(
    layout: _Layout, pg_port: int | None, pooler_port: int | None, pool_size: int | None
) -> _Config:
    saved = _load_config(layout)

    def pick(given: int | None, env: str, key: str, default: int) -> int:
        if given is not None:
            return given
        return int(os.environ.get(env) or saved.get(key, default))

    return _Config(
        pick(pg_port, "NEON_LOCAL_PG_PORT", "pg_port", DEFAULT_PG_PORT),
        pick(pooler_port, "NEON_LOCAL_POOLER_PORT", "pooler_port", DEFAULT_POOLER_PORT),
        pool_size or saved.get("pool_size", 5),
    )


def _save_config(layout: _Layout, config: _Config) -> None:
    _write(layout.config, json.dumps(config.__dict__) + "\n", 0o644)


# --------------------------------------------------------------------------- ports


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # SO_REUSEADDR: only a listener, not a TIME_WAIT leftover, counts as taken.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """A currently free loopback port, never the same one twice per process."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port not in _handed_out_ports:
            _handed_out_ports.add(port)
            return port


def _require_free(port: int, what: str, env: str, flag: str) -> None:
    if not _port_free(port):
        raise NeonLocalError(
            f"port {port} for {what} on 127.0.0.1 is in use by another "
            f"program; set {env} (or {flag}) to a free port"
        )


def _accepting(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


# --------------------------------------------------------------------------- TLS

_OPENSSL_CNF = """\
[req]
distinguished_name = dn
prompt = no
[dn]
CN = neon-local
[ca_ext]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[server_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost,IP:127.0.0.1,IP:::1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid,issuer
"""


def _openssl(args: list[str], cwd: Path) -> None:
    _run([_which("openssl") or "openssl", *args], cwd=cwd, what="openssl " + args[0])


_NEW_KEY = "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes"
_OPENSSL_STEPS = (
    f"req -config openssl.cnf -x509 {_NEW_KEY} -keyout ca.key -out ca.crt -days 3650"
    " -extensions ca_ext -subj /CN=neon-local-CA",
    f"req -config openssl.cnf -new {_NEW_KEY} -keyout server.key -out server.csr"
    " -subj /CN=localhost",
    "x509 -req -in server.csr -CA ca.crt -CAkey ca.key -days 3650 -extfile openssl.cnf"
    " -extensions server_ext -out server.crt -set_serial",
)
_TLS_MODES = {"ca.key": 0o600, "server.key": 0o600, "ca.crt": 0o644, "server.crt": 0o644}


def _ensure_tls(layout: _Layout) -> None:
    if all(p.exists() for p in (layout.server_crt, layout.server_key, layout.ca_crt)):
        return
    _mkdir(layout.tls)
    _write(layout.tls / "openssl.cnf", _OPENSSL_CNF, 0o644)
    for step in _OPENSSL_STEPS:
        args = step.split()
        if args[-1] == "-set_serial":
            args.append(f"0x{secrets.token_hex(8)}")  # a fresh serial per issued cert
        _openssl(args, layout.tls)
    for name, mode in _TLS_MODES.items():
        os.chmod(layout.tls / name, mode)
        _own(layout.tls / name)  # PostgreSQL insists its key is owned by the server user


# --------------------------------------------------------------------------- SCRAM


def _scram_keys(password: str, salt: bytes, iterations: int) -> tuple[bytes, bytes]:
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    server_key = hmac.new(salted, b"Server Key", "sha256").digest()
    return hashlib.sha256(client_key).digest(), server_key


def _scram_secret(password: str) -> str:
    """pg_authid format; token_urlsafe passwords are ASCII so SASLprep is a no-op."""
    salt = secrets.token_bytes(16)
    stored, server = _scram_keys(password, salt, SCRAM_ITERATIONS)
    b64 = base64.b64encode
    return (
        f"SCRAM-SHA-256${SCRAM_ITERATIONS}:{b64(salt).decode()}$"
        f"{b64(stored).decode()}:{b64(server).decode()}"
    )


def _scram_matches(secret: str, password: str) -> bool:
    match = re.fullmatch(r"SCRAM-SHA-256\$(\d+):([^$]+)\$([^:]+):(.+)", secret.strip())
    if not match:
        return False
    salt = base64.b64decode(match[2])
    stored, _ = _scram_keys(password, salt, int(match[1]))
    return hmac.compare_digest(base64.b64encode(stored).decode(), match[3])


def _ensure_password(layout: _Layout) -> str:
    if layout.password.exists():
        return layout.password.read_text().strip()
    password = secrets.token_urlsafe(24)
    _write(layout.password, password + "\n", service=False)
    return password


# --------------------------------------------------------------------------- PostgreSQL


def _pg_conf(layout: _Layout, config: _Config) -> str:
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


def _initdb(layout: _Layout) -> None:
    _say("initialising a new cluster ...")
    # --no-sync skips fsyncing ~1,000 fresh files; at worst a crash right after
    # initdb means deleting data/ and starting again.
    flags = f"-U {SUPERUSER} -E UTF8 --locale=C.UTF-8 --auth=trust --no-sync --no-instructions"
    cmd = [_bin("initdb"), "-D", str(layout.data), *flags.split()]
    _run(_as_service(cmd), cwd=layout.root, timeout=120, what="initdb")
    with (layout.data / "postgresql.conf").open("a") as conf:
        conf.write("\ninclude = 'neon_local.conf'\n")


def _configure_postgres(layout: _Layout, config: _Config) -> None:
    if not (layout.data / "PG_VERSION").exists():
        _initdb(layout)
    _write(layout.data / "neon_local.conf", _pg_conf(layout, config))
    _write(layout.data / "pg_hba.conf", _PG_HBA)


def _postgres_pid(layout: _Layout) -> int | None:
    pid = _read_pid(layout.data / "postmaster.pid")
    return pid if pid is not None and _pid_alive(pid, "postgres") else None


def _pg_ctl(layout: _Layout, *args: str) -> None:
    cmd = [_bin("pg_ctl"), "-D", str(layout.data), "-w", "-t", str(int(TIMEOUT)), *args]
    try:
        _run(_as_service(cmd), cwd=layout.root, timeout=TIMEOUT + 10, what=f"pg_ctl {args[0]}")
    except NeonLocalError as exc:
        raise NeonLocalError(f"{exc}\n{_log_tail(layout.pg_log)}") from exc


def _start_postgres(layout: _Layout) -> None:
    if _postgres_pid(layout) is not None:
        return
    _pg_ctl(layout, "start", "-l", str(layout.pg_log), "-s")
    if _pooler_pid(layout) is not None:
        # PgBouncer holds off new server logins for a while after one failed during the
        # outage: return only once a pooled login really works.
        _wait_until(lambda: _pooled_login_works(layout))


def _pooled_login_works(layout: _Layout) -> bool:
    env = {**_clean_env(), "PGPASSWORD": layout.password.read_text().strip()}
    target = f"host=127.0.0.1 port={_pooler_port(layout)} dbname={DATABASE} user={USER}"
    cmd = [_bin("psql"), "-X", "-q", "-A", "-t", "-c", "SELECT 1", f"{target} sslmode=require"]
    try:
        done = subprocess.run(cmd, env=env, capture_output=True, timeout=5, check=False)
    except subprocess.TimeoutExpired:
        return False
    return done.returncode == 0


def _stop_postgres(layout: _Layout) -> None:
    if _postgres_pid(layout) is not None:
        _pg_ctl(layout, "stop", "-m", "fast", "-s")


def _psql(layout: _Layout, port: int, sql: str, database: str) -> str:
    # SQL goes in on stdin so it never shows up in `ps`.
    flags = ["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-f", "-"]
    cmd = [_bin("psql"), *flags, "-h", str(layout.run), "-p", str(port)]
    return _run([*cmd, "-U", SUPERUSER, "-d", database], stdin=sql, cwd=layout.root, what="psql")


# Built from constants only, hence the noqa.  \gexec runs CREATE DATABASE, which
# cannot go inside the DO block or transaction a conditional would otherwise need.
_BOOTSTRAP_SQL = f"""
SELECT 'CREATE ROLE {USER} LOGIN CREATEDB NOSUPERUSER'
  WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{USER}') \\gexec
SELECT 'CREATE DATABASE {DATABASE} OWNER {USER}'
  WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '{DATABASE}') \\gexec
"""  # noqa: S608
_SECRET_SQL = f"SELECT coalesce(rolpassword, '') FROM pg_authid WHERE rolname = '{USER}'"  # noqa: S608


def _bootstrap(layout: _Layout, config: _Config, password: str) -> str:
    """Create role and database if needed; return the role's SCRAM secret."""
    _psql(layout, config.pg_port, _BOOTSTRAP_SQL, "postgres")
    secret = _psql(layout, config.pg_port, _SECRET_SQL, "postgres").strip()
    if not _scram_matches(secret, password):
        # Only the SCRAM secret is sent, so the plaintext never reaches server logs.
        secret = _scram_secret(password)
        _psql(layout, config.pg_port, f"ALTER ROLE {USER} PASSWORD '{secret}'", "postgres")
    return secret


# --------------------------------------------------------------------------- PgBouncer


def _pgbouncer_ini(layout: _Layout, config: _Config) -> str:
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


def _configure_pooler(layout: _Layout, config: _Config, secret: str) -> None:
    _write(layout.userlist, f'"{USER}" "{secret}"\n')
    _write(layout.pgb_ini, _pgbouncer_ini(layout, config))


def _pooler_pid(layout: _Layout) -> int | None:
    pid = _read_pid(layout.pgb_pid)
    return pid if pid is not None and _pid_alive(pid, "pgbouncer") else None


def _pooler_port(layout: _Layout) -> int:
    match = re.search(r"^listen_port = (\d+)$", layout.pgb_ini.read_text(), re.MULTILINE)
    if not match:
        raise NeonLocalError(f"no listen_port in {layout.pgb_ini}")
    return int(match[1])


def _start_pooler(layout: _Layout) -> None:
    if _pooler_pid(layout) is not None:
        return
    layout.pgb_pid.unlink(missing_ok=True)  # stale: pgbouncer would refuse to start
    exe = _which("pgbouncer") or "pgbouncer"
    port = _pooler_port(layout)
    try:
        _run(_as_service([exe, "-d", str(layout.pgb_ini)]), cwd=layout.root, what="pgbouncer")
        if not _wait_until(lambda: _pooler_pid(layout) is not None and _accepting(port)):
            raise NeonLocalError(f"pgbouncer did not accept connections on {port}")
    except NeonLocalError as exc:
        raise NeonLocalError(f"{exc}\n{_log_tail(layout.pgb_log)}") from exc


def _stop_pooler(layout: _Layout) -> None:
    pid = _pooler_pid(layout)
    if pid is None:
        return
    os.kill(pid, signal.SIGTERM)  # immediate shutdown; SIGINT would wait for clients
    if not _wait_until(lambda: not _pid_alive(pid, "pgbouncer"), timeout=10):
        os.kill(pid, signal.SIGKILL)
        _wait_until(lambda: not _pid_alive(pid, "pgbouncer"), timeout=5)
    layout.pgb_pid.unlink(missing_ok=True)


# --------------------------------------------------------------------------- public API


def _url(password: str, port: int) -> str:
    return (
        f"postgresql://{USER}:{quote(password, safe='')}@localhost:{port}/{DATABASE}"
        "?sslmode=require&channel_binding=require"
    )


@dataclass(frozen=True)
class Stack:
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
    def _layout(self) -> _Layout:
        return _Layout(self.state_dir)

    def stop_postgres(self) -> None:
        _stop_postgres(self._layout)

    def start_postgres(self) -> None:
        _start_postgres(self._layout)

    def stop_pooler(self) -> None:
        _stop_pooler(self._layout)

    def start_pooler(self) -> None:
        _start_pooler(self._layout)

    def admin_psql(self, sql: str) -> str:
        """Run SQL as the superuser over the trust socket; stdout of psql -A -t -q."""
        return _psql(self._layout, self.pg_port, sql, self.database)


def _env_text(stack: Stack) -> str:
    # Quoted: the URLs contain '&', which `set -a; . env` would otherwise run as a job.
    return (
        f"DATABASE_URL='{stack.database_url}'\n"
        f"DATABASE_URL_DIRECT='{stack.direct_url}'\n"
        f"NEON_LOCAL_CA='{stack.ca_file}'\n"
    )


def _make_stack(layout: _Layout, config: _Config, password: str) -> Stack:
    return Stack(
        layout.root, config.pg_port, config.pooler_port, USER, password, DATABASE, layout.ca_crt
    )


def _check_running_ports(layout: _Layout, config: _Config) -> None:
    saved = _load_config(layout)
    running = (saved.get("pg_port"), saved.get("pooler_port"))
    if running != (config.pg_port, config.pooler_port):
        raise NeonLocalError(
            f"stack in {layout.root} already runs on ports {running[0]}/"
            f"{running[1]}; stop it first to change ports"
        )


def _check_socket_path(layout: _Layout, config: _Config) -> None:
    # sun_path holds 107 bytes; PostgreSQL only says "path too long" in its log.
    longest = layout.run / f".s.PGSQL.{max(config.pg_port, config.pooler_port)}"
    if len(str(longest).encode()) > 107:
        raise NeonLocalError(
            f"state dir {layout.root} is too deep for unix sockets; "
            "set NEON_LOCAL_DIR (or --dir) to a shorter path"
        )


def _bring_up(layout: _Layout, config: _Config) -> Stack:
    if _postgres_pid(layout) is None:
        _require_free(config.pg_port, "PostgreSQL", "NEON_LOCAL_PG_PORT", "--pg-port")
    if _pooler_pid(layout) is None:
        _require_free(config.pooler_port, "PgBouncer", "NEON_LOCAL_POOLER_PORT", "--pooler-port")
    _check_socket_path(layout, config)
    _mkdir(layout.run)
    _write(layout.root / ".gitignore", "*\n", 0o644)
    _ensure_tls(layout)
    password = _ensure_password(layout)
    _configure_postgres(layout, config)
    _start_postgres(layout)
    _configure_pooler(layout, config, _bootstrap(layout, config, password))
    _start_pooler(layout)
    _save_config(layout, config)
    stack = _make_stack(layout, config, password)
    _write(layout.env, _env_text(stack), service=False)
    return stack


def start(
    state_dir: Path | None = None,
    pg_port: int | None = None,
    pooler_port: int | None = None,
    pool_size: int = 5,
) -> Stack:
    """Start (or reuse) the stack and return when both endpoints accept connections."""
    return _start(state_dir, pg_port, pooler_port, pool_size)


def _start(
    state_dir: Path | None, pg_port: int | None, pooler_port: int | None, pool_size: int | None
) -> Stack:
    _ensure_packages()
    layout = _Layout(_prepare_dir(_requested_dir(state_dir)))
    config = _resolve_config(layout, pg_port, pooler_port, pool_size)
    if _postgres_pid(layout) is not None or _pooler_pid(layout) is not None:
        _check_running_ports(layout, config)
    was_down = _postgres_pid(layout) is None, _pooler_pid(layout) is None
    try:
        return _bring_up(layout, config)
    except BaseException:
        # Leave nothing half-running that this call started.
        if was_down[1]:
            _stop_pooler(layout)
        if was_down[0]:
            _stop_postgres(layout)
        raise


def _stop_layout(layout: _Layout) -> None:
    _stop_pooler(layout)
    _stop_postgres(layout)


def stop(state_dir: Path | None = None) -> None:
    """Stop PgBouncer and PostgreSQL; a no-op when nothing runs."""
    requested = _requested_dir(state_dir)
    if requested.exists():
        _stop_layout(_Layout(_locate(requested)))


def _existing_stack(state_dir: Path | None) -> Stack:
    layout = _Layout(_locate(_requested_dir(state_dir)))
    saved = _load_config(layout)
    if not layout.password.exists() or "pg_port" not in saved:
        raise NeonLocalError(f"no stack in {layout.root}; run start first")
    config = _Config(saved["pg_port"], saved["pooler_port"], saved.get("pool_size", 5))
    return _make_stack(layout, config, layout.password.read_text().strip())


# --------------------------------------------------------------------------- CLI


def _cmd_start(args: argparse.Namespace) -> int:
    began = time.monotonic()
    stack = _start(args.dir, args.pg_port, args.pooler_port, args.pool_size)
    _say(f"up in {time.monotonic() - began:.1f}s; state in {stack.state_dir}")
    print(f"pooled: {stack.database_url}\ndirect: {stack.direct_url}\nCA:     {stack.ca_file}")
    return 0


def _cmd_stop(args: argparse.Namespace) -> int:
    stop(args.dir)
    _say("stopped")
    return 0


def _cmd_status(args: argparse.Namespace) -> int:
    try:
        stack = _existing_stack(args.dir)
    except NeonLocalError as exc:
        _say(str(exc))
        return 3
    layout = stack._layout
    pg_up = _postgres_pid(layout) is not None and _accepting(stack.pg_port)
    pooler_up = _pooler_pid(layout) is not None and _accepting(stack.pooler_port)
    _say(
        f"postgres {'up' if pg_up else 'down'} on 127.0.0.1:{stack.pg_port}, pgbouncer "
        f"{'up' if pooler_up else 'down'} on 127.0.0.1:{stack.pooler_port} ({layout.root})"
    )
    return 0 if pg_up and pooler_up else 3


def _cmd_env(args: argparse.Namespace) -> int:
    stack = _existing_stack(args.dir)
    sys.stdout.write(stack._layout.env.read_text())
    return 0


def _cmd_restart(args: argparse.Namespace) -> int:
    stack = _existing_stack(args.dir)
    if args.command == "restart-postgres":
        stack.stop_postgres()
        stack.start_postgres()
    else:
        stack.stop_pooler()
        stack.start_pooler()
    _say(f"{args.command} done")
    return 0


_COMMANDS = {
    "start": _cmd_start,
    "stop": _cmd_stop,
    "status": _cmd_status,
    "env": _cmd_env,
    "restart-postgres": _cmd_restart,
    "restart-pooler": _cmd_restart,
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("command", choices=list(_COMMANDS))
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--pg-port", type=int, default=None)
    parser.add_argument("--pooler-port", type=int, default=None)
    parser.add_argument("--pool-size", type=int, default=None)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return _COMMANDS[args.command](args)
    except (NeonLocalError, subprocess.CalledProcessError) as exc:
        _say(f"error: {exc}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
