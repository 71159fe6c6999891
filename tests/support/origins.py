"""Web origins for the browser tests: an HTTP proxy that serves a page at any origin.

The browser (tests/support/browser.py) sends every request for a host other than
127.0.0.1 here, so ``http://localhost:3000/`` is served by this proxy with nothing
listening on port 3000. Pages are registered per origin; anything else (any other
host, HTTPS tunnels) is refused with 502 and recorded: the browser has no network.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar
from urllib.parse import urlsplit

__all__ = ["Origins"]


class _Handler(BaseHTTPRequestHandler):
    pages: ClassVar[dict[str, bytes]] = {}
    refused: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        url = urlsplit(self.path)  # a proxy gets absolute URLs: http://localhost:3000/
        page = self.pages.get(f"{url.scheme}://{url.netloc}") if url.path == "/" else None
        if page is None:
            self.refused.append(self.path)
            return self._send(502, b"no network in the browser tests", "text/plain")
        return self._send(200, page, "text/html; charset=utf-8")

    def do_CONNECT(self) -> None:
        self.refused.append(f"CONNECT {self.path}")
        self._send(502, b"no network in the browser tests", "text/plain")

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(body)))
        self.send_header("cache-control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the tests read ``refused`` instead."""


class Origins:
    """The proxy on a free loopback port; ``serve(origin, html)`` puts a page at an origin."""

    def __init__(self) -> None:
        handler = type("OriginsHandler", (_Handler,), {"pages": {}, "refused": []})
        self._handler: type[_Handler] = handler
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.port: int = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def serve(self, origin: str, html: str) -> str:
        """Serve ``html`` at ``origin``/ and return that URL."""
        self._handler.pages[origin] = html.encode()
        return f"{origin}/"

    @property
    def refused(self) -> list[str]:
        """Every request that was not for a registered page, in order."""
        return list(self._handler.refused)

    def stop(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()
