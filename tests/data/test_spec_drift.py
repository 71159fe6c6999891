"""The committed model module is exactly what the spec generates."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.codegen import schemagen
from shared.jobs.schema_spec import SpecError, load_spec
from tests.support.commands import run_module

ROOT = Path(__file__).resolve().parents[2]


def test_committed_models_match_the_spec() -> None:
    # WHEN the generator's check mode runs, as the test command does
    done = run_module("infra.codegen.schemagen", "--check")
    # THEN it finds nothing stale
    assert (done.returncode, done.stderr) == (0, "")


def test_a_spec_change_makes_the_committed_models_stale(tmp_path: Path) -> None:
    # GIVEN the spec with one column's length changed
    spec = (ROOT / "specs" / "schema.toml").read_text()
    changed = tmp_path / "schema.toml"
    changed.write_text(
        spec.replace("max_length = 255\nmin_length = 1", "max_length = 200\nmin_length = 1")
    )
    # WHEN the models are rendered from it
    rendered = schemagen.render(load_spec(changed))
    # THEN they differ from the committed file where the spec changed
    committed = schemagen.TARGET.read_text()
    assert rendered != committed
    assert "TASKS_TITLE_MAX_LENGTH = 200" in rendered


def test_an_unknown_column_type_is_refused(tmp_path: Path) -> None:
    spec = tmp_path / "schema.toml"
    spec.write_text(
        '[tables.t]\nmodel = "T"\ndoc = "d"\n[[tables.t.columns]]\nname = "x"\ntype = "money"\n'
    )
    with pytest.raises(SpecError, match="unknown type"):
        load_spec(spec)
