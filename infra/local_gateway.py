"""A local stand-in for API Gateway (HTTP API): the real handlers, real events.

Reads the routes from serverless.yml, turns each HTTP request into an API Gateway
payload 2.0 event, invokes the function's handler in this process (each function's
module is imported once, like a warm container) and turns its result back into HTTP.

When no auth is configured it plays Better Auth too: it serves a JWKS at
/api/auth/jwks and prints a development token for a sample user.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import importlib
import json
import os
import sys
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlsplit

from infra.routes import Route, routes

DEV_USER = "demo-user"
JWKS_PATH = "/api/auth/jwks"
_AUTH_ENV = ("BETTER_AUTH_URL", "AUTH_JWKS_URL", "BETTER_AUTH_SECRET")


def load_routes() -> list[Route]:
    """Every httpApi route declared in serverless.yml."""
    return list(routes())


def invoke(handler_path: str, event: dict[str, Any]) -> dict[str, Any]:
    """Call ``functions/x.handler`` (serverless.yml's notation) with an event."""
    module_path, name = handler_path.rsplit(".", 1)
    module = importlib.import_module(module_path.replace("/", "."))
    # Mangum runs the app on the thread's event loop, which only the main thread has.
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        result: dict[str, Any] = getattr(module, name)(event, _Context(module_path))
    finally:
        asyncio.set_event_loop(None)
        loop.close()
    return result


class _Context:
    """The Lambda context attributes Powertools reads."""

    def __init__(self, function: str) -> None:
        self.function_name = function.rsplit("/", 1)[-1]
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = 512
        self.invoked_function_arn = (
            f"arn:aws:lambda:local:000000000000:function:{self.function_name}"
        )
        self.aws_request_id = str(uuid.uuid4())

    def get_remaining_time_in_millis(self) -> int:
        return 29_000


def build_event(
    route: Route, method: str, target: str, headers: dict[str, str], body: bytes
) -> dict[str, Any]:
    """An API Gateway HTTP API (payload 2.0) event, as AWS sends it."""
    url = urlsplit(target)
    text = _as_text(body)
    now = time.time()
    return {
        "version": "2.0",
        "routeKey": f"{method} {route.template}",
        "rawPath": url.path,
        "rawQueryString": url.query,
        "headers": headers,
        "queryStringParameters": dict(parse_qsl(url.query)) or None,
        "pathParameters": route.match(url.path) or None,
        "requestContext": {
            "accountId": "000000000000",
            "apiId": "local",
            "domainName": headers.get("host", "127.0.0.1"),
            "http": {
                "method": method,
                "path": url.path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": headers.get("user-agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": f"{method} {route.template}",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "body": (text if text is not None else base64.b64encode(body).decode()) if body else None,
        "isBase64Encoded": bool(body) and text is None,
    }


def _as_text(body: bytes) -> str | None:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return None


class Gateway(BaseHTTPRequestHandler):
    """Routes requests to handlers; serves the development JWKS when it issues tokens."""

    routes: ClassVar[list[Route]] = []
    jwks: dict[str, Any] | None = None
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        if self.jwks is not None and urlsplit(self.path).path == JWKS_PATH:
            body = json.dumps(self.jwks).encode()
            return self._send(200, {"content-type": "application/json"}, body)
        return self._forward()

    def do_POST(self) -> None:
        self._forward()

    def do_PUT(self) -> None:
        self._forward()

    def do_PATCH(self) -> None:
        self._forward()

    def do_DELETE(self) -> None:
        self._forward()

    def _forward(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        path = urlsplit(self.path).path
        found = (r for r in self.routes if r.method == self.command and r.match(path) is not None)
        route = next(found, None)
        if route is None:
            return self._send(404, {"content-type": "application/json"}, b'{"message":"Not Found"}')
        headers = {k.lower(): v for k, v in self.headers.items()}
        result = invoke(route.handler, build_event(route, self.command, self.path, headers, body))
        payload = result.get("body") or ""
        raw = base64.b64decode(payload) if result.get("isBase64Encoded") else payload.encode()
        return self._send(int(result["statusCode"]), result.get("headers") or {}, raw)

    def _send(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.send_response(status)
        for key, value in headers.items():
            if key.lower() not in ("content-length", "connection"):
                self.send_header(key, value)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        print(
            f"gateway: {self.command} {self.path} -> {args[1] if len(args) > 1 else ''}",
            file=sys.stderr,
        )


def development_auth(base_url: str) -> tuple[dict[str, Any], str]:
    """A JWKS and a token for DEV_USER, shaped as Better Auth's JWT plugin issues them."""
    import jwt
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    jwk = json.loads(jwt.algorithms.OKPAlgorithm.to_jwk(key.public_key()))
    jwk |= {"kid": "local-dev", "alg": "EdDSA"}
    now = int(time.time())
    claims = {
        "sub": DEV_USER,
        "id": DEV_USER,
        "name": "Demo User",
        "iat": now,
        "exp": now + 12 * 3600,
        "iss": base_url,
        "aud": base_url,
    }
    token = jwt.encode(claims, key, algorithm="EdDSA", headers={"kid": "local-dev"})
    return {"keys": [jwk]}, token


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Serve the Lambda handlers on localhost.")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "3000")))
    args = parser.parse_args(argv)
    base_url = f"http://127.0.0.1:{args.port}"
    Gateway.routes = load_routes()
    token = None
    if not any(os.environ.get(name) for name in _AUTH_ENV):
        Gateway.jwks, token = development_auth(base_url)
        os.environ["BETTER_AUTH_URL"] = base_url
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Gateway)
    _announce(base_url, token)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0


def _announce(base_url: str, token: str | None) -> None:
    print(f"\nTodo API on {base_url}  (docs: {base_url}/docs, health: {base_url}/health)")
    if token is None:
        print("Auth: using the configured BETTER_AUTH_URL / AUTH_JWKS_URL / BETTER_AUTH_SECRET")
        return
    print(f"Development token for user '{DEV_USER}' (valid 12 h):\n  export TOKEN={token}")
    print("Try:")
    print(
        f'  curl -s -X POST {base_url}/api/{DEV_USER}/tasks -H "Authorization: Bearer $TOKEN" '
        "-H 'content-type: application/json' -d '{\"title\": \"Buy milk\"}'"
    )
    print(
        f'  curl -s {base_url}/api/{DEV_USER}/tasks -H "Authorization: Bearer $TOKEN"\n', flush=True
    )


if __name__ == "__main__":
    sys.exit(main())
