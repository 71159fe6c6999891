"""Connecting with Neon-shaped URLs: TLS, SCRAM, clear typed failures, bounded time."""

from __future__ import annotations

import hashlib
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from infra.local import neon_local
from shared.core.errors import DatabaseMisconfigured, DatabaseUnavailable
from shared.core.settings import Settings
from shared.db.connect import connect
from shared.db.tls import tls_of
from shared.db.url import ConnectParams, parse_database_url
from tests.support.commands import run_module

ROOT = Path(__file__).resolve().parents[2]


def _url(stack: neon_local.Stack, *, port: int, password: str | None = None, query: str) -> str:
    secret = quote(password if password is not None else stack.password, safe="")
    return f"postgresql://{stack.user}:{secret}@localhost:{port}/{stack.database}?{query}"


def test_neon_shaped_pooled_url_connects_with_tls_and_scram(stack: neon_local.Stack) -> None:
    # GIVEN the pooled URL exactly as Neon's console shapes it
    params = parse_database_url(stack.database_url)
    # WHEN connecting
    conn = connect(params, Settings())
    # THEN the session is encrypted, authenticated with SCRAM, and usable
    try:
        tls = tls_of(conn.socket)
        assert tls is not None
        assert tls.version() in ("TLSv1.2", "TLSv1.3")
        assert conn.auth_mechanism is not None and conn.auth_mechanism.startswith("SCRAM-SHA-256")
        cursor = conn.cursor()
        cursor.execute("SELECT current_database()")
        assert cursor.fetchone() == [stack.database]
    finally:
        conn.close()


def test_direct_url_uses_channel_binding_when_the_server_offers_it(stack: neon_local.Stack) -> None:
    # GIVEN the direct endpoint (PostgreSQL itself offers SCRAM-SHA-256-PLUS over TLS)
    params = parse_database_url(stack.direct_url)
    # WHEN connecting with channel_binding=require
    conn = connect(params, Settings())
    # THEN the channel-bound mechanism was used
    conn.close()
    assert conn.auth_mechanism == "SCRAM-SHA-256-PLUS"


def test_channel_binding_disable_logs_in_where_the_server_offers_it(
    stack: neon_local.Stack,
) -> None:
    # GIVEN the direct endpoint, which offers SCRAM-SHA-256-PLUS, and channel_binding=disable
    url = stack.direct_url.replace("channel_binding=require", "channel_binding=disable")
    # WHEN connecting
    conn = connect(parse_database_url(url), Settings())
    # THEN plain SCRAM was used and accepted (the client said it does not bind, as libpq
    # does; claiming it could but thought the server could not is refused as a downgrade)
    conn.close()
    assert conn.auth_mechanism == "SCRAM-SHA-256"


def test_verify_full_with_the_stack_ca_connects(stack: neon_local.Stack) -> None:
    # GIVEN a URL that demands a verified certificate for the host name, with our CA
    query = f"sslmode=verify-full&sslrootcert={stack.ca_file}"
    params = parse_database_url(_url(stack, port=stack.pooler_port, query=query))
    # WHEN connecting
    conn = connect(params, Settings())
    # THEN the server certificate was verified (getpeercert() is empty when it was not)
    try:
        tls = tls_of(conn.socket)
        assert tls is not None
        assert "localhost" in str((tls.getpeercert() or {}).get("subjectAltName"))
    finally:
        conn.close()


def test_verify_full_with_the_wrong_ca_is_refused(stack: neon_local.Stack) -> None:
    # GIVEN a trust store that does not hold the server's CA (the system one)
    query = "sslmode=verify-full&sslrootcert=system"
    params = parse_database_url(_url(stack, port=stack.pooler_port, query=query))
    # WHEN connecting
    with pytest.raises(DatabaseUnavailable) as caught:
        connect(params, Settings(db_connect_attempts=3))
    # THEN it fails with the typed error naming the certificate
    assert "certificate" in str(caught.value)


# The server's own sentence, through PgBouncer (08P01) and from PostgreSQL (28P01, 3D000).
_WRONG_PASSWORD = {
    "pooler": "SASL authentication failed",
    "direct": 'password authentication failed for user "neondb_owner"',
}
_NO_DATABASE = 'database "no_such_db" does not exist'


def _port(stack: neon_local.Stack, endpoint: str) -> int:
    return stack.pooler_port if endpoint == "pooler" else stack.pg_port


@pytest.mark.parametrize("endpoint", ["pooler", "direct"])
def test_wrong_password_is_refused_at_once_with_the_servers_reason(
    stack: neon_local.Stack, endpoint: str
) -> None:
    # GIVEN the right user with a wrong password, and three attempts allowed
    wrong = "not-the-password-" + "x" * 8
    url = _url(stack, port=_port(stack, endpoint), password=wrong, query="sslmode=require")
    # WHEN connecting
    started = time.monotonic()
    with pytest.raises(DatabaseMisconfigured) as caught:
        connect(parse_database_url(url), Settings(db_connect_attempts=3))
    # THEN it fails at once (no retry can fix a password, and the first backoff alone
    # would take 0.25 s), saying so in the server's words, without either password
    assert time.monotonic() - started < 0.25
    reason = str(caught.value)
    assert reason == f"the database refused the password: {_WRONG_PASSWORD[endpoint]}"
    assert wrong not in reason and stack.password not in reason


@pytest.mark.parametrize("endpoint", ["pooler", "direct"])
def test_a_database_that_does_not_exist_is_refused_at_once_by_name(
    stack: neon_local.Stack, endpoint: str
) -> None:
    # GIVEN a URL naming a database the server does not have
    url = _url(stack, port=_port(stack, endpoint), query="sslmode=require")
    url = url.replace(f"/{stack.database}?", "/no_such_db?")
    # WHEN connecting with three attempts allowed
    started = time.monotonic()
    with pytest.raises(DatabaseMisconfigured) as caught:
        connect(parse_database_url(url), Settings(db_connect_attempts=3))
    # THEN it fails at once (three attempts would take over 2 s: 0.75 s of backoff, and
    # PgBouncer holds a login for server_login_retry, 0.5 s, after a failed one), naming
    # the database as the server (or the pooler) does
    assert time.monotonic() - started < 1
    assert str(caught.value) == f"the database named in the URL does not exist: {_NO_DATABASE}"


def test_a_host_that_does_not_resolve_says_so_at_once(stack: neon_local.Stack) -> None:
    # GIVEN a URL whose host name cannot exist (.invalid is reserved: RFC 6761)
    host = "ep-typo-pooler.no-such-region.invalid"
    url = _url(stack, port=stack.pooler_port, query="sslmode=require").replace("localhost", host)
    # WHEN connecting with three attempts allowed
    started = time.monotonic()
    with pytest.raises(DatabaseMisconfigured) as caught:
        connect(parse_database_url(url), Settings(db_connect_attempts=3))
    # THEN it says which host does not resolve, at once, and nothing of the credentials
    assert time.monotonic() - started < 0.25
    assert str(caught.value) == f"the database host {host} does not resolve: check the URL"
    assert stack.password not in str(caught.value) and stack.user not in str(caught.value)


def test_refused_port_gives_the_typed_error_after_bounded_retries() -> None:
    # GIVEN a port nothing listens on
    port = neon_local.free_port()
    params = parse_database_url(f"postgresql://u:{'p' * 6}@127.0.0.1:{port}/db?sslmode=require")
    # WHEN connecting with three attempts
    started = time.monotonic()
    with pytest.raises(DatabaseUnavailable) as caught:
        connect(params, Settings(db_connect_attempts=3, db_connect_timeout=1))
    # THEN it gave up after the backoff (0.25 s + 0.5 s), not instantly and not forever
    assert 0.7 < time.monotonic() - started < 3
    assert "unavailable" in str(caught.value)


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A server that accepts TCP connections and never answers (a compute still waking)."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join()
    for sock in [*accepted, listener]:
        sock.close()


def test_unresponsive_server_gives_the_typed_error_within_the_timeout(silent_server: int) -> None:
    # GIVEN a server that never answers, and a 0.5 s connect timeout with two attempts
    url = f"postgresql://u:{'p' * 6}@127.0.0.1:{silent_server}/db?sslmode=require"
    settings = Settings(db_connect_attempts=2, db_connect_timeout=0.5)
    # WHEN connecting
    started = time.monotonic()
    with pytest.raises(DatabaseUnavailable):
        connect(parse_database_url(url), settings)
    # THEN it failed after two timeouts plus one backoff, not a hang
    assert 1.0 < time.monotonic() - started < 2.5


@pytest.fixture
def counted_pbkdf2(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count SCRAM key derivations (PBKDF2 runs), starting from an empty cache."""
    from shared.adapters.scramp_client import forget_derived_keys

    forget_derived_keys()
    runs: list[int] = []
    real = hashlib.pbkdf2_hmac

    def counting(*args: Any, **kwargs: Any) -> bytes:
        runs.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(hashlib, "pbkdf2_hmac", counting)
    return runs


def test_scram_derives_the_client_key_once_per_process(
    stack: neon_local.Stack, counted_pbkdf2: list[int]
) -> None:
    # GIVEN a process that has not logged in yet
    params = parse_database_url(stack.database_url)
    # WHEN three NullPool requests log in
    for _ in range(3):
        connect(params, Settings()).close()
    # THEN the 4,096-round PBKDF2 ran once, not once per login
    assert len(counted_pbkdf2) == 1


def test_a_password_reset_takes_effect_at_once_despite_the_key_cache(
    stack: neon_local.Stack, counted_pbkdf2: list[int]
) -> None:
    # GIVEN a role that has logged in (its key cached), then gets a new password
    role, old, new = f"reset_{uuid.uuid4().hex[:8]}", "old-" + "p" * 12, "new-" + "q" * 12
    stack.admin_psql(f"CREATE ROLE {role} LOGIN PASSWORD '{old}'")

    def direct(password: str) -> ConnectParams:
        url = f"postgresql://{role}:{password}@localhost:{stack.pg_port}/{stack.database}"
        return parse_database_url(url + "?sslmode=require")

    connect(direct(old), Settings()).close()
    stack.admin_psql(f"ALTER ROLE {role} PASSWORD '{new}'")
    # WHEN logging in with the new password, then with the old one
    connect(direct(new), Settings()).close()
    with pytest.raises(DatabaseMisconfigured) as caught:
        connect(direct(old), Settings())
    # THEN the new one works, the old one is refused, and each salt got its own key
    assert "password" in str(caught.value)
    assert len(counted_pbkdf2) == 3


@pytest.mark.parametrize(
    ("wrong", "said"),
    [
        ("password", f"the database refused the password: {_WRONG_PASSWORD['direct']}"),
        ("database", f"the database named in the URL does not exist: {_NO_DATABASE}"),
    ],
)
def test_the_migrate_command_prints_the_servers_reason(
    stack: neon_local.Stack, wrong: str, said: str
) -> None:
    # GIVEN the migrate command's environment with a wrong password or database name
    bad = "not-the-password-" + "y" * 8
    urls = {"DATABASE_URL": stack.database_url, "DATABASE_URL_DIRECT": stack.direct_url}
    for name, url in urls.items():
        urls[name] = (
            url.replace(quote(stack.password, safe=""), bad)
            if wrong == "password"
            else url.replace(f"/{stack.database}?", "/no_such_db?")
        )
    env = {**os.environ, **urls, "DB_CONNECT_ATTEMPTS": "3", "PYTHONPATH": str(ROOT)}
    # WHEN `python -m functions.migrate` runs (it migrates through the direct endpoint)
    done = run_module("functions.migrate", env=env)
    # THEN it fails with the server's reason as its last line, logged once (no retries),
    # and neither password anywhere
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == f"error: {said}"
    assert done.stdout.count('"database connection refused"') == 1
    assert "connection attempt failed" not in done.stdout
    for secret in (bad, stack.password):
        assert secret not in done.stdout + done.stderr
