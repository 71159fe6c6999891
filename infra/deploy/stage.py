"""A stage's names in AWS, where its settings come from, and what makes them unusable.

Shared by the deploy (infra/deploy/deployer.py), its preflight (infra/deploy/preflight.py)
and the offline rehearsal: each problem is said once, here, with what to do about it.
No message ever shows a value: a URL's password or a secret never reaches the terminal.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from shared.core.errors import ConfigurationError
from shared.db.url import ConnectParams, parse_database_url

if TYPE_CHECKING:
    from mypy_boto3_ssm import SSMClient

SERVICE = "todo-api"  # serverless.yml's `service`; functions are SERVICE-STAGE-NAME
DEFAULT_REGION = "us-east-1"  # serverless.yml's default region
# Settings that may come from SSM; the environment wins when it has a value.
SSM_SETTINGS = (
    "DATABASE_URL",
    "DATABASE_URL_DIRECT",
    "BETTER_AUTH_URL",
    "BETTER_AUTH_SECRET",
    "AUTH_JWKS_URL",
    "AUTH_ISSUER",
    "AUTH_AUDIENCE",
    "AUTH_ALGORITHMS",
    "FRONTEND_ORIGIN",
)
# The variable naming the stage's secret, and the keys serverless.yml's custom.secrets
# resolves from it (the template test checks they agree).
SECRET_ENV = "DATABASE_URL_SECRET"  # noqa: S105 (a variable name, not a secret)
SECRET_KEYS = ("DATABASE_URL", "DATABASE_URL_DIRECT", "BETTER_AUTH_SECRET")
NOTHING_DEPLOYED = "nothing was deployed"


class DeployError(Exception):
    """A step failed; the message says which and why."""


@dataclass(frozen=True)
class Problem:
    """Something that would make the deploy fail, and what to do about it."""

    what: str
    fix: str

    def __str__(self) -> str:
        return f"{self.what}\n     fix: {self.fix}"


class SecretReader(Protocol):
    """The one Secrets Manager call the deploy makes (boto3's client has it)."""

    def get_secret_value(self, *, SecretId: str) -> Mapping[str, Any]: ...  # noqa: N803 (boto3)


def function_name(stage: str, job: str) -> str:
    """The deployed name of one of serverless.yml's functions."""
    return f"{SERVICE}-{stage}-{job}"


def stack_name(stage: str) -> str:
    """The stage's CloudFormation stack (osls names it service-stage)."""
    return f"{SERVICE}-{stage}"


def settings_from_ssm(ssm: SSMClient, prefix: str, env: Mapping[str, str]) -> dict[str, str]:
    """Values under ``prefix`` for the settings ``env`` lacks (missing parameters skipped)."""
    wanted = {f"{prefix.rstrip('/')}/{name}": name for name in SSM_SETTINGS if not env.get(name)}
    found: dict[str, str] = {}
    names = sorted(wanted)
    for start in range(0, len(names), 10):  # GetParameters takes at most 10 names
        reply = ssm.get_parameters(Names=names[start : start + 10], WithDecryption=True)
        for parameter in reply["Parameters"]:
            found[wanted[parameter["Name"]]] = parameter["Value"]
    return found


def environment_problems(env: Mapping[str, str]) -> list[Problem]:
    """What keeps exported (or SSM) settings from deploying: DATABASE_URL unset or malformed."""
    if not env.get("DATABASE_URL", "").strip():
        return [
            Problem(
                "DATABASE_URL is not set",
                "export the Neon pooled connection string (or pass --ssm-prefix, or name a "
                f"Secrets Manager secret in {SECRET_ENV})",
            )
        ]
    return url_problems(env)


def url_problems(values: Mapping[str, str], where: str = "") -> list[Problem]:
    """DATABASE_URL (set) and DATABASE_URL_DIRECT (when set) as shared/db/url.py reads them."""
    names = ["DATABASE_URL"] + (
        ["DATABASE_URL_DIRECT"] if _has(values, "DATABASE_URL_DIRECT") else []
    )
    found = []
    for name in names:
        try:
            parse_database_url(values[name], name=f"{name}{where}")
        except ConfigurationError as exc:
            found.append(
                Problem(str(exc), "copy the connection string from Neon's console (Connect)")
            )
    return found


def neon_problems(values: Mapping[str, str], where: str = "") -> list[Problem]:
    """DATABASE_URL must be Neon's pooled endpoint: with NullPool every Lambda container
    opens its own connections, which only the pooler (PgBouncer) can absorb."""
    try:
        pooled = parse_database_url(values.get("DATABASE_URL"))
    except ConfigurationError:
        return []  # url_problems names it
    if pooled.is_neon_pooler:
        return []
    if pooled.is_neon:
        what = f"DATABASE_URL{where} is Neon's direct endpoint ({pooled.host}), not its pooler"
    else:
        what = f"DATABASE_URL{where} points at {pooled.host}, not at a Neon endpoint"
    fix = (
        "in Neon's console (Connect) turn Connection pooling on and copy that string: "
        "its host ends in -pooler"
    )
    return [Problem(what, fix)]


def neon_region(values: Mapping[str, str]) -> str | None:
    """The AWS region of DATABASE_URL's Neon endpoint (ep-x-pooler.<region>.aws.neon.tech)."""
    try:
        params: ConnectParams = parse_database_url(values.get("DATABASE_URL"))
    except ConfigurationError:
        return None
    labels = params.host.split(".")
    return labels[1] if params.is_neon and len(labels) > 3 and labels[2] == "aws" else None


def secret_problems(client: SecretReader, secret_id: str) -> tuple[dict[str, str], list[Problem]]:
    """The secret's values and what keeps CloudFormation from resolving them into the stack.

    CloudFormation would fail half-way with "Could not find a value associated with
    JSONKey"; here each problem names the key. No value is ever shown.
    """
    try:
        raw = client.get_secret_value(SecretId=secret_id).get("SecretString", "")
    except ClientError as exc:
        return {}, [Problem(f"secret {secret_id}: {client_error(exc)}", _secret_fix(exc))]
    except BotoCoreError as exc:  # no answer: a timeout, no network
        return {}, [Problem(f"secret {secret_id}: {exc}", "check the network, then run again")]
    values = _json_strings(raw)
    if values is None:
        return {}, [
            Problem(
                f"secret {secret_id} is not a JSON object of strings",
                f"store {{{', '.join(f'{key!r}: ...' for key in SECRET_KEYS)}}}",
            )
        ]
    return values, list(_secret_value_problems(values, secret_id))


def _secret_value_problems(values: Mapping[str, str], secret_id: str) -> Iterator[Problem]:
    missing = [key for key in SECRET_KEYS if key not in values]
    if missing:
        yield Problem(
            f"secret {secret_id} lacks {', '.join(missing)}",
            "add each key (store an empty string for one you do not use)",
        )
    if "DATABASE_URL" not in values:
        return
    if not values["DATABASE_URL"].strip():
        yield Problem(
            f"secret {secret_id}: DATABASE_URL is empty",
            "store the Neon pooled connection string under DATABASE_URL",
        )
        return
    yield from url_problems(values, where=f" in secret {secret_id}")


def _secret_fix(exc: ClientError) -> str:
    code = exc.response.get("Error", {}).get("Code", "")
    if code == "ResourceNotFoundException":
        return (
            f"create it (README: Secrets) or set {SECRET_ENV} to the name or ARN of the "
            "stage's secret, in the region you deploy to"
        )
    if code in ("AccessDeniedException", "AccessDenied"):
        return "allow secretsmanager:GetSecretValue on it (infra/deploy/deployer-policy.json)"
    return "check the secret's name and region, then run again"


def _json_strings(raw: str) -> dict[str, str] | None:
    try:
        values = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(values, dict) or not all(isinstance(v, str) for v in values.values()):
        return None
    return values


def _has(values: Mapping[str, str], name: str) -> bool:
    return bool(values.get(name, "").strip())


def client_error(exc: ClientError) -> str:
    """An AWS error as ``Code: message`` (the message names no secret value), one line."""
    error = exc.response.get("Error", {})
    message = " ".join(str(error.get("Message", exc)).split())
    cut = message if len(message) <= _MESSAGE_CHARS else message[: _MESSAGE_CHARS - 3] + "..."
    return f"{error.get('Code', 'Error')}: {cut}"


_MESSAGE_CHARS = 200


def refuse(problems: list[Problem]) -> None:
    """DeployError naming every problem (and its fix), when there is any."""
    if problems:
        listed = "; ".join(f"{p.what} ({p.fix})" for p in problems)
        raise DeployError(f"{listed}; {NOTHING_DEPLOYED}")


def check_environment(env: Mapping[str, str]) -> None:
    """Refuse to deploy without a usable DATABASE_URL (the message never shows a password)."""
    refuse(environment_problems(env))
