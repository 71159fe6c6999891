"""A loopback stand-in for Better Auth's JWKS endpoint, which tests can change and count."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from shared.api import auth
from tests.support.tokens import SigningKey, new_key


class JwksServer:
    """A Better Auth stand-in serving ``/api/auth/jwks`` on 127.0.0.1; tests mutate it."""

    def __init__(self) -> None:
        self.keys: list[SigningKey] = []
        self.status = 200
        self.body: bytes | None = None
        self.delay = 0.0
        self._hits = 0
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._httpd.daemon_threads = True
        self.origin = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self.url = f"{self.origin}{auth.JWKS_PATH}"

    @property
    def hits(self) -> int:
        """How many times the key set was requested."""
        with self._lock:
            return self._hits

    def publish(self, *keys: SigningKey) -> None:
        """Replace the published key set, as Better Auth does when it rotates keys."""
        self.keys = list(keys)

    def respond(self) -> tuple[int, bytes]:
        """Count a request and return the configured status and body."""
        with self._lock:
            self._hits += 1
        time.sleep(self.delay)
        if self.body is not None:
            return self.status, self.body
        document = {"keys": [key.public_jwk() for key in self.keys]}
        return self.status, json.dumps(document).encode()

    def start(self) -> None:
        """Serve in a daemon thread."""
        # A short poll keeps shutdown() (one per test) from costing 0.5 s.
        poll = {"poll_interval": 0.01}
        threading.Thread(target=self._httpd.serve_forever, kwargs=poll, daemon=True).start()

    def stop(self) -> None:
        """Stop serving and release the port."""
        self._httpd.shutdown()
        self._httpd.server_close()


class KeyServer(JwksServer):
    """Better Auth's /api/auth/jwks on 127.0.0.1, serving one fresh Ed25519 key."""

    def __init__(self) -> None:
        super().__init__()
        self.key = new_key()
        self.publish(self.key)
        self.start()


def _handler_for(server: JwksServer) -> type[BaseHTTPRequestHandler]:
    """Build a request handler bound to one JwksServer."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path != auth.JWKS_PATH:
                self.send_error(404)
                return
            status, body = server.respond()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            """Keep test output quiet."""

    return Handler
