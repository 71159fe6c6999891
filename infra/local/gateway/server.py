"""uvicorn, the gateway's HTTP server (the one module that knows uvicorn's and h11's insides).

uvicorn with h11 parses HTTP/1.1 strictly: ``Transfer-Encoding: chunked`` bodies are
decoded, a ``Content-Length`` that is negative, not a number, or repeated with another
value is a 400 and the connection closes, and one longer than the body that arrives
waits only as long as the app's body time-out. ``TCP_NODELAY`` is set on every
connection, so a response's header and body writes leave at once (under Nagle the body
waits for the client's delayed ACK of the head: about 44 ms per keep-alive request, with
``http.server`` and with uvicorn on a socket whose NODELAY was not set). The listen
backlog is 2048 (``http.server``'s 5 dropped 111 of a burst of 200 connections).

uvicorn has no time-out for a request's head: a client that sends a few bytes of headers,
then nothing, would hold its connection for ever (its keep-alive timer stops at the first
byte). :class:`TimedH11Protocol` closes such a connection after ``head_timeout`` seconds
(with a 408 when part of a head had arrived).

Like API Gateway's HTTP API, which has no WebSocket routes, it serves an ``Upgrade:
websocket`` request as plain HTTP (uvicorn's WebSocket support is off). Heads up to
``MAX_INCOMPLETE_HEAD`` reach the app, which refuses those over API Gateway's limit with
431; a larger one is h11's 400.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = ["BACKLOG", "GatewayServer", "bind"]

BACKLOG = 2048
KEEP_ALIVE_SECONDS = 5
MAX_INCOMPLETE_HEAD = 64 * 1024
_TIMEOUT = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
    b"content-length: 29\r\nconnection: close\r\n\r\n"
    b'{"message":"Request Timeout"}'
)


def _timed_protocol(head_timeout: float) -> type[H11Protocol]:
    class TimedH11Protocol(H11Protocol):
        """h11's protocol with a deadline for each request's head."""

        _head_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            # asyncio sets TCP_NODELAY only on sockets whose proto is IPPROTO_TCP, and those
            # accepted from a socket made by socket.create_server have proto 0.
            connection = transport.get_extra_info("socket")
            if connection is not None:
                connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._arm()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
                self._arm()  # the head is not complete yet: the first byte started its clock
            else:
                self._disarm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _arm(self) -> None:
            if self._head_timer is None:
                self._head_timer = self.loop.call_later(head_timeout, self._head_timed_out)

        def _disarm(self) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

        def _head_timed_out(self) -> None:
            self._head_timer = None
            if self.conn.their_state is not h11.IDLE or self.transport.is_closing():
                return
            if self.conn.trailing_data[0]:
                self.transport.write(_TIMEOUT)
            self.transport.close()

    return TimedH11Protocol


def bind(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    """A listening socket (port 0: a free one), bound before the app that will serve it."""
    return socket.create_server((host, port), backlog=BACKLOG)


class GatewayServer:
    """An ASGI app served by uvicorn on a bound socket (see :func:`bind`)."""

    def __init__(self, app: Any, sock: socket.socket, head_timeout: float = 10.0) -> None:
        self._socket = sock
        config = uvicorn.Config(
            app,
            http=_timed_protocol(head_timeout),
            loop="asyncio",
            lifespan="off",
            ws="none",
            h11_max_incomplete_event_size=MAX_INCOMPLETE_HEAD,
            backlog=BACKLOG,
            timeout_keep_alive=KEEP_ALIVE_SECONDS,
            timeout_graceful_shutdown=5,
            log_config=None,
            log_level="warning",
            access_log=False,  # the gateway prints its own line, escaped
            server_header=False,
        )
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    def run(self) -> None:
        """Serve until interrupted (Ctrl-C or SIGTERM in the main thread)."""
        self._server.run(sockets=[self._socket])

    def start(self) -> None:
        """Serve from a background thread; returns once the socket accepts requests."""
        self._thread = threading.Thread(target=self.run, name="local-gateway", daemon=True)
        self._thread.start()
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError("the local gateway stopped while starting")
            self._thread.join(0.01)

    def stop(self) -> None:
        """Stop serving (in-flight requests get a few seconds) and close the socket."""
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(10)
        self._socket.close()
