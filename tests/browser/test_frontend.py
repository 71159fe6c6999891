"""A frontend on another origin uses the local API from a real browser, as it would deployed.

The page is served at http://localhost:3000 (the Next.js dev server's origin and
FRONTEND_ORIGIN's default); the API is the local gateway on 127.0.0.1. Every call sends
a bearer token, so Chromium preflights it and enforces the answer's CORS headers.
"""

from __future__ import annotations

import json

from shared.core.errors import NotFound
from tests.support.browser import Page
from tests.support.frontend import frontend_page
from tests.support.gateway import RunningGateway, call
from tests.support.origins import Origins

FRONTEND = "http://localhost:3000"
ELSEWHERE = "http://localhost:3001"  # the same machine, a port not configured


def _open_frontend(page: Page, origins: Origins, origin: str, gateway: RunningGateway) -> None:
    page.goto(origins.serve(origin, frontend_page()))
    client = json.dumps([gateway.base, gateway.user, gateway.token])[1:-1]
    page.evaluate(f"window.client = todo({client}); true")


def test_a_frontend_creates_lists_toggles_and_deletes_through_cors(
    page: Page, origins: Origins, gateway: RunningGateway
) -> None:
    # GIVEN the frontend's page on http://localhost:3000 and the API on another origin
    _open_frontend(page, origins, FRONTEND, gateway)
    # WHEN it creates 101 tasks
    created = page.evaluate(
        "Promise.all(Array.from({length: 101}, (_, i) => client.create(`task ${i}`)))"
    )
    # THEN all are created, the first page says there is a next one, and docs/api.md's loop
    # follows Link to page 2 and returns every task
    assert {reply["status"] for reply in created} == {201}
    first = page.evaluate("client.firstPage()")
    assert first["total"] == "101" and 'rel="next"' in first["link"]
    listed = page.evaluate("client.list()")
    assert sorted(t["id"] for t in listed) == sorted(r["body"]["id"] for r in created)
    # WHEN it toggles one with {} and deletes another
    toggled_id, deleted_id = created[0]["body"]["id"], created[1]["body"]["id"]
    toggled = page.evaluate(f"client.toggle({toggled_id})")
    deleted = page.evaluate(f"client.remove({deleted_id})")
    # THEN the toggle completed it, and the deleted one is gone
    assert (toggled["status"], toggled["body"]["completed"]) == (200, True)
    gone = page.evaluate(f"client.get({deleted_id})")
    assert deleted["status"] == 204
    assert (gone["status"], gone["body"]["code"]) == (404, NotFound.code)
    # AND the browser asked first: the preflights were answered by the gateway itself
    assert any(f"OPTIONS /api/{gateway.user}/tasks -> 204" in line for line in gateway.log)


def test_a_page_on_an_origin_not_configured_is_refused_by_the_browser(
    page: Page, origins: Origins, gateway: RunningGateway
) -> None:
    # GIVEN the same page served from an origin the API's CORS configuration does not name
    _open_frontend(page, origins, ELSEWHERE, gateway)
    # WHEN it tries to create a task, and to read /health with a simple (unpreflighted) GET
    outcome = "r => 'answered ' + r.status, e => e.name + ': ' + e.message"
    created = page.evaluate(f"client.create('not allowed').then({outcome})")
    health = page.evaluate(f"fetch({json.dumps(gateway.base + '/health')}).then({outcome})")
    # THEN the browser rejects both fetches: the script sees no answer at all
    assert created == health == "TypeError: Failed to fetch"
    # AND the create never reached a function: the preflight got no CORS grant
    assert "createTask" not in gateway.invocations.calls
    listed = call(gateway.tasks, headers=gateway.auth())
    assert (listed.status, listed.body) == (200, [])


# Chromium's own services (accounts, optimization hints), not the page's traffic.
_BROWSER_OWN = ("CONNECT accounts.google.com:", "CONNECT optimizationguide-pa.googleapis.com:")


def test_docs_render_every_operation_with_no_network(
    page: Page, origins: Origins, gateway: RunningGateway
) -> None:
    # GIVEN the API's OpenAPI document, and a browser that reaches nothing but the gateway
    document = call(f"{gateway.base}/openapi.json").body
    expected = sorted(
        [method.upper(), path] for path, item in document["paths"].items() for method in item
    )
    refused_before = len(origins.refused)
    # WHEN /docs is opened and Swagger UI has rendered
    page.goto(f"{gateway.base}/docs")
    rendered = page.wait_for(
        f"""(() => {{
          const ops = [...document.querySelectorAll('.opblock')].map(op => [
            op.querySelector('.opblock-summary-method').textContent,
            op.querySelector('.opblock-summary-path').dataset.path]);
          return ops.length >= {len(expected)} && ops;
        }})()"""
    )
    # THEN every operation of the document is on the page
    assert sorted(rendered) == expected
    # AND everything the page loaded came from the gateway; nothing was tried elsewhere
    loaded = page.requested()
    assert loaded and all(url.startswith(f"{gateway.base}/") for url in loaded), loaded
    # (Chromium itself may try Google's account service at any moment; that is the
    # browser's traffic, not the page's, which page.requested() above already covers)
    tried = [t for t in origins.refused[refused_before:] if not t.startswith(_BROWSER_OWN)]
    assert tried == []
