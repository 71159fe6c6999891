"""Spec first, migration generated: a spec change becomes a revision that verify then passes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from infra.codegen.revision import generate
from infra.local import neon_local
from shared.core.settings import Settings
from shared.jobs.migrate import MIGRATIONS_DIR, migrate
from shared.jobs.schema_spec import SPEC_PATH
from shared.jobs.verify import verify

# A new table with a column kept current by a trigger, which autogenerate cannot see.
NEW_TABLE = """
[tables.notes]
model = "Note"
doc = "A note."
api = false

[[tables.notes.columns]]
name = "id"
type = "integer"
primary_key = true
autoincrement = true

[[tables.notes.columns]]
name = "body"
type = "string"
max_length = 80
nullable = false
index = true

[[tables.notes.columns]]
name = "updated_at"
type = "timestamptz"
nullable = false
server_default = "now()"
on_update = "now()"
"""


def _settings_for(stack: neon_local.Stack, database: str) -> Settings:
    pooled = stack.database_url.replace(f"/{stack.database}?", f"/{database}?")
    direct = stack.direct_url.replace(f"/{stack.database}?", f"/{database}?")
    return Settings(database_url=pooled, database_url_direct=direct)


@pytest.fixture
def migrations(tmp_path: Path) -> Path:
    """A copy of the project's revisions that a test may add to."""
    copy = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    return copy


def test_the_committed_revisions_already_match_the_spec(
    stack: neon_local.Stack, scratch_database: str, migrations: Path
) -> None:
    # GIVEN the committed spec and revisions
    # WHEN a revision is generated against a database at head
    made = generate(_settings_for(stack, scratch_database), "nothing", migrations_dir=migrations)
    # THEN there is nothing to write: the revisions and the spec agree
    assert made is None
    assert sorted(p.name for p in (migrations / "versions").glob("*.py")) == sorted(
        p.name for p in (MIGRATIONS_DIR / "versions").glob("*.py")
    )


def test_a_spec_change_generates_a_revision_that_verify_then_passes(
    stack: neon_local.Stack, scratch_database: str, migrations: Path, tmp_path: Path
) -> None:
    # GIVEN a database at the current head, and the spec with one more table
    settings = _settings_for(stack, scratch_database)
    spec = tmp_path / "schema.toml"
    spec.write_text(SPEC_PATH.read_text() + NEW_TABLE)
    migrate(settings, migrations)
    assert not verify(settings, spec).ok
    # WHEN one command generates the revision, and migrate applies it
    made = generate(settings, "add notes", spec_path=spec, migrations_dir=migrations)
    report = migrate(settings, migrations)
    # THEN the revision is the next one, made from the spec, trigger included
    assert made is not None and made.name.endswith("_add_notes.py")
    source = made.read_text()
    assert 'op.create_table(\n        "notes"' in source
    assert "CREATE TRIGGER notes_set_updated_at BEFORE UPDATE ON notes" in source
    assert report.applied == [made.name.split("_")[0]]
    # AND verify passes against the changed spec, trigger and index included
    checked = verify(settings, spec)
    assert checked.ok, checked.problems
    notes = next(t for t in checked.tables if t.name == "notes")
    assert notes.triggers == ["notes_set_updated_at"] and "ix_notes_body" in notes.indexes
    # AND generating again finds nothing left to do
    assert generate(settings, "again", spec_path=spec, migrations_dir=migrations) is None


def test_verify_checks_and_lists_the_idempotency_keys_table(
    stack: neon_local.Stack, scratch_database: str
) -> None:
    # GIVEN a migrated database
    settings = _settings_for(stack, scratch_database)
    migrate(settings)
    # WHEN verify runs, then runs again once the keys' primary key is gone
    report = verify(settings)
    drop = "ALTER TABLE idempotency_keys DROP CONSTRAINT idempotency_keys_pkey"
    stack.admin_psql(f'\\c "{scratch_database}"\n{drop}')
    broken = verify(settings)
    # THEN the table is listed with its primary key and age index, and its loss is a problem
    keys = next(t for t in report.tables if t.name == "idempotency_keys")
    assert report.ok and {"idempotency_keys_pkey", "ix_idempotency_keys_created_at"} <= set(
        keys.indexes
    )
    assert "idempotency_keys.user_id+key: primary key missing" in broken.problems


def test_verify_reports_the_id_space_and_warns_when_it_runs_low(
    stack: neon_local.Stack, scratch_database: str
) -> None:
    # GIVEN a migrated database whose task id sequence is fresh, then near its end
    settings = _settings_for(stack, scratch_database)
    migrate(settings)
    fresh = verify(settings)
    stack.admin_psql(f"\\c \"{scratch_database}\"\nSELECT setval('tasks_id_seq', 2000000000)")
    # WHEN verify runs on each
    low = verify(settings)
    # THEN it reports how much is used, and warns (without failing) past the threshold
    assert [(s.column, s.used, s.capacity) for s in fresh.id_space] == [("tasks.id", 0, 2**31 - 1)]
    assert fresh.warnings == []
    assert low.ok and low.to_dict()["warnings"] == [
        "tasks.id: 93.1% of its ids are used (2000000000 of 2147483647)"
    ]
