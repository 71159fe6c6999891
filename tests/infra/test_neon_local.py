"""The Neon-like stack itself: TLS + SCRAM through PgBouncer, transaction pooling, restarts."""

from __future__ import annotations

import shlex
import shutil
import ssl
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pg8000.native
import pytest
import scramp

from infra.local import neon_local
from infra.local.neon_local.commands import is_root
from infra.local.neon_local.state import prepare_dir

ROOT = Path(__file__).resolve().parents[2]
POOL_SIZE = 3


@pytest.fixture(scope="module")
def requested_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("neon")


@pytest.fixture(scope="module")
def stack(requested_dir: Path) -> Iterator[neon_local.Stack]:
    ports = neon_local.free_port(), neon_local.free_port()
    started = neon_local.start(requested_dir, *ports, pool_size=POOL_SIZE)
    try:
        yield started
    finally:
        neon_local.stop(requested_dir)
        # As root the stack may live in a /tmp fallback outside pytest's tmp dirs.
        shutil.rmtree(started.state_dir, ignore_errors=True)


def connect(
    stack: neon_local.Stack, *, port: int | None = None, password: str | None = None, **kw: object
) -> pg8000.native.Connection:
    context = ssl.create_default_context(cafile=str(stack.ca_file))
    options: dict[str, object] = {"ssl_context": context, "timeout": 10, **kw}
    return pg8000.native.Connection(
        stack.user,
        host="localhost",
        port=port or stack.pooler_port,
        database=stack.database,
        password=stack.password if password is None else password,
        **options,
    )


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "infra.local.neon_local", *args]
    return subprocess.run(
        command, capture_output=True, text=True, timeout=60, check=False, cwd=ROOT
    )


def test_urls_have_neons_shape(stack: neon_local.Stack) -> None:
    suffix = "/neondb?sslmode=require&channel_binding=require"
    assert stack.database_url.endswith(f"@localhost:{stack.pooler_port}{suffix}")
    assert stack.direct_url.endswith(f"@localhost:{stack.pg_port}{suffix}")
    assert stack.database_url.startswith("postgresql://neondb_owner:")


def test_pooler_speaks_verified_tls_and_scram(stack: neon_local.Stack) -> None:
    conn = connect(stack)  # CA-verified context, check_hostname on for "localhost"
    try:
        assert isinstance(conn.auth, scramp.ScramClient)
        # PgBouncer 1.18 offers no channel binding (no SCRAM-SHA-256-PLUS).
        assert conn.auth.mechanism_name == "SCRAM-SHA-256"
        # ...and its own link to PostgreSQL is TLS too (server_tls_sslmode).
        rows = conn.run("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        assert rows == [[True]]
    finally:
        conn.close()


def test_certificate_is_checked_against_the_private_ca(stack: neon_local.Stack) -> None:
    system_trust = ssl.create_default_context()  # verifies and checks the host name
    with pytest.raises(ssl.SSLCertVerificationError):
        connect(stack, ssl_context=system_trust)


def test_direct_endpoint_offers_channel_binding(stack: neon_local.Stack) -> None:
    conn = connect(stack, port=stack.pg_port)
    try:
        assert conn.auth.mechanism_name == "SCRAM-SHA-256-PLUS"
    finally:
        conn.close()


def test_wrong_password_is_refused(stack: neon_local.Stack) -> None:
    # PgBouncer reports 08P01 "SASL authentication failed", not PostgreSQL's 28P01.
    with pytest.raises(pg8000.exceptions.DatabaseError, match="authentication failed"):
        connect(stack, password="not-the-password")


def test_plaintext_connection_to_pooler_is_refused(stack: neon_local.Stack) -> None:
    # pg8000 reads ssl_context=None as "try TLS, verify nothing"; False means plaintext.
    with pytest.raises(pg8000.exceptions.DatabaseError, match="SSL required"):
        connect(stack, ssl_context=False)


def test_role_is_not_superuser(stack: neon_local.Stack) -> None:
    conn = connect(stack)
    try:
        assert conn.run("SHOW is_superuser") == [["off"]]
    finally:
        conn.close()
    assert stack.admin_psql("SELECT rolsuper FROM pg_roles WHERE rolname = current_user") == "t\n"
    assert stack.admin_psql("SELECT rolsuper FROM pg_roles WHERE rolname = 'neondb_owner'") == (
        "f\n"
    )


def test_pooler_multiplexes_clients_per_transaction(stack: neon_local.Stack) -> None:
    # Twice the pool in concurrently connected clients: a session-mode pooler would have
    # to park the extra clients (and they would time out); transaction mode serves all
    # of them from at most POOL_SIZE backends.
    clients = [connect(stack) for _ in range(2 * POOL_SIZE)]
    try:
        with ThreadPoolExecutor(len(clients)) as pool:
            pids = list(pool.map(lambda c: c.run("SELECT pg_backend_pid()")[0][0], clients))
        assert len(set(pids)) <= POOL_SIZE
        # Inside an explicit transaction the client keeps one backend.
        first = clients[0]
        first.run("BEGIN")
        inside = {first.run("SELECT pg_backend_pid()")[0][0] for _ in range(3)}
        first.run("COMMIT")
        assert len(inside) == 1
    finally:
        for client in clients:
            client.close()


def test_data_survives_postgres_restart(stack: neon_local.Stack, requested_dir: Path) -> None:
    conn = connect(stack)
    try:
        conn.run("CREATE TABLE IF NOT EXISTS survives (note text)")
        conn.run("INSERT INTO survives VALUES ('still here')")
        stack.stop_postgres()
        assert cli("status", "--dir", str(requested_dir)).returncode == 3
        stack.start_postgres()
        # The same client connection works again: the pooler hides the restart.
        assert conn.run("SELECT note FROM survives") == [["still here"]]
    finally:
        conn.close()


def test_pooler_restart(stack: neon_local.Stack) -> None:
    stack.stop_pooler()
    stack.stop_pooler()  # idempotent
    stack.start_pooler()
    conn = connect(stack)
    assert conn.run("SELECT 1") == [[1]]
    conn.close()


def test_cli_status_env_and_idempotent_start(stack: neon_local.Stack, requested_dir: Path) -> None:
    status = cli("status", "--dir", str(requested_dir))
    assert status.returncode == 0, status.stderr
    assert stack.password not in status.stdout + status.stderr

    env = cli("env", "--dir", str(requested_dir))
    assert env.returncode == 0, env.stderr
    assert env.stderr == ""
    assert env.stdout.splitlines()[0].startswith("DATABASE_URL='postgresql://")
    # `eval` must give back the exact URLs despite the '&' in them.
    shell = f'eval {shlex.quote(env.stdout)}; printf \'%s\\n\' "$DATABASE_URL" "$NEON_LOCAL_CA"'
    echoed = subprocess.run(["sh", "-c", shell], capture_output=True, text=True, check=True)
    assert echoed.stdout.splitlines() == [stack.database_url, str(stack.ca_file)]

    again = neon_local.start(requested_dir, stack.pg_port, stack.pooler_port)
    assert again == stack


def test_cli_start_shows_no_password(stack: neon_local.Stack, requested_dir: Path) -> None:
    # GIVEN the running stack
    # WHEN `make stack-start` (the CLI's start) prints what it started
    started = cli(
        "start",
        "--dir",
        str(requested_dir),
        "--pg-port",
        str(stack.pg_port),
        "--pooler-port",
        str(stack.pooler_port),
    )
    printed = started.stdout + started.stderr
    # THEN nothing it printed holds the password: the URLs are masked, and it says where
    # the whole ones are, in a file only this user may read
    assert started.returncode == 0, printed
    assert stack.password not in printed
    masked = stack.database_url.replace(stack.password, "***")
    assert f"pooled: {masked}" in started.stdout
    env = stack.state_dir / "env"
    assert f"URLs with the password: {env} (mode 0600; make stack-env)" in started.stdout
    assert env.stat().st_mode & 0o777 == 0o600


needs_root = pytest.mark.skipif(not is_root(), reason="the /tmp fallback exists only for root")


@needs_root
def test_a_recreated_state_dir_does_not_inherit_an_old_fallback(tmp_path: Path) -> None:
    # GIVEN a state dir the postgres user cannot reach (pytest's 0700 tmp), so its stack
    # lives in a /tmp fallback, which holds data
    requested = tmp_path / "clone" / ".neon-local"
    fallback = prepare_dir(requested)
    try:
        assert fallback != requested
        (fallback / "old-data").write_text("from the first clone")
        # WHEN the same path is used again as it is (the pointer is still there)
        assert prepare_dir(requested) == fallback
        # THEN the data is kept
        assert (fallback / "old-data").exists()
        # WHEN the clone is deleted and made again at the same path
        shutil.rmtree(tmp_path / "clone")
        assert prepare_dir(requested) == fallback
        # THEN the new stack starts from nothing, not from the old clone's data
        assert not (fallback / "old-data").exists()
    finally:
        shutil.rmtree(fallback, ignore_errors=True)
