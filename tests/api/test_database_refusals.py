"""What the database refuses is a documented 4xx/5xx with a code, never a 500.

A refused statement: each such test runs the handlers against its own scratch database
(migrated, through the pooler), because running out of ids or narrowing a column would
break every other test. A refused login (wrong password, database or host): 503
DATABASE_MISCONFIGURED at once, in the server's words, through PgBouncer and directly.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from urllib.parse import quote

import pytest

from functions import create_task
from infra.local import neon_local
from shared.core.settings import Settings
from shared.jobs.migrate import migrate
from tests.support.client import Client, Secrets, User
from tests.support.events import Reply
from tests.support.output import Output
from tests.support.resets import Configure, new_container
from tests.support.routes import function, handler_of, sample, task_routes

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


# What the server (or PgBouncer, whose every refused login is 08P01) says, by endpoint.
_NO_DATABASE = 'the database named in the URL does not exist: database "nope" does not exist'
_REFUSED = {
    ("password", "pooler"): "the database refused the password: SASL authentication failed",
    ("password", "direct"): "the database refused the password: "
    'password authentication failed for user "neondb_owner"',
    ("database", "pooler"): _NO_DATABASE,
    ("database", "direct"): _NO_DATABASE,
}
WRONG_PASSWORD = "not-the-password-" + "z" * 8


def _misconfigured_url(stack: neon_local.Stack, wrong: str, endpoint: str) -> str:
    url = stack.database_url if endpoint == "pooler" else stack.direct_url
    if wrong == "password":
        return url.replace(quote(stack.password, safe=""), WRONG_PASSWORD)
    if wrong == "database":
        return url.replace(f"/{stack.database}?", "/nope?")
    return url.replace("@localhost:", "@ep-typo-pooler.no-such-region.invalid:")


def _every_route_and_health(client: Client, user: User) -> dict[str, tuple[Reply, float]]:
    """Each task route's and /health's reply, with the seconds it took."""
    replies = {}
    for route in [*task_routes(), *function("health").routes]:
        path, body = sample(route, user.id)
        began = time.monotonic()
        reply = client(handler_of(route), route.method, path, token=user.token, json_body=body)
        replies[route.key] = reply, time.monotonic() - began
    return replies


@pytest.mark.parametrize("endpoint", ["pooler", "direct"])
@pytest.mark.parametrize("wrong", ["password", "database"])
def test_a_wrong_password_or_database_is_a_503_naming_it_without_retries(
    stack: neon_local.Stack,
    client: Client,
    alice: User,
    configure: Configure,
    secrets: Secrets,
    output: Output,
    wrong: str,
    endpoint: str,
) -> None:
    # GIVEN DATABASE_URL with a wrong password (or database) on that endpoint, three
    # connection attempts allowed as deployed
    secrets.add(WRONG_PASSWORD)
    configure(database_url=_misconfigured_url(stack, wrong, endpoint), db_connect_attempts="3")
    # WHEN every task route and the health check are called
    replies = _every_route_and_health(client, alice)
    # THEN each answers at once 503 DATABASE_MISCONFIGURED in the server's words, asking
    # to come back in a minute, not in 5 s (three attempts would take over 2 s: 0.75 s of
    # backoff, and PgBouncer holds a login for server_login_retry, 0.5 s, after a failed one)
    reason = _REFUSED[wrong, endpoint]
    for key, (reply, seconds) in replies.items():
        assert (reply.status, reply.code, reply.json()["detail"]) == (
            503,
            "DATABASE_MISCONFIGURED",
            reason,
        ), key
        assert reply.headers["retry-after"] == "60" and seconds < 1, key
    health = replies["GET /health"][0].json()
    assert (health["status"], health["database"]) == ("error", "misconfigured")
    # AND each request logged the reason once, as an error, with no retried attempt
    logs = output.logs()
    refused = [log for log in logs if log["message"] == "database connection refused"]
    assert [log["reason"] for log in refused] == [reason] * len(replies)
    assert {log["level"] for log in refused} == {"ERROR"}
    assert not [log for log in logs if log["message"] == "database connection attempt failed"]


def test_a_host_that_does_not_resolve_is_a_503_naming_the_host(
    stack: neon_local.Stack, client: Client, alice: User, configure: Configure
) -> None:
    # GIVEN DATABASE_URL whose host has a typo
    configure(database_url=_misconfigured_url(stack, "host", "pooler"), db_connect_attempts="3")
    # WHEN alice lists her tasks, and the health check runs
    replies = _every_route_and_health(client, alice)
    # THEN both say which host does not resolve, at once (no backoff: 0.25 s)
    said = "the database host ep-typo-pooler.no-such-region.invalid does not resolve: check the URL"
    for key in ("GET /api/{user_id}/tasks", "GET /health"):
        reply, seconds = replies[key]
        assert (reply.status, reply.code, reply.json()["detail"]) == (
            503,
            "DATABASE_MISCONFIGURED",
            said,
        )
        assert seconds < 0.25
