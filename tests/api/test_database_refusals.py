"""What the database refuses is a documented 4xx/5xx with a code, never a 500.

Each test runs the handlers against its own scratch database (migrated, through the
pooler), because running out of ids or narrowing a column would break every other test.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from functions import create_task
from infra.local import neon_local
from shared.core.settings import Settings
from shared.jobs.migrate import migrate
from tests.support.client import Client, User
from tests.support.output import Output
from tests.support.resets import new_container

LAST_ID = 2**31 - 1  # tasks.id is integer, as table 6.1 says


@pytest.fixture
def own_database(
    stack: neon_local.Stack, scratch_database: str, fresh_settings: pytest.MonkeyPatch
) -> Iterator[str]:
    """The handlers talk to a migrated scratch database (SQL run on it by ``psql``)."""
    pooled, direct = (
        url.replace(f"/{stack.database}?", f"/{scratch_database}?")
        for url in (stack.database_url, stack.direct_url)
    )
    migrate(Settings(database_url=pooled, database_url_direct=direct))
    fresh_settings.setenv("DATABASE_URL", pooled)
    fresh_settings.setenv("DATABASE_URL_DIRECT", direct)
    new_container()
    yield scratch_database
    new_container()


def _psql(stack: neon_local.Stack, database: str, sql: str) -> str:
    return stack.admin_psql(f'\\c "{database}"\n{sql}')


def _create(client: Client, user: User, title: str, key: str | None = None) -> tuple[int, str]:
    headers = {"Idempotency-Key": key} if key else None
    reply = client(
        create_task.handler,
        "POST",
        user.tasks,
        token=user.token,
        json_body={"title": title},
        headers=headers,
    )
    return reply.status, reply.json().get("code", "")


def test_creates_past_the_last_task_id_answer_a_documented_507(
    client: Client, alice: User, stack: neon_local.Stack, own_database: str, output: Output
) -> None:
    # GIVEN a task id sequence one id short of the integer column's end
    _psql(stack, own_database, f"SELECT setval('tasks_id_seq', {LAST_ID - 1})")
    # WHEN tasks are created, with and without a key
    last = _create(client, alice, "the last one")
    refused = [_create(client, alice, "one too many"), _create(client, alice, "keyed", "k1")]
    # THEN the last id is handed out, then creates get 507 with their code (not a 500)
    assert last == (201, "")
    assert refused == [(507, "TASK_IDS_EXHAUSTED")] * 2
    # AND the condition is logged as an error, by code and SQLSTATE only
    errors = [log for log in output.logs() if log["level"] == "ERROR"]
    assert [(e.get("error"), e.get("sqlstate")) for e in errors] == [
        ("TASK_IDS_EXHAUSTED", "2200H")
    ] * 2
    # AND the refused keyed create left no key behind (its whole statement was undone)
    assert _psql(stack, own_database, "SELECT count(*) FROM idempotency_keys").strip() == "0"


@pytest.mark.parametrize(
    ("alteration", "sqlstate"),
    [
        ("ALTER TABLE tasks ALTER COLUMN title TYPE varchar(3)", "22001"),
        ("ALTER TABLE tasks ADD CONSTRAINT short CHECK (length(title) < 4)", "23514"),
    ],
    ids=["string too long", "check violation"],
)
def test_a_value_the_database_refuses_is_a_422_with_its_code(
    client: Client,
    alice: User,
    stack: neon_local.Stack,
    own_database: str,
    output: Output,
    alteration: str,
    sqlstate: str,
) -> None:
    # GIVEN a database stricter than the API (an operator narrowed the column)
    _psql(stack, own_database, alteration)
    # WHEN a title the API accepts but the database refuses is sent, with and without a key
    replies = [_create(client, alice, "four"), _create(client, alice, "four", "k")]
    # THEN each is a 422 VALUE_NOT_STORABLE, logged with the SQLSTATE
    assert replies == [(422, "VALUE_NOT_STORABLE")] * 2
    assert {log.get("sqlstate") for log in output.logs() if "sqlstate" in log} == {sqlstate}
