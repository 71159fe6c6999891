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

from shared.dburl import ConnectParams
from shared.errors import DatabaseUnavailable

# The protocol's SSLRequest: length 8, then the magic code 80877103.
_SSL_REQUEST = struct.pack("!ii", 8, 80877103)
_TLS_ACCEPTED = b"S"
# A session can only be resumed with the context that made it (Python checks).
_sessions: dict[ConnectParams, tuple[ssl.SSLContext, ssl.SSLSession]] = {}


def start_tls(sock: socket.socket, params: ConnectParams) -> socket.socket:
    """Negotiate TLS as ``params.sslmode`` asks; the socket to speak the protocol on."""
    context = params.tls_context()
    if context is None:
        return sock
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
    made_by, session = _sessions.get(params, (None, None))
    resume = session if made_by is context else None
    return context.wrap_socket(sock, server_hostname=params.host, session=resume)


def remember_session(sock: socket.socket, params: ConnectParams) -> None:
    """Keep the connection's newest TLS session for the next connection with ``params``."""
    # Called after the login: TLS 1.3 tickets come after the handshake, with the first data.
    if isinstance(sock, ssl.SSLSocket) and sock.session is not None:
        _sessions[params] = (sock.context, sock.session)
