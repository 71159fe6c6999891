"""The database password, asked of its Secrets Manager secret again when a login is refused.

In Secrets Manager mode (docs/operations.md: Secrets) CloudFormation copies the secret's URLs into
the functions' environment when it deploys them, and never again: osls skips an
unchanged deploy, and CloudFormation does not resolve an unchanged dynamic reference
anew. After the Neon password is reset, the functions would keep the old one until
something changed their configuration. So when the server refuses the password
(``shared.db.failures.misconfiguration``) and ``DATABASE_URL_SECRET`` names the secret,
``fresh_password`` reads the secret and, if it holds another password for the same host,
port, role and database, the connection is tried with that; once it works, ``remember``
keeps it for every later connection of the container (``current``), which then never
meets the refusal again.

Only that path imports boto3 (Lambda's Python runtime has it; our packages do not) and
calls Secrets Manager: a normal request does neither. While the password stays refused
a container reads the secret at most once per ``REREAD_SECONDS``, so a stage whose
secret is wrong too does not turn every request into a Secrets Manager call.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Protocol, cast

from shared.core.errors import ConfigurationError
from shared.core.observability import logger
from shared.core.settings import Settings
from shared.db.url import ConnectParams, parse_database_url

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["REREAD_SECONDS", "current", "forget", "fresh_password", "remember"]

# The secret's URL keys (docs/operations.md: Secrets; infra/deploy/deployer.py checks them).
_URL_KEYS = ("DATABASE_URL", "DATABASE_URL_DIRECT")
REREAD_SECONDS = 10.0
# Lambda reaches Secrets Manager in tens of milliseconds; these bound a bad moment to a
# few seconds of the API functions' 25 s (serverless.yml) after the refused login.
_CLIENT_OPTIONS: dict[str, Any] = {
    "connect_timeout": 2,
    "read_timeout": 2,
    "retries": {"total_max_attempts": 2, "mode": "standard"},
}

# The deployed connection parameters -> those that logged in after a rotation.
_working: dict[ConnectParams, ConnectParams] = {}
# When each secret was last read (time.monotonic()).
_read_at: dict[str, float] = {}


class _SecretReader(Protocol):
    """The one Secrets Manager call made here (boto3's client has it)."""

    def get_secret_value(self, *, SecretId: str) -> Mapping[str, Any]: ...  # noqa: N803 (boto3)


def current(deployed: ConnectParams) -> ConnectParams:
    """The parameters to log in with: the deployed ones, or those a rotation brought."""
    return _working.get(deployed, deployed)


def remember(deployed: ConnectParams, working: ConnectParams) -> None:
    """Log in with ``working`` instead of ``deployed`` from now on (the container's life)."""
    _working[deployed] = working


def forget() -> None:
    """Forget every rotation and read (a new container; tests)."""
    _working.clear()
    _read_at.clear()


def fresh_password(refused: ConnectParams, settings: Settings) -> ConnectParams | None:
    """``refused`` with the secret's other password for its endpoint, or None (no secret,
    read too recently, unreadable, or holding no other password for this endpoint)."""
    secret_id = settings.database_url_secret
    if not secret_id or time.monotonic() - _read_at.get(secret_id, -math.inf) < REREAD_SECONDS:
        return None
    _read_at[secret_id] = time.monotonic()
    values = _read(secret_id)
    if values is None:
        return None
    password = _password_for(refused, values)
    if password is None or password == refused.password:
        logger.error(
            "the database secret holds no other password for this endpoint",
            extra={"secret": secret_id, "endpoint": refused.redacted()},
        )
        return None
    logger.warning("database password read again from its secret", extra={"secret": secret_id})
    return replace(refused, password=password)


def _password_for(refused: ConnectParams, values: Mapping[str, Any]) -> str | None:
    """The password of the secret's first URL for the same host, port, role and database."""
    endpoint = (refused.host, refused.port, refused.user, refused.database)
    for key in _URL_KEYS:
        url = values.get(key)
        if not isinstance(url, str) or not url:
            continue
        try:
            parsed = parse_database_url(url, name=key)
        except ConfigurationError:
            continue
        for found in (parsed, parsed.direct()):  # migrate derives the direct endpoint
            if (found.host, found.port, found.user, found.database) == endpoint:
                return found.password
    return None


def _read(secret_id: str) -> Mapping[str, Any] | None:
    """The secret's JSON object, or None (logged by error code, never by value)."""
    # Only here: importing boto3 and making the client took 240-390 ms on the bench's VM,
    # which no normal request pays (tests/api/test_rotation.py checks it is not loaded).
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        config = Config(**_CLIENT_OPTIONS)
        client = cast(_SecretReader, boto3.client("secretsmanager", config=config))
        raw = client.get_secret_value(SecretId=secret_id).get("SecretString") or ""
        values = json.loads(raw)
    except ClientError as exc:
        _unreadable(secret_id, exc.response.get("Error", {}).get("Code", "ClientError"))
        return None
    except (BotoCoreError, ValueError) as exc:  # no network, no region; not JSON
        _unreadable(secret_id, type(exc).__name__)
        return None
    if not isinstance(values, dict):
        _unreadable(secret_id, "NotAJsonObject")
        return None
    return cast("Mapping[str, Any]", values)


def _unreadable(secret_id: str, error: str) -> None:
    logger.error("could not read the database secret", extra={"secret": secret_id, "error": error})
