"""The project's own modules import one another one way: no circles."""

from __future__ import annotations

from tests.support.source import circles, import_graph


def test_no_modules_of_shared_import_each_other_in_a_circle() -> None:
    # GIVEN every import between modules of shared/, at module level or in a function
    graph = import_graph("shared")
    # WHEN the graph is searched for circles
    found = circles(graph)
    # THEN there are none (the app factory and the docs routes once made one)
    assert graph["shared.api.app"]
    assert not found, found
