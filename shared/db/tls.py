"""TLS on a new PostgreSQL connection, resuming the process's last session with the server.

Every NullPool request opens a connection. A full TLS handshake sends and verifies the
server's certificate chain and signs with its key; resuming the session the previous
connection got (a TLS 1.3 ticket) skips all of that. A server that does not resume
(a restarted pooler, PostgreSQL itself) completes a full handshake instead, so
resumption is never a reason to fail.
"""

from __future__ import annotations

import socket
import ssl
import struct
import sys

from shared.core.errors import DatabaseUnavailable
from shared.core.observability import logger
from shared.db.url import ConnectParams

# The protocol's SSLRequest: length 8, then the magic code 80877103.
_SSL_REQUEST = struct.pack("!ii", 8, 80877103)
_TLS_ACCEPTED = b"S"
_NO_DIRECT_TLS = (
    "the database server does not accept direct TLS: sslnegotiation=direct needs "
    "PostgreSQL 17 or later (or Neon); remove it from the URL to negotiate as before"
)
# Until 3.12.8 (and in 3.13.0) every read of SSLSocket.session leaks a copy of the
# session, about 12 kB (CPython gh-116810; Lambda's managed runtime takes patch
# releases). There a session is read only after a full handshake (a server that takes
# a ticket more than once, as PgBouncer does, needs no new one), and at most this many
# times per target.
_LEAKY_READS = 16 if sys.version_info < (3, 12, 8) or sys.version_info[:3] == (3, 13, 0) else None


class _Sessions:
    """The newest TLS session per connection target, read as sparingly as CPython allows."""

    def __init__(self, leaky_reads: int | None) -> None:
        self._kept: dict[ConnectParams, tuple[ssl.SSLContext, ssl.SSLSession]] = {}
        self._reads: dict[ConnectParams, int] = {}
        self._leaky_reads = leaky_reads

    def offer(self, params: ConnectParams, context: ssl.SSLContext) -> ssl.SSLSession | None:
        made_by, session = self._kept.get(params, (None, None))
        return session if made_by is context else None  # Python checks they match

    def keep(self, sock: ssl.SSLSocket, params: ConnectParams) -> None:
        if self._leaky_reads is not None:
            reads = self._reads.get(params, 0)
            if sock.session_reused or reads >= self._leaky_reads:
                return
            self._reads[params] = reads + 1
        session = sock.session
        if session is not None:
            self._kept[params] = (sock.context, session)


_sessions = _Sessions(_LEAKY_READS)


def start_tls(sock: socket.socket, params: ConnectParams) -> socket.socket:
    """Negotiate TLS as ``params.sslmode`` asks; the socket to speak the protocol on."""
    context = params.tls_context()
    if context is None:
        return sock
    if params.sslnegotiation == "direct":
        return _direct(sock, params, context)
    sock.sendall(_SSL_REQUEST)
    answer = sock.recv(1)
    if not answer:
        raise ConnectionResetError("the server closed the connection")
    if answer != _TLS_ACCEPTED:
        if params.requires_tls():
            raise DatabaseUnavailable(
                "the database server does not accept TLS, which sslmode requires"
            )
        return sock  # sslmode=prefer or allow: plaintext will do
    session = _sessions.offer(params, context)
    return context.wrap_socket(sock, server_hostname=params.host, session=session)


def _direct(sock: socket.socket, params: ConnectParams, context: ssl.SSLContext) -> socket.socket:
    """TLS right after TCP (PostgreSQL 17+, ALPN "postgresql"): no SSLRequest round trip."""
    session = _sessions.offer(params, context)
    try:
        return context.wrap_socket(sock, server_hostname=params.host, session=session)
    except ssl.SSLCertVerificationError:
        raise  # the certificate's fault, reported as such
    except (ssl.SSLError, ConnectionError) as exc:
        # A server older than PostgreSQL 17, or PgBouncer, reads the ClientHello as a
        # malformed startup packet and hangs up: retrying cannot help.
        logger.warning(
            "direct TLS refused", extra={"error": type(exc).__name__, "reason": _NO_DIRECT_TLS}
        )
        raise DatabaseUnavailable(_NO_DIRECT_TLS) from None


def remember_session(sock: socket.socket, params: ConnectParams) -> None:
    """Keep the connection's TLS session for the next connection with ``params``."""
    # Called after the login: TLS 1.3 tickets come after the handshake, with the first data.
    if isinstance(sock, ssl.SSLSocket):
        _sessions.keep(sock, params)
