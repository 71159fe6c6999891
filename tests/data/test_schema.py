"""migrate and verify against a real database: the table is exactly what the spec says."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import text

from infra.codegen.revision import head_of
from infra.local import neon_local
from shared.core.settings import Settings
from shared.db.engine import create_db_engine
from shared.db.url import parse_database_url
from shared.jobs.migrate import MIGRATIONS_DIR, migrate
from shared.jobs.schema_spec import load_spec
from shared.jobs.verify import verify

HEAD = head_of(MIGRATIONS_DIR)


def _settings_for(stack: neon_local.Stack, database: str, *, direct: bool = True) -> Settings:
    pooled = stack.database_url.replace(f"/{stack.database}?", f"/{database}?")
    url = stack.direct_url.replace(f"/{stack.database}?", f"/{database}?")
    return Settings(database_url=pooled, database_url_direct=url if direct else None)


def _columns(settings: Settings) -> dict[str, tuple[str, str, str | None, int | None]]:
    assert settings.database_url_direct is not None
    params = parse_database_url(settings.database_url_direct.get_secret_value())
    engine = create_db_engine(params, settings, autocommit=True)
    query = text(
        "SELECT column_name, data_type, is_nullable, column_default, character_maximum_length "
        "FROM information_schema.columns WHERE table_schema = 'public' AND table_name = 'tasks' "
        "ORDER BY ordinal_position"
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    engine.dispose()
    return {r[0]: (r[1], r[2], r[3], r[4]) for r in rows}


def test_migrate_creates_the_table_the_spec_describes(
    stack: neon_local.Stack, scratch_database: str
) -> None:
    # GIVEN an empty database
    settings = _settings_for(stack, scratch_database)
    # WHEN migrate runs
    report = migrate(settings)
    # THEN it reports the upgrade and information_schema matches table 6.1 column by column
    assert (report.action, report.before, report.after) == ("upgraded", None, HEAD)
    columns = _columns(settings)
    assert columns == {
        "id": ("integer", "NO", "nextval('tasks_id_seq'::regclass)", None),
        "user_id": ("character varying", "NO", None, 255),
        "title": ("character varying", "NO", None, 255),
        "description": ("text", "YES", None, None),
        "completed": ("boolean", "NO", "false", None),
        "created_at": ("timestamp with time zone", "NO", "now()", None),
        "updated_at": ("timestamp with time zone", "NO", "now()", None),
    }
    assert list(columns) == [c.name for c in load_spec()[0].columns]


def test_verify_passes_on_a_migrated_database_and_lists_what_the_dashboard_shows(
    stack: neon_local.Stack, scratch_database: str
) -> None:
    # GIVEN a migrated database with one row
    settings = _settings_for(stack, scratch_database)
    migrate(settings)
    stack.admin_psql(
        f"\\c \"{scratch_database}\"\nINSERT INTO tasks (user_id, title) VALUES ('u', 't')"
    )
    # WHEN verify runs
    report = verify(settings)
    # THEN it is clean and shows the tasks table with its row count and index
    tasks = next(t for t in report.tables if t.name == "tasks")
    assert report.ok and report.problems == []
    assert tasks.row_count == 1
    assert "ix_tasks_user_id" in tasks.indexes and tasks.triggers == ["tasks_set_updated_at"]


@pytest.mark.parametrize(
    ("alteration", "problem"),
    [
        (
            "ALTER TABLE tasks ALTER COLUMN description SET NOT NULL",
            "tasks.description: forbids NULL",
        ),
        (
            "ALTER TABLE tasks ALTER COLUMN completed DROP DEFAULT",
            "tasks.completed: default is none",
        ),
        ("ALTER TABLE tasks ALTER COLUMN title TYPE text", "tasks.title: type is text"),
        ("DROP INDEX ix_tasks_user_id", "tasks.user_id: index missing"),
        ("DROP TRIGGER tasks_set_updated_at ON tasks", "no trigger tasks_set_updated_at"),
        ("ALTER TABLE tasks ADD COLUMN priority int", "tasks.priority: not in the spec"),
        ("ALTER TABLE tasks DROP COLUMN updated_at", "tasks.updated_at: missing"),
        ("DROP TABLE tasks", "table tasks is missing"),
    ],
)
def test_verify_fails_on_a_hand_altered_table(
    stack: neon_local.Stack, scratch_database: str, alteration: str, problem: str
) -> None:
    # GIVEN a migrated database that someone altered by hand
    settings = _settings_for(stack, scratch_database)
    migrate(settings)
    stack.admin_psql(f'\\c "{scratch_database}"\n{alteration}')
    # WHEN verify runs
    report = verify(settings)
    # THEN it fails and names the difference
    assert not report.ok
    assert any(problem in p for p in report.problems), report.problems


def test_migrate_twice_is_a_no_op_the_second_time(
    stack: neon_local.Stack, scratch_database: str
) -> None:
    settings = _settings_for(stack, scratch_database)
    first, second = migrate(settings), migrate(settings)
    assert (first.action, second.action, second.before, second.applied) == (
        "upgraded",
        "up-to-date",
        HEAD,
        [],
    )
    assert verify(settings).ok


@pytest.mark.parametrize("direct", [True, False], ids=["direct", "through-pooler"])
def test_concurrent_migrations_leave_one_correct_table(
    stack: neon_local.Stack, scratch_database: str, direct: bool
) -> None:
    # GIVEN two migrate runs started at the same moment
    settings = _settings_for(stack, scratch_database, direct=direct)
    reports: list[str] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def run() -> None:
        barrier.wait()
        try:
            reports.append(migrate(settings).action)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    # THEN one upgraded, the other waited on the lock and found nothing to do
    assert errors == []
    assert sorted(reports) == ["up-to-date", "upgraded"]
    assert verify(settings).ok
