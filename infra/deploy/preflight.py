"""Can this stage be deployed from here, now? Read-only checks that answer in seconds.

    python -m infra.deploy.preflight --stage prod [--region R] [--ssm-prefix P] [-- DEPLOY ARGS]

`make preflight STAGE=...` runs it, and `make deploy` (infra/deploy/deployer.py) runs it
before anything is packaged: without it a missing credential surfaced only after 34-43 s
of packaging, and a short concurrency quota only half-way through CloudFormation.

1. Credentials and region: STS GetCallerIdentity in the stage's region.
2. Settings, where the deploy takes them from: the Secrets Manager secret named in
   DATABASE_URL_SECRET, else the exported variables filled from SSM under --ssm-prefix.
   DATABASE_URL must be a well-formed URL (shared/db/url.py) of Neon's pooled endpoint.
3. Concurrency: what the stage reserves (serverless.yml's reservedConcurrency per function,
   with its params and any --param) against Lambda GetAccountSettings, keeping the
   minimum Lambda leaves unreserved.
4. The stack and its deployment bucket: a stack CloudFormation cannot update, and a
   bucket the deploy cannot list (the layer upload's HeadObject then gets 403, not 404).

Every problem is listed, each with its fix; nothing is created or changed.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, ProfileNotFound

from infra.deploy import concurrency
from infra.deploy.stage import (
    DEFAULT_REGION,
    NOTHING_DEPLOYED,
    SECRET_ENV,
    SERVICE,
    DeployError,
    Problem,
    client_error,
    environment_problems,
    neon_problems,
    neon_region,
    secret_problems,
    settings_from_ssm,
    stack_name,
)

# No retries and short timeouts: at most three rounds of calls follow one another (STS;
# then the settings, the account and the stack at once; then the bucket and the stage's
# current reservations at once), each under 2 + 3 s, so a silent endpoint costs < 15 s.
CONFIG = Config(connect_timeout=2, read_timeout=3, retries={"total_max_attempts": 1})
POLICY = "infra/deploy/deployer-policy.json"
# A stack in one of these cannot be updated until someone acts.
_STUCK = {
    "ROLLBACK_COMPLETE": "a failed first deploy leaves a stack CloudFormation cannot update",
    "ROLLBACK_FAILED": "its first deploy failed and so did the rollback",
    "DELETE_FAILED": "an earlier remove failed half-way",
    "UPDATE_ROLLBACK_FAILED": "an update failed and so did its rollback",
}
_DENIED = ("AccessDenied", "AccessDeniedException", "UnauthorizedOperation")


@dataclass(frozen=True)
class Request:
    """What is about to be deployed, from where."""

    stage: str
    region: str
    env: Mapping[str, str]
    ssm_prefix: str | None = None
    cli_args: Sequence[str] = ()


@dataclass
class Report:
    """What the checks found: lines that passed, problems, and the settings to deploy."""

    passed: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # worth knowing, not in the way
    problems: list[Problem] = field(default_factory=list)
    settings: dict[str, str] = field(default_factory=dict)

    def add(self, passed: str | None = None, problems: Sequence[Problem] = ()) -> None:
        if passed is not None and not problems:
            self.passed.append(passed)
        self.problems.extend(problems)


@dataclass(frozen=True)
class Stack:
    """The stage's stack as DescribeStacks shows it."""

    status: str
    outputs: dict[str, str]


def run(request: Request) -> Report:
    """Every check that can run; problems from all of them, not just the first."""
    report = Report(settings=dict(request.env))
    known = _known_region(request.region, report)
    identity = _identity(request.region, report) if known else None
    if identity is None:  # nothing more to ask AWS; exported settings are checked offline
        if _env_mode(request):
            report.add(problems=environment_problems(request.env) + neon_problems(request.env))
        return report
    report.add(f"credentials: account {identity['Account']} as {identity['Arn']}")
    clients = {name: _client(name, request.region) for name in _SERVICES}
    with ThreadPoolExecutor(max_workers=3) as pool:
        settings = pool.submit(_settings, request, clients)
        account = pool.submit(_call, clients["lambda"].get_account_settings)
        stack = _call(lambda: _stack(clients["cloudformation"], request.stage))
        bucket = pool.submit(stack_and_bucket, clients["s3"], request.stage, stack)
        _merge(report, settings.result())
        report.add(*_concurrency(request, clients["lambda"], account.result(), stack))
        report.add(*bucket.result())
    return report


def _concurrency(
    request: Request, client: Any, account: Any, stack: Any
) -> tuple[str | None, list[Problem]]:
    if isinstance(account, ClientError | BotoCoreError):
        return None, [aws_problem("lambda:GetAccountSettings", account)]
    wanted = concurrency.reserved(request.stage, request.env, request.cli_args)
    if not isinstance(stack, Stack):  # not deployed (or unreadable): it holds nothing yet
        return concurrency.check(account, wanted, {})
    try:
        holding = concurrency.held(client, request.stage, wanted)
    except (ClientError, BotoCoreError) as exc:
        return None, [aws_problem("lambda:GetFunctionConcurrency", exc)]
    return concurrency.check(account, wanted, holding)


_SERVICES = ("lambda", "cloudformation", "s3", "secretsmanager", "ssm")


def _client(service: str, region: str) -> Any:
    make: Callable[..., Any] = boto3.client  # typed per service name; any service goes here
    return make(service, region_name=region, config=CONFIG)


def _env_mode(request: Request) -> bool:
    """Settings exported (not from a secret or SSM): checkable without AWS."""
    return not request.env.get(SECRET_ENV, "").strip() and not request.ssm_prefix


def _known_region(region: str, report: Report) -> bool:
    session = boto3.session.Session()
    known = {
        name
        for partition in session.get_available_partitions()
        for name in session.get_available_regions("lambda", partition_name=partition)
    }
    if region in known:
        return True
    report.add(
        problems=[
            Problem(
                f"region {region!r} is not one Lambda runs in",
                "pass REGION=<region> (make) or --region, or export AWS_REGION, e.g. us-east-1",
            )
        ]
    )
    return False


def _identity(region: str, report: Report) -> dict[str, str] | None:
    """Who the deploy runs as, or None with the problem named."""
    try:
        reply = _client("sts", region).get_caller_identity()
    except NoCredentialsError:
        report.add(problems=[_NO_CREDENTIALS])
    except ProfileNotFound as exc:
        report.add(problems=[Problem(str(exc), "name a profile from ~/.aws/config in AWS_PROFILE")])
    except ClientError as exc:
        report.add(problems=[Problem(f"AWS rejected the credentials: {client_error(exc)}", _RENEW)])
    except BotoCoreError as exc:
        report.add(problems=[Problem(f"STS in {region}: {exc}", _UNREACHABLE)])
    else:
        return {"Account": str(reply["Account"]), "Arn": str(reply["Arn"])}
    return None


_NO_CREDENTIALS = Problem(
    "AWS provider credentials not found",
    "export AWS_PROFILE=<profile> (after `aws configure` or `aws sso login`), or "
    "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, for a user with "
    f"{POLICY} attached (docs/operations.md)",
)
_RENEW = "renew them (`aws sso login`, or new access keys) and check AWS_PROFILE"
_UNREACHABLE = "check the network (a proxy?) and the region, then run again"


def _settings(request: Request, clients: Mapping[str, Any]) -> Report:
    """Where the deploy takes DATABASE_URL from, and whether CloudFormation can use it."""
    found = Report(settings=dict(request.env))
    secret_id = request.env.get(SECRET_ENV, "").strip()
    prefix = request.ssm_prefix
    if prefix:
        _load_ssm(clients["ssm"], prefix, found)
    if secret_id:
        values, problems = secret_problems(clients["secretsmanager"], secret_id)
        problems += neon_problems(values, where=f" in secret {secret_id}")
        origin = f"secret {secret_id}"
    elif prefix and not found.settings.get("DATABASE_URL", "").strip():
        values, problems = found.settings, [_not_in_ssm(prefix.rstrip("/"), request.region)]
        origin = ""
    else:
        values, problems = found.settings, environment_problems(found.settings)
        problems += neon_problems(values)
        origin = "the environment" + (f" and SSM {prefix}" if prefix else "")
    found.add(f"settings: DATABASE_URL from {origin}: Neon's pooler", problems)
    _note_region(values, request.region, found)
    return found


def _not_in_ssm(prefix: str, region: str) -> Problem:
    return Problem(
        f"DATABASE_URL is neither exported nor in SSM as {prefix}/DATABASE_URL ({region})",
        f"aws ssm put-parameter --region {region} --type SecureString "
        f"--name {prefix}/DATABASE_URL --value '<Neon pooled connection string>'",
    )


def _load_ssm(ssm: Any, prefix: str, found: Report) -> None:
    try:
        loaded = settings_from_ssm(ssm, prefix, found.settings)
    except ClientError as exc:
        found.add(problems=[Problem(f"SSM {prefix}: {client_error(exc)}", _ssm_fix(exc))])
    except BotoCoreError as exc:
        found.add(problems=[Problem(f"SSM {prefix}: {exc}", _UNREACHABLE)])
    else:  # names only: the values are secrets
        found.settings.update(loaded)
        found.add(f"SSM {prefix}: {', '.join(sorted(loaded)) or 'nothing the environment lacks'}")


def _ssm_fix(exc: ClientError) -> str:
    if exc.response.get("Error", {}).get("Code") in _DENIED:
        return f"allow ssm:GetParameters on the prefix ({POLICY})"
    return "check the prefix and the region, then run again"


def _note_region(values: Mapping[str, str], region: str, found: Report) -> None:
    neon = neon_region(values)
    if neon is not None and neon != region:
        found.notes.append(
            f"Neon's endpoint is in {neon}, the stage deploys to {region}: every query "
            f"crosses regions (REGION={neon} avoids it)"
        )


def _merge(report: Report, other: Report) -> None:
    report.passed.extend(other.passed)
    report.notes.extend(other.notes)
    report.problems.extend(other.problems)
    report.settings = other.settings


def _call(method: Callable[[], Any]) -> Any:
    """``method()``'s answer, or the error it raised (the caller names the problem)."""
    try:
        return method()
    except (ClientError, BotoCoreError) as exc:
        return exc


def aws_problem(action: str, exc: ClientError | BotoCoreError) -> Problem:
    """A failed read-only call as a problem: denied (fix the policy), or unanswered."""
    if isinstance(exc, ClientError):
        if exc.response.get("Error", {}).get("Code") in _DENIED:
            return Problem(f"{action} denied: {client_error(exc)}", f"attach {POLICY}")
        return Problem(f"{action}: {client_error(exc)}", "run again; if it persists, check it")
    return Problem(f"{action}: {exc}", _UNREACHABLE)


def _stack(cloudformation: Any, stage: str) -> Stack | None:
    """The stage's stack, or None when it does not exist (other errors are raised)."""
    try:
        reply = cloudformation.describe_stacks(StackName=stack_name(stage))
    except ClientError as exc:
        if "does not exist" in str(exc.response.get("Error", {}).get("Message", "")):
            return None
        raise
    stack = reply["Stacks"][0]
    outputs = {o["OutputKey"]: o.get("OutputValue", "") for o in stack.get("Outputs", [])}
    return Stack(stack["StackStatus"], outputs)


def stack_and_bucket(s3: Any, stage: str, stack: Any) -> tuple[str | None, list[Problem]]:
    """The stack's state and its deployment bucket, listable by the deploy."""
    name = stack_name(stage)
    if isinstance(stack, ClientError | BotoCoreError):
        return None, [aws_problem("cloudformation:DescribeStacks", stack)]
    if stack is None:
        return f"stack: {name} does not exist yet: the deploy creates it and its bucket", []
    if stack.status in _STUCK:
        return None, [_stuck(name, stack.status)]
    if stack.status.endswith("_IN_PROGRESS"):
        fix = f"wait for it to finish: aws cloudformation describe-stacks --stack-name {name}"
        return None, [
            Problem(f"stack {name} is {stack.status}: something else is changing it", fix)
        ]
    bucket = stack.outputs.get("ServerlessDeploymentBucketName")
    if not bucket:
        return f"stack: {name} is {stack.status}; osls will add its deployment bucket", []
    return _listable(s3, bucket, stage)


def _stuck(name: str, status: str) -> Problem:
    if status == "UPDATE_ROLLBACK_FAILED":
        fix = f"aws cloudformation continue-update-rollback --stack-name {name}, then deploy"
    else:
        fix = f"delete it (make remove STAGE={name.removeprefix(SERVICE + '-')}), then deploy"
    return Problem(f"stack {name} is {status}: {_STUCK[status]}", fix)


def _listable(s3: Any, bucket: str, stage: str) -> tuple[str | None, list[Problem]]:
    prefix = f"serverless/{SERVICE}/{stage}/"
    try:
        s3.list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=1)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code")
        if code == "NoSuchBucket":
            fix = f"it was deleted by hand: make remove STAGE={stage}, then deploy again"
            return None, [Problem(f"deployment bucket {bucket} no longer exists", fix)]
        problem = aws_problem(f"s3:ListBucket on {bucket}", exc)
        return None, [problem]
    except BotoCoreError as exc:
        return None, [aws_problem(f"s3:ListBucket on {bucket}", exc)]
    return f"bucket: {bucket} is listable", []


def render(report: Report) -> tuple[str, str]:
    """What passed (stdout) and the problems with their fixes (stderr)."""
    passed = "\n".join(
        [f"  ok    {line}" for line in report.passed] + [f"  note  {line}" for line in report.notes]
    )
    if not report.problems:
        return passed, ""
    listed = "\n".join(f"  {n}. {problem}" for n, problem in enumerate(report.problems, 1))
    return passed, f"preflight: {_count(report.problems)}, each with its fix:\n{listed}"


def _count(problems: Sequence[Problem]) -> str:
    return f"{len(problems)} problem{'s' if len(problems) > 1 else ''}"


def refuse(report: Report) -> None:
    """Print the problems and raise DeployError, when there is any."""
    passed, problems = render(report)
    if passed:
        print(passed, flush=True)
    if problems:
        print(problems, file=sys.stderr, flush=True)
        raise DeployError(f"preflight: {_count(report.problems)} (above); {NOTHING_DEPLOYED}")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Options before ``--``; what follows is what `make deploy` would hand the CLI."""
    words = list(sys.argv[1:] if argv is None else argv)
    cut = words.index("--") if "--" in words else len(words)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", required=True)
    parser.add_argument("--region", default=os.environ.get("AWS_REGION", DEFAULT_REGION))
    parser.add_argument("--ssm-prefix", help="settings the environment lacks come from SSM")
    args = parser.parse_args(words[:cut])
    args.cli_args = words[cut + 1 :]
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    request = Request(args.stage, args.region, dict(os.environ), args.ssm_prefix, args.cli_args)
    print(f"preflight: stage {request.stage} in {request.region}", flush=True)
    try:
        refuse(run(request))
    except DeployError:
        return 1
    print(f"preflight: stage {request.stage} is ready to deploy")
    return 0


if __name__ == "__main__":
    sys.exit(main())
