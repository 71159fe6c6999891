"""RFC 8288 ``Link`` header for a page of a list: where the next and previous pages are.

Targets are path-absolute references, like ``Location``: the path of the list and the
request's own query parameters with ``limit`` and ``offset`` set for that page, so a
client resolves them against the API's base URL and follows ``rel="next"`` until none.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlencode

__all__ = ["LINK", "PAGE_HEADERS", "TOTAL_COUNT", "link_header"]

LIMIT, OFFSET = "limit", "offset"
TOTAL_COUNT, LINK = "X-Total-Count", "Link"
# The list's 200 response headers, for the OpenAPI document; a browser on another origin
# reads them only when CORS exposes them (serverless.yml's exposedResponseHeaders).
PAGE_HEADERS = {
    TOTAL_COUNT: {
        "description": "How many tasks match, on every page",
        "schema": {"type": "integer"},
    },
    LINK: {
        "description": 'RFC 8288 links to the rel="next" and rel="prev" pages, when there are any',
        "schema": {"type": "string"},
    },
}


def link_header(
    path: str, query: Iterable[tuple[str, str]], *, limit: int, offset: int, total: int
) -> str | None:
    """The Link value for the page at ``offset`` of ``total`` items, or None for a lone page."""
    kept = [(name, value) for name, value in query if name not in (LIMIT, OFFSET)]
    links = []
    if offset + limit < total:
        links.append(_link(path, kept, limit, offset + limit, "next"))
    if offset > 0 and total > 0:
        # A page past the end goes back to the last full page, not to another empty one.
        links.append(_link(path, kept, limit, max(0, min(offset - limit, total - limit)), "prev"))
    return ", ".join(links) or None


def _link(path: str, kept: list[tuple[str, str]], limit: int, offset: int, rel: str) -> str:
    query = urlencode([*kept, (LIMIT, str(limit)), (OFFSET, str(offset))])
    return f'<{path}?{query}>; rel="{rel}"'
