"""The libraries the wing adapts are the versions it was written against, installed and locked.

An upgrade fails here first, naming the library and both versions: the adapters that rely
on it (named in shared/adapters/versions.py) are read against the new source before the
table changes.
"""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path

import pytest

from infra.packaging import locks
from shared.adapters.versions import WRITTEN_AGAINST

ROOT = Path(__file__).resolve().parents[2]
TABLE = "shared/adapters/versions.py"


def _mismatch(library: str, expected: str, found: str, where: str) -> str:
    return (
        f"{library} {found} is {where}, but the wing was written against {library} {expected} "
        f"({TABLE}): read the adapters that rely on {library} against {found}'s source, "
        "run their tests, then change the table"
    )


@pytest.mark.parametrize("library", sorted(WRITTEN_AGAINST))
def test_the_installed_library_is_the_version_the_wing_was_written_against(library: str) -> None:
    # GIVEN the version the wing's adapters were written against
    expected = WRITTEN_AGAINST[library]
    # WHEN the installed distribution is asked its version
    installed = version(library)
    # THEN it is that version
    assert installed == expected, _mismatch(library, expected, installed, "installed")


@pytest.mark.parametrize("name", sorted(locks.SETS))
def test_each_lock_pins_the_versions_the_wing_was_written_against(name: str) -> None:
    # GIVEN a dependency set's lock (the shipped ones are what Lambda runs)
    lock = locks.SETS[name].lock
    pinned = locks.locked_versions((ROOT / lock).read_text(encoding="utf-8"))
    # WHEN the wing's libraries it pins are compared with the table
    wrong = [
        _mismatch(library, expected, " or ".join(sorted(found)), f"pinned in {lock}")
        for library, expected in WRITTEN_AGAINST.items()
        if (found := pinned.get(locks.normalize(library), {expected})) != {expected}
    ]
    # THEN each is the version the wing was written against
    assert not wrong, "\n".join(wrong)
