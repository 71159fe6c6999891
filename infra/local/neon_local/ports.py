"""Loopback ports: free ones for tests, checks that a chosen one is free or answering."""

from __future__ import annotations

import socket

from infra.local.neon_local.commands import NeonLocalError

_handed_out_ports: set[int] = set()


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


def require_free(port: int, what: str, env: str, flag: str) -> None:
    if not _port_free(port):
        raise NeonLocalError(
            f"port {port} for {what} on 127.0.0.1 is in use by another "
            f"program; set {env} (or {flag}) to a free port"
        )


def accepting(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False
