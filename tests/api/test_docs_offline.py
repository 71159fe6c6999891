"""GET /docs works offline: Swagger UI's assets come from the docs function, same origin only."""

from __future__ import annotations

import base64
import hashlib
from html.parser import HTMLParser
from typing import Any

import pytest

from functions import docs, list_tasks
from shared.api.docs import ASSETS
from tests.support.client import Client
from tests.support.events import LambdaContext, http_api_event


class _References(HTMLParser):
    """Every URL an HTML page loads (src and href attributes), and its inline scripts."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls += [value for name, value in attrs if name in ("src", "href") and value]
        self._in_script = tag == "script" and not dict(attrs).get("src")

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.scripts.append(data)
            self._in_script = False


def _page(client: Client) -> tuple[_References, dict[str, str]]:
    reply = client(docs.handler, "GET", "/docs")
    assert reply.status == 200 and reply.headers["content-type"].startswith("text/html")
    found = _References()
    found.feed(reply.text)
    return found, reply.headers


def _fetch(path: str) -> tuple[int, dict[str, str], bytes]:
    """GET ``path`` from the docs function; the raw bytes, decoded as API Gateway would."""
    response: dict[str, Any] = docs.handler(http_api_event("GET", path), LambdaContext())
    body = response.get("body") or ""
    raw = base64.b64decode(body) if response.get("isBase64Encoded") else body.encode()
    headers = {name.lower(): value for name, value in response["headers"].items()}
    return int(response["statusCode"]), headers, raw


def test_the_page_loads_nothing_from_another_origin(client: Client) -> None:
    # GIVEN / WHEN the docs page is fetched
    found, _ = _page(client)
    # THEN every URL it loads is a same-origin path, the pinned assets among them
    assert found.urls, "the page loads no assets at all"
    assert all(url.startswith("/") and not url.startswith("//") for url in found.urls)
    assert {f"/docs/{name}" for name in ASSETS} <= set(found.urls)
    # AND its inline script names no other origin either
    assert found.scripts and not any("//" in script for script in found.scripts)


def test_the_page_forbids_scripts_and_connections_to_other_origins(client: Client) -> None:
    # GIVEN the docs page and its Content-Security-Policy
    found, headers = _page(client)
    policy = dict(
        directive.strip().split(" ", 1)
        for directive in headers["content-security-policy"].split(";")
    )
    # WHEN the policy's script and connect sources are read
    scripts = policy["script-src"].split()
    # THEN scripts come from this origin or are the page's own initialiser (by hash)
    hashes = {f"'sha256-{_sha256(script)}'" for script in found.scripts}
    assert set(scripts) == {"'self'", *hashes}
    assert policy["connect-src"] == "'self'" and policy["default-src"] == "'none'"


@pytest.mark.parametrize("name", list(ASSETS))
def test_each_asset_is_served_with_its_content_type(name: str) -> None:
    # GIVEN / WHEN an asset the page names is fetched through the docs handler
    status, headers, body = _fetch(f"/docs/{name}")
    # THEN it is the asset itself, typed for the browser and cacheable
    assert status == 200
    assert headers["content-type"] == ASSETS[name]
    assert "max-age" in headers["cache-control"]
    signature = {".js": b"/*! For license", ".css": b".swagger-ui", ".png": b"\x89PNG\r\n\x1a\n"}
    assert body.startswith(signature[name[name.rindex(".") :]]), body[:40]
    if name.endswith(".js"):
        assert b"SwaggerUIBundle" in body and len(body) > 1_000_000


@pytest.mark.parametrize("path", ["/docs/redoc.standalone.js", "/docs/..%2Fcore.py", "/docs/x"])
def test_anything_else_under_docs_is_a_json_404(path: str) -> None:
    # GIVEN / WHEN a file the page does not load is asked for
    status, headers, body = _fetch(path)
    # THEN it is not served
    assert (status, headers["content-type"]) == (404, "application/json")
    assert b"ROUTE_NOT_FOUND" in body


def test_task_functions_do_not_serve_the_docs_assets(client: Client) -> None:
    # GIVEN a task function
    # WHEN Swagger UI's script is asked of it
    reply = client(list_tasks.handler, "GET", "/docs/swagger-ui-bundle.js")
    # THEN only the docs function serves it
    assert reply.status == 404


def _sha256(text: str) -> str:
    return base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()
