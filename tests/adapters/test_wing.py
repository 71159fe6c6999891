"""Other libraries' insides are touched in shared/adapters only, which the rest uses one way."""

from __future__ import annotations

import ast
from pathlib import Path

from shared.adapters.versions import WRITTEN_AGAINST
from tests.support.source import ROOT, WING, imports_of, module_name, sources, trespasses

_WING_DIR = ROOT / "shared" / "adapters"
# Modules of the wing that adapt no library: the package and its table.
_NOT_ADAPTERS = {"__init__", "versions"}


def _adapters() -> list[Path]:
    return [path for path in sources("shared/adapters") if path.stem not in _NOT_ADAPTERS]


def _public_names(path: Path) -> set[str]:
    """The module's ``__all__``, read from its source."""
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
        ):
            return set(ast.literal_eval(node.value))
    return set()


def test_no_module_outside_the_wing_touches_another_librarys_insides() -> None:
    # GIVEN every module of shared/ and functions/ outside the wing
    outside = [path for path in sources("shared", "functions") if _WING_DIR not in path.parents]
    # WHEN each is read for private members, private imports and patched modules
    found = [str(finding) for path in outside for finding in trespasses(path)]
    # THEN there are none: such code belongs in shared/adapters
    assert not found, "\n".join(found)


def test_each_adapter_names_its_library_in_the_versions_table() -> None:
    # GIVEN the wing's adapters, each named <library>_<what it adapts>
    # WHEN their libraries are looked up in the versions table
    unlisted = [p.name for p in _adapters() if p.stem.split("_")[0] not in WRITTEN_AGAINST]
    # THEN each is there, so an upgrade of it fails the version test
    assert _adapters()
    assert not unlisted, f"add these adapters' libraries to shared/adapters/versions.py: {unlisted}"


def test_each_adapter_declares_its_public_names() -> None:
    # GIVEN the wing's adapters / THEN each says what the rest may use (``__all__``)
    assert not [path.name for path in _adapters() if not _public_names(path)]


def test_the_wing_imports_nothing_of_shared_but_itself() -> None:
    # GIVEN the wing's modules
    # WHEN their imports of the project's own code are listed
    upward = [
        f"{path.name}:{line}: {module}"
        for path in sources("shared/adapters")
        for line, module, _ in imports_of(path)
        if module.split(".")[0] == "shared" and not module.startswith(WING)
    ]
    # THEN there are none: the wing is the lowest layer, the rest depends on it
    assert not upward, "\n".join(upward)


def test_the_rest_uses_only_the_wings_public_names() -> None:
    # GIVEN every import of a wing module from outside the wing
    public = {module_name(path): _public_names(path) for path in _adapters()}
    outside = [path for path in sources("shared", "functions", "bench", "tests")]
    outside = [path for path in outside if _WING_DIR not in path.parents]
    # WHEN the names imported are compared with each module's ``__all__``
    used = [
        (path, line, module, name)
        for path in outside
        for line, module, names in imports_of(path)
        if module.startswith(WING + ".")
        for name in names
    ]
    private = [f"{p.name}:{line}: {m}.{n}" for p, line, m, n in used if n not in public.get(m, {n})]
    # THEN each is public (and the wing is used at all: the rule is not vacuous)
    assert used
    assert not private, "\n".join(private)


def test_the_design_document_explains_every_adapter_and_points_to_the_versions() -> None:
    # GIVEN the design document, which says why each adapter exists and what it saves
    text = (ROOT / "docs" / "design.md").read_text(encoding="utf-8")
    # WHEN the wing's adapters are looked up in it
    missing = [path.name for path in _adapters() if f"`{path.name}`" not in text]
    # THEN each has its entry, and the versions are the table's, named not restated
    assert not missing, f"docs/design.md says nothing of {missing}"
    assert "shared/adapters/versions.py" in text
    assert not [v for v in WRITTEN_AGAINST.values() if v in text]
