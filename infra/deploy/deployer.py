"""Deploy a stage, then run its migrate and verify functions; fail loudly if any step fails.

    python -m infra.deploy.deployer deploy --stage prod [--region R] [--ssm-prefix /todo-api/prod]
                                  [-- EXTRA CLI ARGS, e.g. --param snapStart=true]
    python -m infra.deploy.deployer jobs --stage prod [--region R]     # migrate + verify only

``deploy`` runs the preflight first (infra/deploy/preflight.py: credentials, region,
settings, concurrency, the stack and its bucket; every problem listed with its fix, in
seconds, before anything is packaged), then ``osls deploy`` (the pinned CLI in
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
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ReadTimeoutError

from infra import ROOT
from infra.deploy import preflight

# The stage's names and errors, as callers of the deploy have always imported them.
from infra.deploy.stage import DEFAULT_REGION as DEFAULT_REGION
from infra.deploy.stage import SECRET_ENV as SECRET_ENV
from infra.deploy.stage import SECRET_KEYS as SECRET_KEYS
from infra.deploy.stage import DeployError as DeployError
from infra.deploy.stage import client_error
from infra.deploy.stage import function_name as function_name

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_lambda.type_defs import InvocationResponseTypeDef


JOBS = ("migrate", "verify")
# What a successful migrate report says it did.
MIGRATE_ACTIONS = ("upgraded", "up-to-date")
# Lambda runs an invocation for at most 900 s: waiting longer than that means the
# answer was lost, and a second attempt would run the migration twice, so never retry.
READ_TIMEOUT = 960
INVOKE_CONFIG = Config(
    read_timeout=READ_TIMEOUT,
    connect_timeout=10,
    retries={"total_max_attempts": 1, "mode": "standard"},
)
LOG_TAIL_LINES = 20
SECRET_MODE_ARGS = ("--param", "secretsFrom=secretsmanager")


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
        raise DeployError(f"{name}: invoke failed: {client_error(exc)}") from None
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
        raise DeployError(f"{name}: {client_error(exc)}") from None


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
    """Preflight (infra/deploy/preflight.py), deploy, migrate, verify."""
    env = dict(os.environ)
    request = preflight.Request(target.stage, target.region, env, args.ssm_prefix, args.cli_args)
    print(f"deploy: preflight of stage {target.stage} in {target.region}", flush=True)
    report = preflight.run(request)
    preflight.refuse(report)
    env, extra = report.settings, list(args.cli_args)
    if env.get(SECRET_ENV, "").strip():
        print(f"deploy: {', '.join(SECRET_KEYS)} from Secrets Manager secret {env[SECRET_ENV]}")
        env, extra = without_secrets(env), [*SECRET_MODE_ARGS, *extra]
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
