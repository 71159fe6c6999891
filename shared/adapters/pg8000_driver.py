"""pg8000's DB-API connection, made safe and cheap behind a transaction-mode pooler.

Stock pg8000 sends a parameterised statement in three flights, each ending in Sync
(Parse; Describe; Bind+Execute). Behind PgBouncer in transaction mode every Sync outside
a transaction may hand the next flight to another server connection, so concurrent
clients' unnamed statements get mixed up. Here the whole statement (Parse, Bind,
Describe portal, Execute, Sync) goes in one flight: one round trip, one implicit
transaction, one server connection. This is needed for correctness, not speed. The rest
of pg8000 is used as it is.

SCRAM logins use ``scramp_client``'s client, which derives each key once per process;
what the login binds to (the TLS channel, or nothing) is decided by ``shared.db.tls``
and handed in. The insides used here (pg8000.core's message helpers, the connection's
socket and state) are those of the pg8000 in ``versions.py``.
"""

from __future__ import annotations

import socket
from typing import Any

import pg8000.dbapi
from pg8000.converters import make_params
from pg8000.core import (
    BIND,
    DESCRIBE,
    EXECUTE_MSG,
    NULL_BYTE,
    PARSE,
    PASSWORD,
    PORTAL,
    SYNC_MSG,
    Context,
    H_pack,
    _create_message,
    _flush,
    _write,
    i_pack,
)

from shared.adapters.scramp_client import CachedKeyScramClient

__all__ = ["ScramChannelBinding", "SingleFlightConnection"]

# What scramp binds a login to: ("tls-server-end-point", the connection's TLS socket).
ScramChannelBinding = tuple[str, Any]
_SASL = 10


class SingleFlightConnection(pg8000.dbapi.Connection):  # type: ignore[misc]  # untyped base
    """A pg8000 DB-API connection that sends each statement in a single flight."""

    scram_channel_binding: ScramChannelBinding | None = None

    def __init__(
        self, *args: Any, scram_channel_binding: ScramChannelBinding | None = None, **kw: Any
    ):
        """pg8000's arguments, and what a SCRAM login binds to (None: no binding)."""
        self.scram_channel_binding = scram_channel_binding
        super().__init__(*args, **kw)

    def execute_unnamed(
        self, statement: str, vals: Any = (), oids: Any = (), stream: Any = None
    ) -> Context:
        if stream is not None:  # COPY streams keep pg8000's own message flow
            return super().execute_unnamed(statement, vals=vals, oids=oids, stream=stream)
        context = Context(statement)
        _write(self._sock, self._statement_flight(statement, vals, oids or ()))
        _flush(self._sock)
        self.handle_messages(context)
        return context

    def _statement_flight(self, statement: str, vals: Any, oids: Any) -> bytes:
        encoding = self._client_encoding
        parse = NULL_BYTE + statement.encode(encoding) + NULL_BYTE + H_pack(len(oids))
        parse += b"".join(i_pack(0 if oid == -1 else oid) for oid in oids)
        bind = bytearray(NULL_BYTE + NULL_BYTE + H_pack(0))
        params = make_params(self.py_types, vals)
        bind += H_pack(len(params))
        for value in params:
            encoded = None if value is None else value.encode(encoding)
            bind += i_pack(-1) if encoded is None else i_pack(len(encoded)) + encoded
        bind += H_pack(0)
        return b"".join(
            (
                _create_message(PARSE, parse),
                _create_message(BIND, bytes(bind)),
                _create_message(DESCRIBE, PORTAL + NULL_BYTE),
                EXECUTE_MSG,
                SYNC_MSG,
            )
        )

    def commit(self) -> None:
        # Outside a transaction (autocommit) there is nothing to commit: skip the round trip.
        if self._in_transaction:
            super().commit()

    def handle_AUTHENTICATION_REQUEST(self, data: bytes, context: Context) -> None:  # noqa: N802
        if int.from_bytes(data[:4], "big") != _SASL:
            super().handle_AUTHENTICATION_REQUEST(data, context)
            return
        # AuthenticationSASL, answered as pg8000 does but with the cached-key client and
        # the binding handed in; the continue and final steps are pg8000's own, driven by
        # self.auth. Without a binding scramp leaves the -PLUS mechanisms out and tells the
        # server it does not bind ("n"), as libpq does with channel_binding=disable.
        mechanisms = [m.decode("ascii") for m in data[4:-2].split(NULL_BYTE)]
        user, password = self.user.decode("utf8"), (self.password or b"").decode("utf8")
        binding = self.scram_channel_binding
        self.auth = CachedKeyScramClient(mechanisms, user, password, channel_binding=binding)
        initial = self.auth.get_client_first().encode("utf8")
        mechanism = self.auth.mechanism_name.encode("ascii") + NULL_BYTE
        self._send_message(PASSWORD, mechanism + i_pack(len(initial)) + initial)
        _flush(self._sock)

    @property
    def socket(self) -> socket.socket:
        """The connection's network socket (an ``ssl.SSLSocket`` once TLS is negotiated)."""
        sock: socket.socket = self._usock
        return sock

    @property
    def server_parameters(self) -> dict[str, str]:
        """The ParameterStatus values the server reported (``server_version``, ...)."""
        return dict(self.parameter_statuses)

    @property
    def auth_mechanism(self) -> str | None:
        """The SASL mechanism used to log in, or None when SCRAM was not used."""
        auth = getattr(self, "auth", None)
        return None if auth is None else str(auth.mechanism_name)
