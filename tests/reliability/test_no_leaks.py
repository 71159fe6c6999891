"""Nothing leaks: the guard in conftest.py checks every test; these probe the riskiest paths.

The guard scans every reply, everything printed (Powertools JSON logs, EMF metrics) and
every stdlib logging record (with its extra fields) for the database password and every
bearer token a test minted. These tests make sure it looks at real output, and drive the
error paths most likely to echo a credential: a bad DATABASE_URL and a refused login.
"""

from __future__ import annotations

import secrets as random
from urllib.parse import quote

import pytest

from infra.local import neon_local
from tests.support.client import Secrets
from tests.support.output import Output, logged_records
from tests.support.resets import Configure

from .harness import Api


def test_the_guard_sees_the_handlers_log_lines_and_would_catch_a_secret(
    api: Api, output: Output, caplog: pytest.LogCaptureFixture, secrets: Secrets
) -> None:
    # GIVEN a request that is served and one that is refused
    user = api.user()
    assert api.call("GET", user.tasks, token=user.token).status == 200
    assert api.call("GET", user.tasks, token=user.token + "x").status == 401
    # WHEN the guard's sources are read
    printed = [r for r in output.logs() if r["message"] == "request handled"]
    # THEN they hold both requests' log lines (the guard is not looking at nothing)
    assert [r["status"] for r in printed] == [200, 401]
    assert "request handled" in logged_records(caplog)
    # AND a line carrying a secret would be caught
    with pytest.raises(AssertionError, match="leaked"):
        secrets.assert_absent(output.read() + user.token, "a planted line")


def _database_urls(stack: neon_local.Stack, secret: str) -> dict[str, str]:
    base = f"postgresql://{stack.user}:{quote(secret, safe='')}@localhost"
    return {
        "wrong password": f"{base}:{stack.pooler_port}/{stack.database}?sslmode=require",
        "no server listening": f"{base}:9/{stack.database}?sslmode=require",
        "secret in an unsupported parameter": (
            f"postgresql://{stack.user}:x@localhost:{stack.pooler_port}/{stack.database}"
            f"?sslmode=require&password={secret}"
        ),
        "malformed port": f"{base}:port/{stack.database}",
        "unknown database": f"{base}:{stack.pooler_port}/no_such_db?sslmode=require",
    }


@pytest.mark.parametrize(
    ("case", "status"),
    [
        ("wrong password", 503),
        ("no server listening", 503),
        ("secret in an unsupported parameter", 500),
        ("malformed port", 500),
        ("unknown database", 503),
    ],
)
def test_a_bad_database_url_is_reported_without_its_password(
    case: str,
    status: int,
    api: Api,
    configure: Configure,
    stack: neon_local.Stack,
    secrets: Secrets,
) -> None:
    # GIVEN a container whose DATABASE_URL carries a (registered) secret and is wrong
    secret = secrets.add(f"pw-{random.token_urlsafe(18)}")
    configure(database_url=_database_urls(stack, secret)[case], db_connect_attempts="1")
    user = api.user()
    # WHEN a request needs the database
    reply = api.call("GET", user.tasks, token=user.token)
    # THEN it fails with a typed status and a message, and (the guard checks) no password
    assert reply.status == status
    assert isinstance(reply.detail, str) and reply.detail
