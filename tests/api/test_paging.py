"""A list is followed page by page: RFC 8288 Link (rel next / prev) besides X-Total-Count."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlsplit

import pytest

from functions import list_tasks
from shared.api.paging import link_header
from tests.support.client import Client, User
from tests.support.events import Reply

_LINK = re.compile(r'<([^>]*)>; rel="(\w+)"')


def _links(reply: Reply) -> dict[str, str]:
    """rel → target of the reply's Link header (none: empty)."""
    return {rel: target for target, rel in _LINK.findall(reply.headers.get("link", ""))}


def _get(client: Client, user: User, target: str) -> Reply:
    """Follow a Link target the way a browser resolves it: path and query as given."""
    parts = urlsplit(target)
    reply = client(list_tasks.handler, "GET", parts.path, token=user.token, raw_query=parts.query)
    assert reply.status == 200, reply.text
    return reply


def test_following_next_fetches_every_task_once(client: Client, alice: User) -> None:
    # GIVEN 101 tasks, one more than the largest page
    created = {client.create(alice, f"task {n}")["id"] for n in range(101)}
    # WHEN a client fetches the list and follows rel="next" until there is none
    pages = [_get(client, alice, alice.tasks)]
    while "next" in _links(pages[-1]):
        pages.append(_get(client, alice, _links(pages[-1])["next"]))
    # THEN it got two pages, 100 and 1 tasks, every task exactly once, the total on each
    fetched = [task["id"] for page in pages for task in page.json()]
    assert [len(page.json()) for page in pages] == [100, 1]
    assert sorted(fetched) == sorted(created)
    assert {page.headers["x-total-count"] for page in pages} == {"101"}
    # AND the last page points back at the first
    assert _links(pages[1]) == {"prev": f"{alice.tasks}?limit=100&offset=0"}


def test_links_keep_the_filters_and_order_of_the_request(client: Client, alice: User) -> None:
    # GIVEN five pending tasks
    for n in range(5):
        client.create(alice, f"todo {n}")
    # WHEN the middle page of two is asked for, filtered and sorted
    query = "status=pending&sort=title&order=asc&limit=2&offset=2"
    reply = _get(client, alice, f"{alice.tasks}?{query}")
    # THEN both links carry the same filters, with limit and offset set for their page
    links = {rel: dict(parse_qsl(urlsplit(t).query)) for rel, t in _links(reply).items()}
    same = {"status": "pending", "sort": "title", "order": "asc", "limit": "2"}
    assert links == {"next": same | {"offset": "4"}, "prev": same | {"offset": "0"}}
    assert [task["title"] for task in reply.json()] == ["todo 2", "todo 3"]


def test_a_list_that_fits_one_page_has_no_link(client: Client, alice: User) -> None:
    # GIVEN two tasks
    client.create(alice, "one")
    client.create(alice, "two")
    # WHEN the list is fetched
    reply = _get(client, alice, alice.tasks)
    # THEN there is nowhere else to go
    assert "link" not in reply.headers
    assert reply.headers["x-total-count"] == "2"


@pytest.mark.parametrize(
    ("limit", "offset", "total", "rels"),
    [
        (10, 0, 25, {"next": 10}),
        (10, 10, 25, {"next": 20, "prev": 0}),
        (10, 20, 25, {"prev": 10}),
        (10, 5, 25, {"next": 15, "prev": 0}),
        (10, 90, 25, {"prev": 15}),
        (10, 0, 10, {}),
        (10, 30, 0, {}),
    ],
    ids=["first", "middle", "last", "unaligned", "past the end", "exactly one page", "empty"],
)
def test_link_offsets_at_the_edges(
    limit: int, offset: int, total: int, rels: dict[str, int]
) -> None:
    # GIVEN a page of a list of some total size
    # WHEN its Link header is built
    value = link_header("/l", [("offset", "x")], limit=limit, offset=offset, total=total)
    # THEN it names the pages a client can go to, and no other
    found = {rel: dict(parse_qsl(urlsplit(t).query)) for t, rel in _LINK.findall(value or "")}
    assert found == {rel: {"limit": str(limit), "offset": str(at)} for rel, at in rels.items()}
