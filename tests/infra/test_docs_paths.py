"""The README and the readers' documents point at what exists, and the README stays short."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from infra import ROOT

DOCS = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md")])
# A repository path as the documents write them: a top-level folder, then a path.
_PATH = re.compile(r"(?<![\w./-])((?:shared|infra|functions|tests|bench|specs|docs)/[\w./-]*\w)")
_LINK = re.compile(r"\]\(([^)#:]+)(?:#[^)]*)?\)")
README_LINES = 250  # the front page: the two commands, a picture, the layout, links


def _named_paths(text: str) -> set[str]:
    """Repository paths a document names; templates (``<route>``, ``{api,docs}``) skipped."""
    found = set(_PATH.findall(text))
    return {path for path in found if not re.search(r"[<>{}*]", path)}


def _exists(path: str) -> bool:
    # `shared/db/url` or `shared.db.url`'s file, a folder, or a file named without `.py`
    return any((ROOT / candidate).exists() for candidate in (path, f"{path}.py"))


@pytest.mark.parametrize("doc", DOCS, ids=lambda doc: doc.name)
def test_every_path_a_document_names_exists(doc: Path) -> None:
    # GIVEN a document and the repository paths it names
    text = doc.read_text(encoding="utf-8")
    # WHEN each is looked up in the repository
    missing = sorted(path for path in _named_paths(text) if not _exists(path))
    # THEN none is stale
    assert missing == [], f"{doc.name} names paths that do not exist: {missing}"


@pytest.mark.parametrize("doc", DOCS, ids=lambda doc: doc.name)
def test_every_relative_link_resolves(doc: Path) -> None:
    # GIVEN a document's relative links
    links = _LINK.findall(doc.read_text(encoding="utf-8"))
    # WHEN each is resolved from the document's folder
    broken = sorted(link for link in links if not (doc.parent / link).exists())
    # THEN each names a file or folder that exists
    assert broken == []


def test_the_readme_is_a_front_page() -> None:
    # GIVEN the README / WHEN its lines are counted
    lines = (ROOT / "README.md").read_text(encoding="utf-8").count("\n")
    # THEN the readers' details live in docs/, not there
    assert lines <= README_LINES


def test_a_stale_path_is_found() -> None:
    # GIVEN a document naming a module that was moved away / WHEN it is checked
    stale = _named_paths("see `shared/driver/flight.py` and shared/db/url.py")
    # THEN the moved one is reported and the real one is not
    assert sorted(path for path in stale if not _exists(path)) == ["shared/driver/flight.py"]
