"""All TLS of a database connection: the context, the negotiation, resumption, binding.

* The context: what ``sslmode``, ``sslrootcert``, ``sslcert`` and ``sslkey`` mean in
  libpq, built once per connection target (it reads the trust store: 23 ms per connection
  if built each time).
* The negotiation: PostgreSQL's SSLRequest, or TLS right after TCP
  (``sslnegotiation=direct``), and falling back to plaintext only where sslmode allows.
* Resumption: every NullPool request opens a connection. A full handshake sends and
  verifies the server's certificate chain and signs with its key; resuming the session
  the previous connection got (a TLS 1.3 ticket) skips all of that: about 11 % of a
  NullPool request here (docs/design.md). A server that does not resume (a restarted
  pooler, PostgreSQL itself) completes a full handshake instead, so resumption is never
  a reason to fail.
* Channel binding: SCRAM binds the login to the TLS channel (``SCRAM-SHA-256-PLUS``)
  unless ``channel_binding=disable``, and ``channel_binding=require`` refuses a login
  that was not SCRAM over TLS.
"""

from __future__ import annotations

import socket
import ssl
import struct
import sys
from functools import lru_cache

from shared.core.errors import ConfigurationError, DatabaseUnavailable
from shared.core.observability import logger
from shared.db.url import ConnectParams

__all__ = [
    "ALPN_PROTOCOL",
    "check_channel_binding",
    "remember_session",
    "requires_tls",
    "scram_channel_binding",
    "start_tls",
    "tls_context",
    "tls_of",
]

# libpq 17's ALPN protocol for PostgreSQL; direct TLS servers insist on it.
ALPN_PROTOCOL = "postgresql"
# The protocol's SSLRequest: length 8, then the magic code 80877103.
_SSL_REQUEST = struct.pack("!ii", 8, 80877103)
_TLS_ACCEPTED = b"S"
_NO_DIRECT_TLS = (
    "the database server does not accept direct TLS: sslnegotiation=direct needs "
    "PostgreSQL 17 or later (or Neon); remove it from the URL to negotiate as before"
)
# RFC 5929's binding to the server's certificate: the one PostgreSQL's -PLUS supports.
_BINDING = "tls-server-end-point"
# Until 3.12.8 (and in 3.13.0) every read of SSLSocket.session leaks a copy of the
# session, about 12 kB (CPython gh-116810; Lambda's managed runtime takes patch
# releases). There a session is read only after a full handshake (a server that takes
# a ticket more than once, as PgBouncer does, needs no new one), and at most this many
# times per target.
_LEAKY_READS = 16 if sys.version_info < (3, 12, 8) or sys.version_info[:3] == (3, 13, 0) else None


# ------------------------------------------------------------------------------ context


@lru_cache(maxsize=8)
def tls_context(params: ConnectParams) -> ssl.SSLContext | None:
    """The TLS context for this sslmode, or None when TLS is disabled; one per target."""
    if params.sslmode == "disable":
        return None
    context = _verifying_context(params) if _verifies(params) else _encrypting_context(params)
    if params.sslnegotiation == "direct":
        context.set_alpn_protocols([ALPN_PROTOCOL])
    return context


def requires_tls(params: ConnectParams) -> bool:
    """False for sslmode=allow and prefer, which fall back to plaintext."""
    return params.sslmode not in ("disable", "allow", "prefer") or params.is_neon


def _verifies(params: ConnectParams) -> bool:
    # libpq: "require" verifies the chain when a root certificate is given. Neon endpoints
    # serve publicly trusted certificates, so they are always verified.
    return params.is_neon or params.sslmode.startswith("verify") or bool(params.sslrootcert)


def _verifying_context(params: ConnectParams) -> ssl.SSLContext:
    root = None if params.sslrootcert in (None, "system") else params.sslrootcert
    try:
        context = ssl.create_default_context(cafile=root)
    except (OSError, ssl.SSLError):
        raise ConfigurationError("DATABASE_URL: sslrootcert file cannot be read") from None
    context.check_hostname = params.sslmode == "verify-full" or params.is_neon
    _load_client_cert(context, params)
    return context


def _encrypting_context(params: ConnectParams) -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    _load_client_cert(context, params)
    return context


def _load_client_cert(context: ssl.SSLContext, params: ConnectParams) -> None:
    if params.sslcert is None:
        return
    try:
        context.load_cert_chain(params.sslcert, params.sslkey)
    except (OSError, ssl.SSLError):
        raise ConfigurationError("DATABASE_URL: sslcert/sslkey cannot be read") from None


# -------------------------------------------------------------------------- negotiation


def start_tls(sock: socket.socket, params: ConnectParams) -> socket.socket:
    """Negotiate TLS as ``params.sslmode`` asks; the socket to speak the protocol on."""
    context = tls_context(params)
    if context is None:
        return sock
    if params.sslnegotiation == "direct":
        return _direct(sock, params, context)
    sock.sendall(_SSL_REQUEST)
    answer = sock.recv(1)
    if not answer:
        raise ConnectionResetError("the server closed the connection")
    if answer != _TLS_ACCEPTED:
        if requires_tls(params):
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


def tls_of(sock: socket.socket) -> ssl.SSLSocket | None:
    """The connection's TLS socket, or None when it speaks plaintext."""
    return sock if isinstance(sock, ssl.SSLSocket) else None


# --------------------------------------------------------------------------- resumption


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


def remember_session(sock: socket.socket, params: ConnectParams) -> None:
    """Keep the connection's TLS session for the next connection with ``params``."""
    # Called after the login: TLS 1.3 tickets come after the handshake, with the first data.
    tls = tls_of(sock)
    if tls is not None:
        _sessions.keep(tls, params)


# ---------------------------------------------------------------------- channel binding


def scram_channel_binding(
    sock: socket.socket, params: ConnectParams
) -> tuple[str, ssl.SSLSocket] | None:
    """What a SCRAM login on ``sock`` binds to, in scramp's terms; None: no binding.

    The -PLUS mechanism is used whenever the server offers it (Neon does); PgBouncer
    never offers it. ``channel_binding=disable`` never binds, as libpq.
    """
    tls = tls_of(sock)
    if tls is None or params.channel_binding == "disable":
        return None
    return _BINDING, tls


def check_channel_binding(
    sock: socket.socket, params: ConnectParams, mechanism: str | None
) -> None:
    """Refuse, as libpq's ``channel_binding=require`` does, a login not SCRAM over TLS.

    ``mechanism`` is the SASL mechanism the login used (None: not SCRAM). Where the
    server offers no -PLUS mechanism (PgBouncer), "require" still insists on both.
    """
    if params.channel_binding != "require":
        return
    if mechanism is None or tls_of(sock) is None:
        raise DatabaseUnavailable(
            "the server did not authenticate with SCRAM over TLS (channel_binding=require)"
        )
