"""Rotating the Neon password needs no redeploy: a refused password is asked of the secret.

The functions run as deployed in Secrets Manager mode (docs/operations.md: Secrets): DATABASE_URL
holds what CloudFormation resolved at deploy time, DATABASE_URL_SECRET names the secret.
Secrets Manager is moto's, in this process; the database is the session's stack, whose
role password a test resets (PostgreSQL and PgBouncer's auth file) and then restores.
"""

from __future__ import annotations

import json
import os
import secrets as tokens
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from functions import get_task, health, list_tasks
from infra.local import neon_local
from shared.db.credentials import REREAD_SECONDS
from tests.support.client import Client, Secrets, User
from tests.support.output import Output
from tests.support.resets import Configure
from tests.support.rotation import reset_password, url_with_password

ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
SECRET_ID = "todo-api/rotation-test"
READ_AGAIN = "database password read again from its secret"
NOTHING_NEW = "the database secret holds no other password for this endpoint"
UNREADABLE = "could not read the database secret"


@pytest.fixture
def secrets_manager(fresh_settings: pytest.MonkeyPatch) -> Iterator[Any]:
    """moto's Secrets Manager, with the credentials and region a Lambda function has."""
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN"):
        fresh_settings.delenv(name, raising=False)
    fresh_settings.setenv("AWS_ACCESS_KEY_ID", "testing")
    fresh_settings.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    fresh_settings.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        yield boto3.client("secretsmanager", region_name=REGION)


@pytest.fixture
def new_password(stack: neon_local.Stack, secrets: Secrets) -> Iterator[str]:
    """A new password for the stack's role; the old one is given back afterwards."""
    password = secrets.add(tokens.token_urlsafe(24))
    yield password
    reset_password(stack, stack.password)


def _secret_string(stack: neon_local.Stack, password: str) -> str:
    """The stage's secret as `make deploy` expects it, holding ``password``."""
    urls = {
        "DATABASE_URL": url_with_password(stack.database_url, stack, password),
        "DATABASE_URL_DIRECT": url_with_password(stack.direct_url, stack, password),
    }
    return json.dumps({**urls, "BETTER_AUTH_SECRET": ""})


def _deployed(stack: neon_local.Stack, configure: Configure, endpoint: str) -> None:
    """A function's environment in Secrets Manager mode, its URL on ``endpoint``."""
    url = stack.database_url if endpoint == "pooler" else stack.direct_url
    configure(database_url=url, database_url_secret=SECRET_ID)


def _messages(output: Output, message: str) -> list[dict[str, Any]]:
    return [log for log in output.logs() if log["message"] == message]


@pytest.mark.parametrize("endpoint", ["pooler", "direct"])
def test_a_warm_function_serves_on_after_the_password_is_rotated(
    stack: neon_local.Stack,
    secrets_manager: Any,
    new_password: str,
    configure: Configure,
    client: Client,
    alice: User,
    output: Output,
    endpoint: str,
) -> None:
    # GIVEN a function deployed from the secret, warm after serving alice
    secrets_manager.create_secret(
        Name=SECRET_ID, SecretString=_secret_string(stack, stack.password)
    )
    _deployed(stack, configure, endpoint)
    task = client.create(alice, "written before the rotation")
    # WHEN the role's password is reset, the secret updated with it, and the same warm
    # function asked again (its environment still holds the old password)
    reset_password(stack, new_password)
    secrets_manager.put_secret_value(
        SecretId=SECRET_ID, SecretString=_secret_string(stack, new_password)
    )
    fetched = client(get_task.handler, "GET", alice.task(task["id"]), token=alice.token)
    listed = client(list_tasks.handler, "GET", alice.tasks, token=alice.token)
    # THEN both requests are answered as before the rotation
    assert (fetched.status, fetched.json()) == (200, task)
    assert (listed.status, [t["id"] for t in listed.json()]) == (200, [task["id"]])
    # AND the old password was refused once, the secret read once, and the new password
    # kept: the second request logged in with it straight away
    assert len(_messages(output, "database connection refused")) == 1
    assert [log["secret"] for log in _messages(output, READ_AGAIN)] == [SECRET_ID]


def test_a_secret_still_holding_the_refused_password_is_read_at_most_every_few_seconds(
    stack: neon_local.Stack,
    secrets_manager: Any,
    new_password: str,
    configure: Configure,
    client: Client,
    output: Output,
) -> None:
    # GIVEN a function deployed from the secret, and the password reset without the
    # secret being updated yet
    secrets_manager.create_secret(
        Name=SECRET_ID, SecretString=_secret_string(stack, stack.password)
    )
    _deployed(stack, configure, "pooler")
    reset_password(stack, new_password)
    # WHEN the health check runs twice in a row (well within REREAD_SECONDS)
    replies = [client(health.handler, "GET", "/health") for _ in range(2)]
    # THEN each says the settings are wrong, in the server's words
    expected = "the database refused the password: SASL authentication failed"
    assert [(r.status, r.code, r.json()["detail"]) for r in replies] == [
        (503, "DATABASE_MISCONFIGURED", expected)
    ] * 2
    # AND the secret was read once, not once per request, and found to hold nothing new
    assert REREAD_SECONDS >= 5
    assert len(_messages(output, NOTHING_NEW)) == 1
    assert not _messages(output, READ_AGAIN)


def test_a_secret_that_cannot_be_read_leaves_the_refusal_as_it_was(
    stack: neon_local.Stack,
    secrets_manager: Any,
    new_password: str,
    configure: Configure,
    client: Client,
    output: Output,
) -> None:
    # GIVEN a function whose DATABASE_URL_SECRET names no secret, and a reset password
    _deployed(stack, configure, "direct")
    reset_password(stack, new_password)
    # WHEN the health check runs
    reply = client(health.handler, "GET", "/health")
    # THEN it reports the refused password, and the log says why the secret did not help
    assert (reply.status, reply.code) == (503, "DATABASE_MISCONFIGURED")
    assert [(log["secret"], log["error"]) for log in _messages(output, UNREADABLE)] == [
        (SECRET_ID, "ResourceNotFoundException")
    ]


_NORMAL_REQUEST = """
import json, sys
from functions import health
from tests.support.events import http_api_event, invoke
reply = invoke(health.handler, http_api_event("GET", "/health"))
loaded = sorted(m for m in ("boto3", "botocore.session", "botocore.client") if m in sys.modules)
print(json.dumps({"status": reply.status, "loaded": loaded}))
"""


def test_a_normal_request_loads_no_aws_sdk(stack: neon_local.Stack) -> None:
    # GIVEN a fresh process configured in Secrets Manager mode, with no AWS access at all
    env = {**os.environ, "DATABASE_URL": stack.database_url, "PYTHONPATH": str(ROOT)}
    env |= {"DATABASE_URL_SECRET": SECRET_ID, "AWS_ENDPOINT_URL": "http://127.0.0.1:9"}
    # WHEN it serves a request whose login succeeds
    done = subprocess.run(
        [sys.executable, "-c", _NORMAL_REQUEST],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    # THEN it answered without importing boto3, or the part of botocore that makes clients
    # (Powertools imports the bare botocore package, 0.5 ms, for its user agent), so
    # without calling AWS
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"status": 200, "loaded": []}
