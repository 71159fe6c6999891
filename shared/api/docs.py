"""GET /docs and its assets: Swagger UI served by the docs function itself, no CDN.

The assets come from the pinned ``fastapi-offline`` package (MIT; it bundles swagger-ui
5.x: ``swagger-ui-bundle.js``, ``swagger-ui.css`` and a favicon), which only the docs
function's package installs. This module is the one place that knows that package's
layout. The page names same-origin URLs only, and its Content-Security-Policy lets the
browser run no script but those assets and the page's own initialiser, and connect
nowhere but this origin: a token pasted into "Authorize" meets no third-party code.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import re
from functools import cache
from pathlib import Path
from typing import Any

from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, Response

from shared.api.route import route
from shared.core.errors import RouteNotFound

__all__ = ["ASSETS", "DOCS", "OPENAPI", "ROUTES"]

DOCS, OPENAPI = "/docs", "/openapi.json"
BUNDLE = "fastapi_offline"  # the distribution fastapi-offline's import name
# What the page loads, by file name in the bundle's static folder, and its content type.
ASSETS = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "favicon.png": "image/png",
}
# The assets change only with the pinned package: browsers may keep them for a day.
_CACHE_CONTROL = "public, max-age=86400"
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)
# No badge from the public validator service: nothing leaves this origin.
_PARAMETERS: dict[str, Any] = {"validatorUrl": None}


@route("GET", DOCS, include_in_schema=False, response_class=HTMLResponse)
async def docs_page() -> HTMLResponse:
    """The Swagger UI page for /openapi.json, every URL in it same-origin."""
    html, policy = _page()
    return HTMLResponse(html, headers={"Content-Security-Policy": policy})


@route("GET", DOCS + "/{asset}", include_in_schema=False, response_class=Response)
async def docs_asset(asset: str) -> Response:
    """One of the page's assets, with its content type; anything else is a 404."""
    media_type = ASSETS.get(asset)
    if media_type is None:
        raise RouteNotFound
    body = _read(asset)
    return Response(body, media_type=media_type, headers={"Cache-Control": _CACHE_CONTROL})


# The docs page and its assets, for ``create_app(docs=True)``.
ROUTES = (docs_page, docs_asset)


@cache
def _page() -> tuple[str, str]:
    """The page's HTML, and a policy allowing exactly its inline script (by hash)."""
    html = _html()
    digests = [_sha256(script) for script in _INLINE_SCRIPT.findall(html)]
    scripts = " ".join(f"'sha256-{digest}'" for digest in digests)
    policy = (
        f"default-src 'none'; script-src 'self' {scripts}; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; "
        "frame-ancestors 'none'"
    )
    return html, policy


def _html() -> str:
    page = get_swagger_ui_html(
        openapi_url=OPENAPI,
        title="Todo tasks API - Swagger UI",
        swagger_js_url=f"{DOCS}/swagger-ui-bundle.js",
        swagger_css_url=f"{DOCS}/swagger-ui.css",
        swagger_favicon_url=f"{DOCS}/favicon.png",
        swagger_ui_parameters=_PARAMETERS,
    )
    return bytes(page.body).decode()


def _sha256(text: str) -> str:
    return base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


@cache
def _read(asset: str) -> bytes:
    return (_static() / asset).read_bytes()


@cache
def _static() -> Path:
    """The bundle's static folder, found without importing the package (it builds apps)."""
    spec = importlib.util.find_spec(BUNDLE)
    if spec is None or spec.origin is None:
        raise RuntimeError(f"the docs assets need the {BUNDLE!r} package (requirements.txt)")
    return Path(spec.origin).parent / "static"
