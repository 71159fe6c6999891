"""A frontend's page for the browser tests: a todo client as a Next.js app would write it.

Its list function is docs/api.md's own ``fetchAllTasks`` (taken from docs/api.md at run time,
so the documented loop is the one a browser runs); the others call ``fetch`` with the
bearer token and JSON, which makes every request a CORS preflight's case.
"""

from __future__ import annotations

import re

from infra import ROOT

__all__ = ["api_doc_fetch_all", "frontend_page"]

API_DOC = ROOT / "docs" / "api.md"

_CLIENT = """
window.todo = (api, userId, token) => {
  const headers = { Authorization: `Bearer ${token}`, "Content-Type": "application/json" };
  const tasks = new URL(`/api/${encodeURIComponent(userId)}/tasks`, api);
  async function send(method, url, body) {
    const res = await fetch(url, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null };
  }
  return {
    create: (title) => send("POST", tasks, { title }),
    get: (id) => send("GET", `${tasks}/${id}`),
    toggle: (id) => send("PATCH", `${tasks}/${id}/complete`, {}),
    remove: (id) => send("DELETE", `${tasks}/${id}`),
    list: () => fetchAllTasks(api, userId, token),
    firstPage: async () => {
      const res = await fetch(tasks, { headers });
      return { link: res.headers.get("Link"), total: res.headers.get("X-Total-Count") };
    },
  };
};
"""


def api_doc_fetch_all() -> str:
    """docs/api.md's JavaScript ``fetchAllTasks``, as written there."""
    blocks = re.findall(r"```js\n(.*?)```", API_DOC.read_text(encoding="utf-8"), re.DOTALL)
    found = [block for block in blocks if "async function fetchAllTasks" in block]
    assert found, "docs/api.md no longer shows fetchAllTasks"
    return str(found[0])


def frontend_page() -> str:
    """The page's HTML: docs/api.md's loop and a small client on ``window.todo``."""
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>todo frontend</title>"
        f"<script>{api_doc_fetch_all()}\n{_CLIENT}</script></head>"
        "<body><h1>todo</h1></body></html>"
    )
