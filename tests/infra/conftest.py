"""Fixtures for the tooling tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.lockfiles import write_repo


@pytest.fixture
def locked_repo(tmp_path: Path) -> Path:
    """A folder whose requirements files and lock files agree."""
    write_repo(tmp_path)
    return tmp_path
