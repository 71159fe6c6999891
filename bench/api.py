"""What a bench "container" needs to call the handlers: tokens, events and the operations.

Auth runs as deployed: EdDSA tokens shaped like Better Auth's, verified through a JWKS
served on loopback (BETTER_AUTH_URL), fetched once per container and then cached.
Events are API Gateway HTTP API (payload 2.0) events, built the way API Gateway sends them.
"""

from __future__ import annotations

import base64
import importlib
import json
import secrets
import string
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

JWKS_PATH = "/api/auth/jwks"
Handler = Callable[[dict[str, Any], Any], dict[str, Any]]

# The contract's routes: operation name -> (function module, method, path template).
ROUTES: dict[str, tuple[str, str, str]] = {
    "list": ("functions.list_tasks", "GET", "/api/{user_id}/tasks"),
    "create": ("functions.create_task", "POST", "/api/{user_id}/tasks"),
    "get": ("functions.get_task", "GET", "/api/{user_id}/tasks/{task_id}"),
    "put": ("functions.replace_task", "PUT", "/api/{user_id}/tasks/{task_id}"),
    "patch": ("functions.update_task", "PATCH", "/api/{user_id}/tasks/{task_id}"),
    "complete": ("functions.complete_task", "PATCH", "/api/{user_id}/tasks/{task_id}/complete"),
    "delete": ("functions.delete_task", "DELETE", "/api/{user_id}/tasks/{task_id}"),
    "health": ("functions.health", "GET", "/health"),
}
OPERATIONS = tuple(ROUTES)
# One cycle of a user's session: every route once, leaving no rows behind.
CYCLE = ("create", "get", "put", "patch", "complete", "list", "delete", "health")
_EXPECTED = {"create": 201, "delete": 204}


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def new_user_id() -> str:
    """A 32-character alphanumeric id, like Better Auth's generateId()."""
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(32))


class AuthServer:
    """Better Auth's JWKS endpoint on 127.0.0.1 with one Ed25519 key; mints its tokens."""

    def __init__(self) -> None:
        self._key = Ed25519PrivateKey.generate()
        self._kid = new_user_id()
        public = self._key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        jwk = {"alg": "EdDSA", "crv": "Ed25519", "x": _b64url(public), "kty": "OKP"}
        document = json.dumps({"keys": [jwk | {"kid": self._kid}]}).encode()

        class Serve(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                found = self.path == JWKS_PATH
                self.send_response(200 if found else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(document) if found else 0))
                self.end_headers()
                if found:
                    self.wfile.write(document)

            def log_message(self, format: str, *args: object) -> None:
                """Quiet."""

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Serve)
        self._httpd.daemon_threads = True
        self.origin = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        poll = {"poll_interval": 0.05}
        threading.Thread(target=self._httpd.serve_forever, kwargs=poll, daemon=True).start()

    def token(self, user_id: str, lifetime: int = 3600) -> str:
        """A Better Auth-shaped EdDSA token for ``user_id``."""
        now = int(time.time())
        claims = {
            "iat": now,
            "id": user_id,
            "name": "Bench User",
            "email": "bench@example.com",
            "emailVerified": True,
            "sub": user_id,
            "exp": now + lifetime,
            "iss": self.origin,
            "aud": self.origin,
        }
        headers = {"kid": self._kid, "typ": None}
        return jwt.encode(claims, self._key, algorithm="EdDSA", headers=headers)

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


@dataclass
class LambdaContext:
    """The attributes of Lambda's context object that Powertools and Mangum read."""

    function_name: str = "todo-api-bench"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 1024
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = "/aws/lambda/todo-api-bench"
    log_stream_name: str = "2026/01/01/[$LATEST]bench"
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:todo-api-bench"

    def get_remaining_time_in_millis(self) -> int:
        return 25_000


def http_api_event(
    method: str,
    template: str,
    params: dict[str, str],
    *,
    token: str | None,
    body: Any = None,
) -> dict[str, Any]:
    """An HTTP API (payload format 2.0) event as API Gateway sends it to the function."""
    path = template.format(**params)
    text = None if body is None else json.dumps(body)
    headers = {
        "accept": "application/json",
        "content-length": str(len(text.encode()) if text else 0),
        "host": "abcdef1234.execute-api.us-east-1.amazonaws.com",
        "user-agent": "bench/1",
        "x-amzn-trace-id": "Root=1-00000000-000000000000000000000000",
        "x-forwarded-for": "203.0.113.7",
        "x-forwarded-port": "443",
        "x-forwarded-proto": "https",
    }
    if token is not None:
        headers["authorization"] = f"Bearer {token}"
    if text is not None:
        headers["content-type"] = "application/json"
    route_key = f"{method} {template}"
    now = time.time()
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abcdef1234",
            "domainName": headers["host"],
            "domainPrefix": "abcdef1234",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.7",
                "userAgent": "bench/1",
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": route_key,
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": False,
    }
    if params:
        event["pathParameters"] = params
    if text is not None:
        event["body"] = text
    return event


def load_handlers() -> dict[str, Handler]:
    """Each route's Lambda handler, imported the way the runtime imports it."""
    handlers: dict[str, Handler] = {}
    for name, (module, _, _) in ROUTES.items():
        handlers[name] = getattr(importlib.import_module(module), "handler")  # noqa: B009
    return handlers


class Session:
    """One user calling the routes through their handlers, as API Gateway would."""

    def __init__(self, handlers: dict[str, Handler], user_id: str, token: str) -> None:
        self.handlers = handlers
        self.user_id = user_id
        self.token = token
        self.task_id: int | None = None
        self.toggle = 0

    def event(self, operation: str) -> dict[str, Any]:
        _, method, template = ROUTES[operation]
        if operation == "health":
            return http_api_event(method, template, {}, token=None)
        params = {"user_id": self.user_id}
        if "{task_id}" in template:
            params["task_id"] = str(self.task_id)
        self.toggle += 1
        body: Any = {
            "create": {"title": "Buy milk", "description": "2 litres, semi-skimmed"},
            "put": {"title": f"Buy oat milk {self.toggle}", "description": "1 litre"},
            "patch": {"description": f"revision {self.toggle}"},
        }.get(operation)
        return http_api_event(method, template, params, token=self.token, body=body)

    def prepare(self, operation: str) -> None:
        """Make sure ``operation`` has a task of the user's to act on."""
        if "{task_id}" in ROUTES[operation][2] and self.task_id is None:
            self.call("create")

    def call(self, operation: str) -> int:
        """Invoke one route's handler; returns the status (raises on an unexpected one)."""
        response = self.handlers[operation](self.event(operation), LambdaContext())
        status = int(response["statusCode"])
        if status != _EXPECTED.get(operation, 200):
            raise UnexpectedStatus(operation, status, str(response.get("body", ""))[:200])
        if operation == "create":
            self.task_id = int(json.loads(response["body"])["id"])
        elif operation == "delete":
            self.task_id = None
        return status


class UnexpectedStatus(RuntimeError):
    """A route answered with a status the bench did not expect."""

    def __init__(self, operation: str, status: int, body: str) -> None:
        super().__init__(f"{operation}: HTTP {status}: {body}")
        self.operation = operation
        self.status = status
