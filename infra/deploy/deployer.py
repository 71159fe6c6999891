"""Deploy a stage, then run its migrate and verify functions; fail loudly if any step fails.

    python -m infra.deploy.deployer deploy --stage prod [--region R] [--ssm-prefix /todo-api/prod]
                                  [-- EXTRA CLI ARGS, e.g. --param snapStart=true]
    python -m infra.deploy.deployer jobs --stage prod [--region R]     # migrate + verify only

``deploy`` checks the environment first (DATABASE_URL present and well formed, so a
typo fails here rather than in Lambda), runs ``osls deploy`` (the pinned CLI in
node_modules unless ``--cli`` or $SLS names another), then invokes ``migrate`` and
``verify`` synchronously and prints their reports. A function error, a timeout or a
missing function ends the run with exit status 1 and the function's own error message
and log tail. So does any answer that is not a successful report: migrate must say it
reached the newest revision shipped (read from shared/jobs/migrations/versions), verify
must say ``ok`` with no problems; ``{}``, ``null`` or a string are failures too.
``--ssm-prefix`` fills settings the environment lacks from SSM Parameter Store
(``PREFIX/DATABASE_URL`` and so on, SecureString or String) at deploy time.

With ``DATABASE_URL_SECRET=<secret name or ARN>`` the secret settings (SECRET_KEYS) come
from that Secrets Manager secret instead: its JSON must hold every key, DATABASE_URL well
formed; the CLI gets ``--param secretsFrom=secretsmanager`` and none of those variables,
so the template carries only ``{{resolve:secretsmanager:...}}`` references.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shlex
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, cast

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ReadTimeoutError

from infra import ROOT
from shared.core.errors import ConfigurationError
from shared.db.url import parse_database_url

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_lambda.type_defs import InvocationResponseTypeDef
    from mypy_boto3_ssm import SSMClient


SERVICE = "todo-api"  # serverless.yml's `service`; functions are SERVICE-STAGE-NAME
JOBS = ("migrate", "verify")
# What a successful migrate report says it did.
MIGRATE_ACTIONS = ("upgraded", "up-to-date")
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
# Lambda runs an invocation for at most 900 s: waiting longer than that means the
# answer was lost, and a second attempt would run the migration twice, so never retry.
READ_TIMEOUT = 960
INVOKE_CONFIG = Config(
    read_timeout=READ_TIMEOUT,
    connect_timeout=10,
    retries={"total_max_attempts": 1, "mode": "standard"},
)
LOG_TAIL_LINES = 20
# The variable naming the stage's secret, and the keys serverless.yml's custom.secrets
# resolves from it (the template test checks they agree).
SECRET_ENV = "DATABASE_URL_SECRET"  # noqa: S105 (a variable name, not a secret)
SECRET_KEYS = ("DATABASE_URL", "DATABASE_URL_DIRECT", "BETTER_AUTH_SECRET")
SECRET_MODE_ARGS = ("--param", "secretsFrom=secretsmanager")


class SecretReader(Protocol):
    """The one Secrets Manager call the deploy makes (boto3's client has it)."""

    def get_secret_value(self, *, SecretId: str) -> Mapping[str, Any]: ...  # noqa: N803 (boto3)


class DeployError(Exception):
    """A step failed; the message says which and why."""


class JobFailed(DeployError):
    """A job function raised: the message carries its error and log tail."""


class JobTimedOut(JobFailed):
    """A job ran out of time, in Lambda or while we waited for its answer."""


class FunctionMissing(DeployError):
    """The job's function does not exist in that account, region and stage."""


class ReportRejected(DeployError):
    """A job answered, but its answer does not show that it succeeded."""


@dataclass(frozen=True)
class Target:
    """Where the stage lives."""

    stage: str
    region: str


def function_name(stage: str, job: str) -> str:
    """The deployed name of one of serverless.yml's functions."""
    return f"{SERVICE}-{stage}-{job}"


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


def check_environment(env: Mapping[str, str]) -> None:
    """Refuse to deploy without a usable DATABASE_URL (the message never shows a password)."""
    if not env.get("DATABASE_URL", "").strip():
        raise DeployError(
            "DATABASE_URL is not set: export the Neon pooled connection string "
            f"(or pass --ssm-prefix, or name a Secrets Manager secret in {SECRET_ENV}); "
            "nothing was deployed"
        )
    _check_urls(env)


def _check_urls(values: Mapping[str, str], where: str = "") -> None:
    try:
        parse_database_url(values["DATABASE_URL"], name=f"DATABASE_URL{where}")
        if values.get("DATABASE_URL_DIRECT", "").strip():
            parse_database_url(values["DATABASE_URL_DIRECT"], name=f"DATABASE_URL_DIRECT{where}")
    except ConfigurationError as exc:
        raise DeployError(f"{exc}; nothing was deployed") from None


def check_secret(client: SecretReader, secret_id: str) -> None:
    """Refuse a secret that lacks a key the template resolves or holds a malformed URL.

    CloudFormation would fail the stack half-way with "Could not find a value associated
    with JSONKey"; here it fails first, naming the key. No value is ever shown.
    """
    try:
        raw = client.get_secret_value(SecretId=secret_id).get("SecretString", "")
    except ClientError as exc:
        raise DeployError(
            f"secret {secret_id}: {_client_error(exc)}; nothing was deployed"
        ) from None
    try:
        values = json.loads(raw)
    except ValueError:
        values = None
    if not isinstance(values, dict) or not all(isinstance(v, str) for v in values.values()):
        raise DeployError(
            f"secret {secret_id} is not a JSON object of strings; nothing was deployed"
        )
    missing = [key for key in SECRET_KEYS if key not in values]
    if missing:
        raise DeployError(
            f"secret {secret_id} lacks {', '.join(missing)} (store an empty string for one you "
            "do not use); nothing was deployed"
        )
    if not values["DATABASE_URL"].strip():
        raise DeployError(f"secret {secret_id}: DATABASE_URL is empty; nothing was deployed")
    _check_urls(values, where=f" in secret {secret_id}")


def without_secrets(env: Mapping[str, str]) -> dict[str, str]:
    """``env`` minus the secret settings: in secret mode the CLI must never see them."""
    return {name: value for name, value in env.items() if name not in SECRET_KEYS}


def run_cli(
    cli: Sequence[str], target: Target, env: Mapping[str, str], extra: Sequence[str] = ()
) -> None:
    """``osls deploy`` for the stage, its output streamed to ours."""
    command = [*cli, "deploy", "--stage", target.stage, "--region", target.region, *extra]
    print(f"deploy: {shlex.join(command)}", flush=True)
    try:
        code = subprocess.run(command, cwd=ROOT, env=dict(env), check=False).returncode
    except FileNotFoundError:
        raise DeployError(f"{cli[0]} not found: run `npm ci` (or pass --cli)") from None
    if code != 0:
        raise DeployError(f"`{shlex.join(command)}` failed with exit status {code}")


def invoke_job(client: LambdaClient, name: str) -> Any:
    """Run one job function synchronously; its JSON result, or an error saying why not."""
    _require_function(client, name)
    try:
        response = client.invoke(
            FunctionName=name, InvocationType="RequestResponse", LogType="Tail", Payload=b"{}"
        )
    except ReadTimeoutError:
        raise JobTimedOut(
            f"{name}: no answer within {READ_TIMEOUT} s; it may still be "
            f"running: see `aws logs tail /aws/lambda/{name}`"
        ) from None
    except ClientError as exc:
        raise DeployError(f"{name}: invoke failed: {_client_error(exc)}") from None
    return interpret(name, response)


def _require_function(client: LambdaClient, name: str) -> None:
    try:
        client.get_function_configuration(FunctionName=name)
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ResourceNotFoundException":
            raise FunctionMissing(
                f"{name} does not exist in {client.meta.region_name}: was this stage "
                "deployed there (check --stage and --region)?"
            ) from None
        raise DeployError(f"{name}: {_client_error(exc)}") from None


def _client_error(exc: ClientError) -> str:
    error = exc.response.get("Error", {})
    return f"{error.get('Code', 'Error')}: {error.get('Message', exc)}"


def interpret(name: str, response: InvocationResponseTypeDef) -> Any:
    """The job's result from an Invoke response, or JobFailed / JobTimedOut."""
    payload = _json(response["Payload"].read())
    if "FunctionError" not in response and response.get("StatusCode") == 200:
        return payload
    error = payload if isinstance(payload, dict) else {"errorMessage": str(payload)}
    kind = str(error.get("errorType", response.get("FunctionError", "Error")))
    message = str(error.get("errorMessage", "no error message"))
    details = "\n".join(_details(error, str(response.get("LogResult", ""))))
    if kind == "Sandbox.Timedout" or "Task timed out" in message:
        raise JobTimedOut(f"{name} timed out: {message}{details}")
    raise JobFailed(f"{name} failed: {kind}: {message}{details}")


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return raw.decode(errors="replace")


def _details(error: Mapping[str, Any], log_result: str) -> Iterator[str]:
    trace = error.get("stackTrace") or []
    if trace:
        yield "\n--- stack trace ---"
        yield from (str(frame).rstrip() for frame in trace)
    tail = base64.b64decode(log_result).decode(errors="replace") if log_result else ""
    if tail:
        yield f"\n--- last {LOG_TAIL_LINES} log lines ---"
        yield from tail.splitlines()[-LOG_TAIL_LINES:]


def head_revision() -> str:
    """The newest Alembic revision this checkout ships (what migrate must reach)."""
    from alembic.script import ScriptDirectory

    from shared.jobs.migrate import MIGRATIONS_DIR

    heads = ScriptDirectory(str(MIGRATIONS_DIR)).get_heads()
    if len(heads) != 1:
        raise DeployError(f"{MIGRATIONS_DIR} must have exactly one head revision, not {heads}")
    return heads[0]


def check_report(job: str, name: str, report: Any, head: str) -> str:
    """A one-line summary of a job's report, or ReportRejected (``head``: see head_revision)."""
    if job == "migrate":
        return check_migrated(name, report, head)
    return check_verified(name, report)


def check_migrated(name: str, report: Any, head: str) -> str:
    """What migrate did, or ReportRejected unless it says the database is at ``head``."""
    fields = _report_fields(name, report, "a migration report", ("action", "after"))
    if fields["action"] not in MIGRATE_ACTIONS:
        raise ReportRejected(
            f"{name} reported action {fields['action']!r}, not upgraded/up-to-date"
        )
    if fields["after"] != head:
        raise ReportRejected(
            f"{name} left the database at revision {fields['after']!r}, but the newest "
            f"revision shipped is {head!r}"
        )
    return f"{fields['action']}, at revision {head}"


def check_verified(name: str, report: Any) -> str:
    """A summary, or ReportRejected unless verify says ok with no problems."""
    fields = _report_fields(name, report, "a verify report", ("ok", "problems"))
    problems = fields["problems"]
    if not isinstance(problems, list):
        raise ReportRejected(f"{name} reported problems as {_describe(problems)}, not a list")
    if problems:
        raise ReportRejected(f"{name} found the schema differs from the spec: {problems}")
    if fields["ok"] is not True:
        raise ReportRejected(f"{name} reported ok={fields['ok']!r} with no problems listed")
    return "schema matches the spec"


def _report_fields(name: str, report: Any, kind: str, keys: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(report, dict):
        raise ReportRejected(f"{name} answered {_describe(report)}, not {kind}")
    missing = [key for key in keys if key not in report]
    if missing:
        raise ReportRejected(
            f"{name} answered {_describe(report)}, without {', '.join(missing)}: not {kind}"
        )
    return {key: report[key] for key in keys}


def _describe(value: Any) -> str:
    shown = json.dumps(value, default=str)
    return shown if len(shown) <= 80 else shown[:77] + "..."


def run_jobs(client: LambdaClient, target: Target) -> None:
    """migrate, then verify (only once migrate succeeded), each report printed and checked."""
    head = head_revision()
    for job in JOBS:
        name = function_name(target.stage, job)
        print(f"deploy: invoking {name}", flush=True)
        result = invoke_job(client, name)
        print(json.dumps(result, indent=2, default=str), flush=True)
        print(f"deploy: {name}: {check_report(job, name, result, head)}", flush=True)
    print(f"deploy: stage {target.stage} migrated and verified", flush=True)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Options before ``--``; whatever follows goes to the CLI's ``deploy`` unchanged."""
    words = list(sys.argv[1:] if argv is None else argv)
    cut = words.index("--") if "--" in words else len(words)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("deploy", "jobs"))
    parser.add_argument("--stage", required=True)
    parser.add_argument("--region", default=os.environ.get("AWS_REGION", DEFAULT_REGION))
    parser.add_argument("--ssm-prefix", help="read missing settings from SSM under this path")
    parser.add_argument("--cli", help="the Serverless CLI command (default: pinned osls)")
    args = parser.parse_args(words[:cut])
    args.cli_args = words[cut + 1 :]
    return args


def default_cli() -> list[str]:
    """$SLS if set (e.g. `serverless`), else the osls that package-lock.json pins."""
    return shlex.split(os.environ.get("SLS", "")) or [str(ROOT / "node_modules" / ".bin" / "osls")]


def deploy(args: argparse.Namespace, target: Target) -> None:
    """Check the environment, deploy, migrate, verify."""
    env = dict(os.environ)
    secret_id = env.get(SECRET_ENV, "").strip()
    if args.ssm_prefix:
        ssm = boto3.client("ssm", region_name=target.region)
        loaded = settings_from_ssm(ssm, args.ssm_prefix, env)
        print(f"deploy: from SSM {args.ssm_prefix}: {', '.join(sorted(loaded)) or 'nothing'}")
        env.update(loaded)
    extra = list(args.cli_args)
    if secret_id:
        reader = cast(SecretReader, boto3.client("secretsmanager", region_name=target.region))
        check_secret(reader, secret_id)
        print(f"deploy: {', '.join(SECRET_KEYS)} from Secrets Manager secret {secret_id}")
        env, extra = without_secrets(env), [*SECRET_MODE_ARGS, *extra]
    else:
        check_environment(env)
    cli = shlex.split(args.cli) if args.cli else default_cli()
    run_cli(cli, target, env, extra)
    run_jobs(boto3.client("lambda", region_name=target.region, config=INVOKE_CONFIG), target)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    target = Target(args.stage, args.region)
    try:
        if args.command == "deploy":
            deploy(args, target)
        else:
            client = boto3.client("lambda", region_name=target.region, config=INVOKE_CONFIG)
            run_jobs(client, target)
    except (DeployError, BotoCoreError, ClientError) as exc:
        print(f"deploy: FAILED: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
