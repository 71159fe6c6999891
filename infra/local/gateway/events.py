"""HTTP in, API Gateway HTTP API (payload format 2.0) events out, and function results back.

As API Gateway builds them: header names lower-cased and repeated headers joined with
commas (``Cookie`` headers go to ``cookies`` instead), repeated query parameters joined
with commas in ``queryStringParameters``, path parameters decoded, a body that is not
UTF-8 sent base64 with ``isBase64Encoded``. A function's result is read as payload 2.0
results are: a dict with ``statusCode`` is the response; anything else is a JSON 200.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote

from infra.serverless.routes import HttpRoute

__all__ = ["Reply", "Request", "http_api_event", "reply_of"]

Headers = list[tuple[str, str]]
STAGE = "$default"
# The connection's own business (the gateway frames the response): never from a function.
_HOP_BY_HOP = frozenset({"content-length", "transfer-encoding", "connection", "keep-alive"})


@dataclass(frozen=True)
class Request:
    """One HTTP request as the gateway received it (the path still percent-encoded)."""

    method: str
    raw_path: str
    raw_query: str
    headers: Headers  # lower-case names, in the order sent, repeats kept
    body: bytes
    source_ip: str = "127.0.0.1"
    protocol: str = "HTTP/1.1"

    def header(self, name: str) -> str | None:
        """The value API Gateway would pass for ``name``: repeats joined with commas."""
        values = _values(self, name)
        return ",".join(values) if values else None


@dataclass(frozen=True)
class Reply:
    """A function's result as HTTP: status, headers (repeats allowed) and the body bytes."""

    status: int
    headers: Headers
    body: bytes


def http_api_event(route: HttpRoute, request: Request) -> dict[str, Any]:
    """The payload 2.0 event API Gateway sends ``route``'s function for ``request``."""
    headers = _joined([(k, v) for k, v in request.headers if k != "cookie"])
    now = time.time()
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route.key,
        "rawPath": request.raw_path,
        "rawQueryString": request.raw_query,
        "headers": headers,
        "requestContext": _context(route, request, headers, now),
        "isBase64Encoded": False,
    }
    cookies = [c.strip() for v in _values(request, "cookie") for c in v.split(";") if c.strip()]
    query = _joined(parse_qsl(request.raw_query, keep_blank_values=True))
    params = route.match(request.raw_path) or {}
    optional = {
        "cookies": cookies,
        "queryStringParameters": query,
        "pathParameters": {name: unquote(value) for name, value in params.items()},
    }
    event |= {name: value for name, value in optional.items() if value}
    if request.body:
        event["body"], event["isBase64Encoded"] = _body(request.body)
    return event


def _context(
    route: HttpRoute, request: Request, headers: dict[str, str], now: float
) -> dict[str, Any]:
    return {
        "accountId": "000000000000",
        "apiId": "local",
        "domainName": headers.get("host", "127.0.0.1"),
        "domainPrefix": "local",
        "http": {
            "method": request.method,
            "path": request.raw_path,
            "protocol": request.protocol,
            "sourceIp": request.source_ip,
            "userAgent": headers.get("user-agent", ""),
        },
        "requestId": str(uuid.uuid4()),
        "routeKey": route.key,
        "stage": STAGE,
        "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
        "timeEpoch": int(now * 1000),
    }


def reply_of(result: object) -> Reply:
    """What API Gateway sends back for a function's payload 2.0 ``result``."""
    if not isinstance(result, dict) or "statusCode" not in result:
        return Reply(200, [("content-type", "application/json")], json.dumps(result).encode())
    headers = [(str(k).lower(), str(v)) for k, v in (result.get("headers") or {}).items()]
    for name, values in (result.get("multiValueHeaders") or {}).items():
        headers += [(str(name).lower(), str(value)) for value in values]
    headers = [(name, value) for name, value in headers if name not in _HOP_BY_HOP]
    headers += [("set-cookie", str(cookie)) for cookie in result.get("cookies") or []]
    body = result.get("body") or ""
    raw = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode()
    return Reply(int(result["statusCode"]), headers, raw)


def _values(request: Request, name: str) -> list[str]:
    return [value for key, value in request.headers if key == name]


def _joined(pairs: list[tuple[str, str]]) -> dict[str, str]:
    grouped: dict[str, list[str]] = {}
    for name, value in pairs:
        grouped.setdefault(name, []).append(value)
    return {name: ",".join(values) for name, values in grouped.items()}


def _body(body: bytes) -> tuple[str, bool]:
    try:
        return body.decode("utf-8"), False
    except UnicodeDecodeError:
        return base64.b64encode(body).decode("ascii"), True
