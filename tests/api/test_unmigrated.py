"""A database the migrate function has not (fully) run on says so: 503 SCHEMA_NOT_MIGRATED.

Each test points the handlers at its own scratch database (through the pooler): empty,
migrated to an older revision, or migrated and then altered by hand.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from functions import create_task, health, list_tasks
from infra.deploy import deployer
from infra.local import neon_local
from shared.adapters.pg8000_driver import SingleFlightConnection
from shared.core.settings import Settings
from shared.db.schema_revision import VERSIONS, newest_revision, shipped_revision
from shared.jobs.migrate import MIGRATIONS_DIR, migrate
from tests.support.client import Client, User
from tests.support.events import Reply
from tests.support.output import Output
from tests.support.resets import Configure
from tests.support.routes import function, handler_of, sample, task_routes

NOT_MIGRATED = "SCHEMA_NOT_MIGRATED"


@pytest.fixture
def scratch_settings(
    stack: neon_local.Stack, scratch_database: str, configure: Configure
) -> Settings:
    """The handlers talk to an empty scratch database; its settings, to migrate it."""
    pooled, direct = (
        url.replace(f"/{stack.database}?", f"/{scratch_database}?")
        for url in (stack.database_url, stack.direct_url)
    )
    configure(database_url=pooled, database_url_direct=direct)
    return Settings(database_url=pooled, database_url_direct=direct)


@pytest.fixture
def older_migrations(tmp_path: Path) -> Path:
    """The project's migrations without the newest revision: the release before this one."""
    copy = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    newest = newest_revision()
    for path in (copy / "versions").glob(f"{newest}_*.py"):
        path.unlink()
    return copy


def _every_route_and_health(client: Client, user: User) -> dict[str, Reply]:
    replies = {}
    for route in [*task_routes(), *function("health").routes]:
        path, body = sample(route, user.id)
        replies[route.key] = client(
            handler_of(route), route.method, path, token=user.token, json_body=body
        )
    return replies


def _not_migrated(reply: Reply) -> bool:
    detail = str(reply.json()["detail"])
    return (
        (reply.status, reply.code, reply.headers.get("retry-after")) == (503, NOT_MIGRATED, "60")
        and "migrate function" in detail
        and "make deploy-jobs" in detail
    )


def test_a_database_never_migrated_is_a_503_naming_the_migrate_function(
    scratch_settings: Settings, client: Client, alice: User, output: Output
) -> None:
    # GIVEN a database the migrate function never ran on (a plain `osls deploy`, a new
    # Neon branch): no tables at all
    # WHEN every task route and the health check are called
    replies = _every_route_and_health(client, alice)
    # THEN each answers 503 SCHEMA_NOT_MIGRATED saying how to run migrate, not a 500
    assert {key: _not_migrated(reply) for key, reply in replies.items()} == dict.fromkeys(
        replies, True
    )
    body = replies["GET /health"].json()
    assert (body["status"], body["database"]) == ("error", "not migrated")
    # AND the cause is logged: the SQLSTATE for the routes, an error for the health check
    logs = output.logs()
    assert {log.get("sqlstate") for log in logs if log.get("error") == NOT_MIGRATED} == {"42P01"}
    assert any(
        (log["level"], log["message"]) == ("ERROR", "health check: database not migrated")
        for log in logs
    )
    # AND once migrate has run, the same requests are served
    migrate(scratch_settings)
    assert client(health.handler, "GET", "/health").json() == {"status": "ok", "database": "ok"}
    assert client(list_tasks.handler, "GET", alice.tasks, token=alice.token).status == 200


def test_a_database_behind_this_release_is_a_503_from_health_naming_both_revisions(
    scratch_settings: Settings, older_migrations: Path, client: Client, alice: User
) -> None:
    # GIVEN a database migrated by the previous release (every revision but the newest)
    older = migrate(scratch_settings, older_migrations).after
    assert older is not None and older != shipped_revision()
    # WHEN the health check runs, and alice creates a task with and without a key
    checked = client(health.handler, "GET", "/health")
    plain = client(
        create_task.handler, "POST", alice.tasks, token=alice.token, json_body={"title": "t"}
    )
    keyed = client(
        create_task.handler,
        "POST",
        alice.tasks,
        token=alice.token,
        json_body={"title": "t"},
        headers={"Idempotency-Key": "k-1"},
    )
    # THEN health says the database is behind, at which revision, and which one is needed
    assert _not_migrated(checked)
    needed = f"(it is at revision {older}; this release needs {shipped_revision()})"
    assert str(checked.json()["detail"]).endswith(needed)
    # AND what the older schema can serve is served; what it lacks (the newest revision's
    # idempotency_keys table) is the same 503, not a 500
    assert plain.status == 201
    assert _not_migrated(keyed)


def test_a_column_missing_from_a_table_is_a_503_not_migrated(
    scratch_settings: Settings, stack: neon_local.Stack, client: Client, alice: User
) -> None:
    # GIVEN a migrated database from which a column of the tasks table was dropped
    migrate(scratch_settings)
    database = scratch_settings.database_url
    assert database is not None
    name = database.get_secret_value().split("/")[-1].split("?")[0]
    stack.admin_psql(f'\\c "{name}"\nALTER TABLE tasks DROP COLUMN description')
    # WHEN alice lists her tasks
    listed = client(list_tasks.handler, "GET", alice.tasks, token=alice.token)
    # THEN the undefined column (42703) is the schema's fault: 503, not a 500
    assert _not_migrated(listed)


def test_health_still_sends_one_statement(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN the driver's statement entry points observed
    sent: list[str] = []
    simple, unnamed = SingleFlightConnection.execute_simple, SingleFlightConnection.execute_unnamed

    def counting(real: Any) -> Any:
        def observe(self: SingleFlightConnection, statement: str, *a: Any, **k: Any) -> Any:
            sent.append(statement)
            return real(self, statement, *a, **k)

        return observe

    monkeypatch.setattr(SingleFlightConnection, "execute_simple", counting(simple))
    monkeypatch.setattr(SingleFlightConnection, "execute_unnamed", counting(unnamed))
    # WHEN the health check runs on the migrated database
    reply = client(health.handler, "GET", "/health")
    # THEN it answered from one statement, which read the revision
    assert reply.status == 200
    assert sent == ["SELECT version_num FROM alembic_version"]


def test_the_shipped_revision_is_alembics_head() -> None:
    # GIVEN the migration files of this checkout
    # WHEN the revision /health expects is derived from them
    # THEN it is the head Alembic (and so the deploy's check) computes from the same files
    assert newest_revision(VERSIONS) == shipped_revision() == deployer.head_revision()
