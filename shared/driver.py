"""pg8000's DB-API connection, made safe and cheap behind a transaction-mode pooler.

Stock pg8000 sends a parameterised statement in three flights, each ending in Sync
(Parse; Describe; Bind+Execute). Behind PgBouncer in transaction mode every Sync outside
a transaction may hand the next flight to another server connection, so concurrent
clients' unnamed statements get mixed up. Here the whole statement (Parse, Bind,
Describe portal, Execute, Sync) goes in one flight: one round trip, one implicit
transaction, one server connection. The rest of pg8000 is used as it is.

A SCRAM login derives the client's key with 4,096 rounds of PBKDF2 and normalises the
user name and password with SASLprep: about 1 ms of CPU on every NullPool request. Both
are pure functions of the credentials and of the salt and iteration count the server
keeps for the role, so each process computes them once.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import pg8000.dbapi
import scramp.core
from pg8000.converters import make_params
from pg8000.core import (
    BIND,
    DESCRIBE,
    EXECUTE_MSG,
    NULL_BYTE,
    PARSE,
    PORTAL,
    SYNC_MSG,
    Context,
    H_pack,
    _create_message,
    _flush,
    _write,
    i_pack,
)

from shared.dburl import ChannelBinding

_SASL = 10
_PLUS = "-PLUS"

_pbkdf2 = scramp.core.hi


@lru_cache(maxsize=8)
def _salted_password(hash_function: Any, password: bytes, salt: bytes, rounds: int) -> bytes:
    return bytes(_pbkdf2(hash_function, password, salt, rounds))


def _cached_hi(hash_function: Any, password: bytes, salt: bytes, rounds: Any) -> bytes:
    # A new salt (a password reset) or password is a new key: no stale entry is ever used.
    return _salted_password(hash_function, password, salt, int(rounds))


# scramp looks both functions up by these names on every login.
scramp.core.hi = _cached_hi
scramp.core.saslprep = lru_cache(maxsize=16)(scramp.core.saslprep)


class SingleFlightConnection(pg8000.dbapi.Connection):  # type: ignore[misc]  # untyped base
    """A pg8000 DB-API connection that sends each statement in a single flight."""

    channel_binding: ChannelBinding = "prefer"

    def __init__(self, *args: Any, channel_binding: ChannelBinding = "prefer", **kw: Any):
        self.channel_binding = channel_binding
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
        if self.channel_binding == "disable" and int.from_bytes(data[:4], "big") == _SASL:
            mechanisms = data[4:-2].split(NULL_BYTE)
            kept = [m for m in mechanisms if not m.decode("ascii").endswith(_PLUS)]
            data = data[:4] + NULL_BYTE.join(kept) + NULL_BYTE + NULL_BYTE
        super().handle_AUTHENTICATION_REQUEST(data, context)

    @property
    def auth_mechanism(self) -> str | None:
        """The SASL mechanism used to log in, or None when SCRAM was not used."""
        auth = getattr(self, "auth", None)
        return None if auth is None else str(auth.mechanism_name)
