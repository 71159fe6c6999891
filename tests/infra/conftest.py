"""Fixtures for the tooling tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.local.runtime.workers import Workers
from tests.support import misbehaving
from tests.support.lockfiles import write_repo


@pytest.fixture
def locked_repo(tmp_path: Path) -> Path:
    """A folder whose requirements files and lock files agree."""
    write_repo(tmp_path)
    return tmp_path


@pytest.fixture
def misbehaving_workers() -> Iterator[Workers]:
    """Worker processes (one at a time) of a function that misbehaves when asked to."""
    with Workers(misbehaving.spec, limit=1) as workers:
        yield workers
