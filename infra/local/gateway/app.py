"""The gateway itself, an ASGI app: what API Gateway (HTTP API) does in front of the functions.

For each request: a request line and headers over API Gateway's 10,240 bytes are refused
(431); a CORS preflight is answered from the API's CORS configuration; any other request
is matched to a serverless.yml route (none: 404 ``{"message":"Not Found"}``, as API
Gateway answers), its whole body is read (within ``body_timeout`` seconds and
``max_body`` bytes, else 408 or 413; a client that goes away mid-body is dropped and
nothing is invoked), the function is invoked with a payload 2.0 event in a worker
thread, and its result goes back with the CORS headers API Gateway would add. A function
that has not answered within API Gateway's 30 s integration timeout is answered 503
``{"message":"Service Unavailable"}``, as API Gateway answers it; the invocation itself
runs on, as it would on Lambda. When it plays Better Auth it also serves the development
JWKS.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Awaitable, Callable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any
from urllib.parse import quote

from infra.local.gateway.cors import PREFLIGHT_STATUS, CorsConfig, is_preflight
from infra.local.gateway.events import Reply, Request, http_api_event, reply_of
from infra.local.gateway.invokers import Invoker
from infra.serverless.routes import HttpRoute, route_for

__all__ = ["INTEGRATION_TIMEOUT", "JWKS_PATH", "MAX_BODY", "MAX_HEAD", "Gateway"]

JWKS_PATH = "/api/auth/jwks"
MAX_BODY = 10 * 1024 * 1024  # API Gateway's HTTP API payload limit
# HTTP API quotas: the request line and header values together, and the integration timeout.
MAX_HEAD = 10 * 1024
INTEGRATION_TIMEOUT = 30.0
WORKERS = 32  # threads waiting for a function's worker process are cheap; see Workers
_JSON = ("content-type", "application/json")
# Printable ASCII a log line may show as it is; anything else is percent-encoded.
_LOG_SAFE = "/?&=%:@!$'()*+,;~-._[]"
Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


def _print(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _message(status: int, message: str, *extra: tuple[str, str]) -> Reply:
    return Reply(status, [_JSON, *extra], json.dumps({"message": message}).encode())


class Gateway:
    """The ASGI app: CORS, routing, body reading, invocation, response."""

    def __init__(
        self,
        invoke: Invoker,
        *,
        cors: CorsConfig | None,
        jwks: dict[str, Any] | None = None,
        body_timeout: float = 30.0,
        max_body: int = MAX_BODY,
        integration_timeout: float = INTEGRATION_TIMEOUT,
        log: Callable[[str], None] = _print,
    ) -> None:
        self._invoke = invoke
        self._cors = cors
        self._jwks = jwks
        self._body_timeout = body_timeout
        self._max_body = max_body
        self._integration_timeout = integration_timeout
        self._log = log
        self._executor = ThreadPoolExecutor(WORKERS, thread_name_prefix="lambda")

    def close(self) -> None:
        """Wait for running invocations and stop the worker threads."""
        self._executor.shutdown(wait=True)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        started = time.perf_counter()
        request = _request(scope)
        reply, served_by = await self._answer(request, receive)
        target = bytes(scope["raw_path"])
        if scope["query_string"]:
            target += b"?" + bytes(scope["query_string"])
        outcome = "abandoned by the client" if reply is None else str(reply.status)
        took = (time.perf_counter() - started) * 1000
        self._log(
            f"gateway: {request.method} {quote(target, _LOG_SAFE)} -> {outcome}"
            f" ({served_by}, {took:.0f} ms)"
        )
        if reply is not None:
            await _send(send, reply)

    async def _answer(self, request: Request, receive: Receive) -> tuple[Reply | None, str]:
        lookup = dict(request.headers)
        if _head_size(request) > MAX_HEAD:
            return _message(431, "Request Header Fields Too Large"), "header limit"
        if self._jwks is not None and request.method == "GET" and request.raw_path == JWKS_PATH:
            return Reply(200, [_JSON], json.dumps(self._jwks).encode()), "development JWKS"
        if self._cors is not None and is_preflight(request.method, lookup):
            refused = self._cors.refusal(lookup)  # API Gateway says nothing: the log does
            why = "CORS preflight" + (f" refused: {refused}" if refused else "")
            return Reply(PREFLIGHT_STATUS, self._cors.preflight(lookup), b""), why
        route = route_for(request.method, request.raw_path)
        if route is None:
            return self._with_cors(request, _message(404, "Not Found")), "no route"
        body = await self._body(request, receive)
        if not isinstance(body, bytes):
            return body, route.function
        reply = await self._call(route, replace(request, body=body))
        return self._with_cors(request, reply), route.function

    async def _body(self, request: Request, receive: Receive) -> bytes | Reply | None:
        """The whole body; a 408/413 reply; None when the client went away first."""
        declared = request.header("content-length")
        too_large = _message(413, "Request Entity Too Large", ("connection", "close"))
        if declared is not None and int(declared.split(",")[0]) > self._max_body:
            return too_large
        chunks: list[bytes] = []
        try:
            async with asyncio.timeout(self._body_timeout):
                while (message := await receive())["type"] != "http.disconnect":
                    chunks.append(message.get("body", b""))
                    if sum(map(len, chunks)) > self._max_body:
                        return too_large
                    if not message.get("more_body", False):
                        return b"".join(chunks)
        except TimeoutError:
            return _message(408, "Request Timeout", ("connection", "close"))
        return None

    async def _call(self, route: HttpRoute, request: Request) -> Reply:
        event = http_api_event(route, request)
        loop = asyncio.get_running_loop()
        invocation = loop.run_in_executor(self._executor, self._invoke, route.function, event)
        try:
            result = await asyncio.wait_for(invocation, self._integration_timeout)
            return reply_of(result)
        except TimeoutError:
            self._log(f"gateway: {route.function} gave no answer within the integration timeout")
            return _message(503, "Service Unavailable")
        except Exception as exc:  # a function that raised: API Gateway's own 500
            self._log(f"gateway: {route.function} failed: {type(exc).__name__}")
            return _message(500, "Internal Server Error")

    def _with_cors(self, request: Request, reply: Reply) -> Reply:
        if self._cors is None:
            return reply
        # API Gateway ignores the CORS headers a function returns and adds its own.
        kept = [(k, v) for k, v in reply.headers if not k.startswith("access-control-")]
        return replace(reply, headers=kept + self._cors.actual(request.header("origin")))


def _head_size(request: Request) -> int:
    """The request line and header bytes, as API Gateway counts them against MAX_HEAD."""
    line = len(request.method) + len(request.raw_path) + len(request.raw_query) + 12
    return line + sum(len(name) + len(value) + 4 for name, value in request.headers)


def _request(scope: Scope) -> Request:
    client = scope.get("client") or ("127.0.0.1", 0)
    return Request(
        method=scope["method"],
        raw_path=bytes(scope["raw_path"]).decode("latin-1"),
        raw_query=bytes(scope["query_string"]).decode("latin-1"),
        headers=[(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in scope["headers"]],
        body=b"",
        source_ip=str(client[0]),
        protocol=f"HTTP/{scope.get('http_version', '1.1')}",
    )


async def _send(send: Send, reply: Reply) -> None:
    headers = [*reply.headers, ("content-length", str(len(reply.body)))]
    await send(
        {
            "type": "http.response.start",
            "status": reply.status,
            "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers],
        }
    )
    await send({"type": "http.response.body", "body": reply.body})
