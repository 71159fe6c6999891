"""TLS set-up per connection: resumed sessions through the pooler, libpq's sslmode fallbacks."""

from __future__ import annotations

import contextlib
import gc
import os
import socket
import threading
import uuid
from collections.abc import Iterator
from dataclasses import replace

import pytest

from infra.local import neon_local
from shared.core.errors import DatabaseUnavailable
from shared.core.settings import Settings
from shared.db.connect import connect
from shared.db.tls import tls_of
from shared.db.url import ConnectParams, parse_database_url


def _fresh_params(stack: neon_local.Stack) -> ConnectParams:
    """The pooled URL's parameters, as a key no earlier connection has used."""
    params = parse_database_url(stack.database_url)
    return replace(params, application_name=f"tls-test-{uuid.uuid4().hex[:8]}")


def _resumed(params: ConnectParams) -> tuple[bool, list[object]]:
    conn = connect(params, Settings())
    try:
        cursor = conn.cursor()
        cursor.execute("SELECT current_database()")
        tls = tls_of(conn.socket)
        assert tls is not None
        return bool(tls.session_reused), cursor.fetchone()
    finally:
        conn.close()


def test_a_new_connection_resumes_the_previous_tls_session(stack: neon_local.Stack) -> None:
    # GIVEN a process that has not connected with these parameters yet
    params = _fresh_params(stack)
    # WHEN it connects three times, as three NullPool requests do
    seen = [_resumed(params) for _ in range(3)]
    # THEN the first does a full handshake and the next ones resume, all of them working
    assert seen == [(False, [stack.database]), (True, [stack.database]), (True, [stack.database])]


def test_a_pooler_that_forgot_its_sessions_gets_a_full_handshake(stack: neon_local.Stack) -> None:
    # GIVEN a remembered session, and then the pooler restarts with new ticket keys
    params = _fresh_params(stack)
    _resumed(params)
    stack.stop_pooler()
    stack.start_pooler()
    # WHEN the next connection offers the stale session
    after_restart = _resumed(params)
    # THEN the server's refusal costs a full handshake, not an error; then it resumes again
    assert after_restart == (False, [stack.database])
    assert _resumed(params) == (True, [stack.database])


def _rss_bytes() -> int:
    gc.collect()
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_connecting_over_and_over_does_not_grow_memory(stack: neon_local.Stack) -> None:
    # GIVEN a process that has connected once (its TLS session remembered)
    params = _fresh_params(stack)
    _resumed(params)
    before = _rss_bytes()
    # WHEN 500 more connections come and go, as 500 NullPool requests do
    for _ in range(500):
        connect(params, Settings()).close()
    # THEN memory stays flat: a TLS session copy leaked per connection would be ~6 MB
    assert _rss_bytes() - before < 1.5 * 2**20


class PlaintextOnlyServer:
    """Declines TLS ('N') to one client, then records what the client sends next."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._received = b""
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        conn, _ = self._listener.accept()
        with conn:
            conn.recv(8)  # the SSLRequest
            conn.sendall(b"N")
            conn.settimeout(2)
            with contextlib.suppress(OSError):
                self._received = conn.recv(1024)

    def sent_after_refusal(self) -> bytes:
        """What the client sent once TLS was declined (b"" if it hung up)."""
        self._thread.join(timeout=5)
        return self._received

    def close(self) -> None:
        self._listener.close()


@pytest.fixture
def plaintext_only_server() -> Iterator[PlaintextOnlyServer]:
    server = PlaintextOnlyServer()
    yield server
    server.close()


def test_sslmode_require_refuses_a_server_without_tls(
    plaintext_only_server: PlaintextOnlyServer,
) -> None:
    # GIVEN a server that does not offer TLS, and a URL that requires it
    url = f"postgresql://app:{'p' * 8}@127.0.0.1:{plaintext_only_server.port}/db?sslmode=require"
    # WHEN connecting
    with pytest.raises(DatabaseUnavailable) as caught:
        connect(parse_database_url(url), Settings(db_connect_attempts=3))
    # THEN it stops at once with a clear reason, and sends nothing in plaintext
    assert "does not accept TLS" in str(caught.value)
    assert plaintext_only_server.sent_after_refusal() == b""


def test_sslmode_prefer_falls_back_to_plaintext_like_libpq(
    plaintext_only_server: PlaintextOnlyServer,
) -> None:
    # GIVEN a server that does not offer TLS, and a URL that only prefers it
    url = f"postgresql://app:{'p' * 8}@127.0.0.1:{plaintext_only_server.port}/db?sslmode=prefer"
    # WHEN connecting (the fake server hangs up after the startup message)
    with pytest.raises(DatabaseUnavailable):
        connect(parse_database_url(url), Settings(db_connect_attempts=1))
    # THEN the startup message went in plaintext: protocol 3.0, naming the user
    startup = plaintext_only_server.sent_after_refusal()
    assert startup[4:8] == (196608).to_bytes(4, "big") and b"user\x00app\x00" in startup
