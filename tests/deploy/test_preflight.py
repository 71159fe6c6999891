"""`make preflight` (infra/deploy/preflight.py): every problem a first real deploy met, named
with its fix, in seconds, before anything is packaged.

AWS is moto in-process (``moto_account``), except where the test runs the command itself
or needs an endpoint that never answers. moto does not model Lambda GetAccountSettings:
tests/support/lambda_account.py answers it from a quota the test sets, less what moto's
functions reserve, so the concurrency check meets the numbers Lambda would give it.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest

from infra.deploy import concurrency, preflight
from infra.deploy.rehearse import moto_server
from infra.deploy.stage import SECRET_ENV, Problem
from infra.serverless import routes
from infra.serverless.function_env import variables
from tests.support.commands import run_module
from tests.support.lambda_account import LambdaAccount
from tests.support.stage_aws import (
    DIRECT,
    ELSEWHERE,
    PASSWORD,
    POOLED,
    REGION,
    create_functions,
    deploy_stack,
    dummy_credentials,
    put_secret,
    silent_endpoint,
)

STAGE = "dev"
SECRET = "todo-api/dev"
# The brief's bound for the whole preflight, even when AWS never answers.
BUDGET_SECONDS = 15


def http_functions() -> list[str]:
    """The functions that reserve concurrency: every one API Gateway invokes."""
    return [fn.name for fn in routes.functions() if not fn.is_job]


def api_concurrency(stage: str) -> int:
    return int(variables(stage, env={}).resolve("${param:apiConcurrency}"))


def request(
    env: dict[str, str], *cli_args: str, ssm_prefix: str | None = None
) -> preflight.Request:
    return preflight.Request(STAGE, REGION, env, ssm_prefix, cli_args)


def secret_env() -> dict[str, str]:
    return {SECRET_ENV: SECRET}


def whats(problems: list[Problem]) -> str:
    return "\n".join(str(problem) for problem in problems)


def timed_run(
    module: str, env: dict[str, str], *args: str
) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    result = run_module(module, *args, env=env)
    return result, time.monotonic() - started


def test_without_credentials_it_says_so_in_seconds_with_every_other_problem(
    no_aws: dict[str, str],
) -> None:
    # GIVEN no AWS credentials anywhere, and a DATABASE_URL that is not Neon's pooler
    env = {**no_aws, "DATABASE_URL": ELSEWHERE}
    # WHEN `make preflight` runs
    result, seconds = timed_run("infra.deploy.preflight", env, "--stage", STAGE)
    # THEN it fails in seconds (not after 34-43 s of packaging), naming both problems
    # with their fixes and never the password
    assert result.returncode == 1
    assert seconds < 5, f"preflight took {seconds:.1f} s"
    assert "1. AWS provider credentials not found" in result.stderr
    assert "fix: export AWS_PROFILE=" in result.stderr
    assert "2. DATABASE_URL points at db.example.com, not at a Neon endpoint" in result.stderr
    assert PASSWORD not in result.stdout + result.stderr


def test_deploy_without_credentials_stops_before_packaging(
    no_aws: dict[str, str], tmp_path: Path
) -> None:
    # GIVEN no AWS credentials, a well-formed DATABASE_URL, and a CLI that records a run
    record = tmp_path / "cli-ran"
    cli = f"{sys.executable} -c \"open('{record}', 'w')\""
    env = {**no_aws, "DATABASE_URL": POOLED}
    # WHEN `make deploy` runs
    args = ["deploy", "--stage", STAGE, "--region", REGION, "--cli", cli]
    result, seconds = timed_run("infra.deploy.deployer", env, *args)
    # THEN the preflight stopped it in seconds: nothing was packaged or deployed
    assert result.returncode == 1
    assert seconds < 5, f"deploy took {seconds:.1f} s to fail"
    assert "AWS provider credentials not found" in result.stderr
    assert "nothing was deployed" in result.stderr
    assert not record.exists()


def test_a_stage_in_order_passes(moto_account: LambdaAccount) -> None:
    # GIVEN a deployed stage, its secret holding Neon's pooled URL, and Lambda's default quota
    put_secret(SECRET, DATABASE_URL=POOLED, DATABASE_URL_DIRECT=DIRECT, BETTER_AUTH_SECRET="x" * 32)
    bucket = deploy_stack(STAGE)
    # WHEN the preflight runs
    report = preflight.run(request(secret_env()))
    # THEN nothing is wrong, and it says what it checked
    assert report.problems == []
    passed = "\n".join(report.passed)
    assert "credentials: account 123456789012" in passed
    assert f"settings: DATABASE_URL from secret {SECRET}: Neon's pooler" in passed
    reserved = len(http_functions()) * api_concurrency(STAGE)
    assert f"concurrency: the stage reserves {reserved} " in passed
    assert f"bucket: {bucket} is listable" in passed


def test_a_first_deploy_is_told_the_stack_will_be_created(moto_account: LambdaAccount) -> None:
    # GIVEN exported settings and no stack yet
    # WHEN the preflight runs
    report = preflight.run(request({"DATABASE_URL": POOLED}))
    # THEN it passes, saying the deploy creates the stack and its bucket
    assert report.problems == []
    assert any("todo-api-dev does not exist yet" in line for line in report.passed)


def test_a_missing_secret_is_named_with_its_fix(moto_account: LambdaAccount) -> None:
    # GIVEN DATABASE_URL_SECRET naming a secret that does not exist
    # WHEN the preflight runs
    report = preflight.run(request(secret_env()))
    # THEN the problem names the secret, Secrets Manager's answer and how to fix it
    assert len(report.problems) == 1
    problem = report.problems[0]
    assert problem.what.startswith(f"secret {SECRET}: ResourceNotFoundException")
    assert "create it" in problem.fix and SECRET_ENV in problem.fix


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (ELSEWHERE, "DATABASE_URL in secret todo-api/dev points at db.example.com, not at a Neon"),
        (DIRECT, "DATABASE_URL in secret todo-api/dev is Neon's direct endpoint"),
    ],
    ids=["another host", "neon direct endpoint"],
)
def test_a_secret_holding_a_url_that_is_not_neons_pooler_is_refused(
    moto_account: LambdaAccount, url: str, expected: str
) -> None:
    # GIVEN a secret whose DATABASE_URL is well formed, but not Neon's pooled endpoint
    put_secret(SECRET, DATABASE_URL=url, DATABASE_URL_DIRECT="", BETTER_AUTH_SECRET="")
    # WHEN the preflight runs
    report = preflight.run(request(secret_env()))
    # THEN it says so, with where to find the pooled string, never showing the password
    assert [p.what for p in report.problems] == [expected + _rest(expected, url)]
    assert "-pooler" in report.problems[0].fix
    assert PASSWORD not in whats(report.problems)


def _rest(expected: str, url: str) -> str:
    return (
        " endpoint"
        if url == ELSEWHERE
        else f" ({DIRECT.split('@')[1].split('/')[0]}), not its pooler"
    )


def test_every_problem_of_a_secret_is_listed(moto_account: LambdaAccount) -> None:
    # GIVEN a secret lacking a key and holding a malformed URL
    put_secret(
        SECRET, DATABASE_URL=POOLED.replace("postgresql", "postgresq"), DATABASE_URL_DIRECT=""
    )
    # WHEN the preflight runs
    report = preflight.run(request(secret_env()))
    # THEN both are named, not only the first
    listed = whats(report.problems)
    assert len(report.problems) == 2, listed
    assert "secret todo-api/dev lacks BETTER_AUTH_SECRET" in listed
    assert "DATABASE_URL in secret todo-api/dev must be a PostgreSQL URL" in listed


@pytest.mark.parametrize(
    ("quota", "fix"),
    [
        (110, "--param apiConcurrency=1"),  # 10 over Lambda's 100: one each for 9 functions
        (10, "no function can reserve any"),  # a new account's quota: nothing to reserve
    ],
    ids=["quota 110", "quota 10"],
)
def test_too_little_unreserved_concurrency_is_named_before_cloudformation_fails(
    moto_account: LambdaAccount, quota: int, fix: str
) -> None:
    # GIVEN an account whose quota cannot cover what stage dev reserves
    moto_account.quota = quota
    # WHEN the preflight runs
    report = preflight.run(request({"DATABASE_URL": POOLED}))
    # THEN the problem gives the numbers, and the fix says what to ask for or reserve
    assert len(report.problems) == 1, whats(report.problems)
    problem = report.problems[0]
    reserved = len(http_functions()) * api_concurrency(STAGE)
    assert problem.what.startswith(f"not enough Lambda concurrency: the stage reserves {reserved}")
    assert f"the account has {quota} unreserved of a quota of {quota}" in problem.what
    assert "Concurrent executions (L-B99A9384)" in problem.fix and fix in problem.fix


def test_a_redeploy_counts_the_concurrency_its_functions_already_hold(
    moto_account: LambdaAccount,
) -> None:
    # GIVEN a deployed stage whose functions hold their reservations, leaving exactly
    # Lambda's minimum of 100 unreserved
    share = api_concurrency(STAGE)
    create_functions(STAGE, dict.fromkeys(http_functions(), share))
    deploy_stack(STAGE)
    moto_account.quota = 100 + len(http_functions()) * share
    # WHEN the same reservations are deployed again, and then one more each
    same = preflight.run(request({"DATABASE_URL": POOLED}))
    more = preflight.run(
        request({"DATABASE_URL": POOLED}, "--param", f"apiConcurrency={share + 1}")
    )
    # THEN the same passes (nothing new is reserved) and more does not
    assert same.problems == []
    assert [p.what.split(":")[0] for p in more.problems] == ["not enough Lambda concurrency"]


def test_reservations_follow_the_stage_params_and_the_deploy_args() -> None:
    # GIVEN serverless.yml's params for dev and prod
    # WHEN the reservations are worked out, with and without --param
    dev = concurrency.reserved("dev", {})
    prod = concurrency.reserved("prod", {})
    raised = concurrency.reserved(
        "dev", {}, ["--param", "apiConcurrency=7", "--param=snapStart=true"]
    )
    # THEN every function API Gateway invokes reserves its stage's apiConcurrency
    assert dev == dict.fromkeys(http_functions(), api_concurrency("dev"))
    assert prod == dict.fromkeys(http_functions(), api_concurrency("prod"))
    assert raised == dict.fromkeys(http_functions(), 7)


def test_the_minimum_left_unreserved_is_lambdas() -> None:
    # GIVEN accounts with various quotas
    # WHEN the minimum Lambda keeps unreserved is worked out
    # THEN it is 100, or the whole quota below that (AWS: "minimum value of [50]" at 50)
    assert [concurrency.minimum_unreserved(q) for q in (10, 50, 100, 1000)] == [10, 50, 100, 100]


def test_a_deployment_bucket_deleted_by_hand_is_named(moto_account: LambdaAccount) -> None:
    # GIVEN a deployed stage whose deployment bucket was deleted outside CloudFormation
    bucket = deploy_stack(STAGE)
    boto3.client("s3", region_name=REGION).delete_bucket(Bucket=bucket)
    # WHEN the preflight runs
    report = preflight.run(request({"DATABASE_URL": POOLED}))
    # THEN it names the bucket and how to recover
    assert [p.what for p in report.problems] == [f"deployment bucket {bucket} no longer exists"]
    assert "make remove STAGE=dev" in report.problems[0].fix


@pytest.mark.parametrize(
    ("status", "fix"),
    [
        ("ROLLBACK_COMPLETE", "make remove STAGE=dev"),
        ("UPDATE_ROLLBACK_FAILED", "continue-update-rollback"),
        ("UPDATE_IN_PROGRESS", "wait for it to finish"),
    ],
)
def test_a_stack_cloudformation_cannot_update_is_named(status: str, fix: str) -> None:
    # GIVEN the stage's stack in a state a deploy cannot start from
    stack = preflight.Stack(status, {"ServerlessDeploymentBucketName": "unused"})
    # WHEN the stack and bucket check reads it
    passed, problems = preflight.stack_and_bucket(None, STAGE, stack)
    # THEN the problem names the state and what to do
    assert passed is None
    assert [p.what.split(":")[0] for p in problems] == [f"stack todo-api-dev is {status}"]
    assert fix in problems[0].fix


def test_settings_under_an_ssm_prefix_are_found_or_named(moto_account: LambdaAccount) -> None:
    # GIVEN the pooled URL under /todo-api/dev, and nothing under /todo-api/other
    ssm = boto3.client("ssm", region_name=REGION)
    ssm.put_parameter(Name="/todo-api/dev/DATABASE_URL", Value=POOLED, Type="SecureString")
    # WHEN the preflight runs with either prefix
    found = preflight.run(request({}, ssm_prefix="/todo-api/dev"))
    missing = preflight.run(request({}, ssm_prefix="/todo-api/other/"))
    # THEN the first passes and hands the value to the deploy; the second says how to add it
    assert found.problems == [] and found.settings["DATABASE_URL"] == POOLED
    assert "SSM /todo-api/dev: DATABASE_URL" in found.passed
    assert [p.what for p in missing.problems] == [
        f"DATABASE_URL is neither exported nor in SSM as /todo-api/other/DATABASE_URL ({REGION})"
    ]
    assert "aws ssm put-parameter" in missing.problems[0].fix


def test_an_unknown_region_is_named(no_aws: dict[str, str]) -> None:
    # GIVEN a region with a typo
    # WHEN the preflight runs
    report = preflight.Request(STAGE, "us-est-1", {"DATABASE_URL": POOLED})
    problems = preflight.run(report).problems
    # THEN it names the region before asking AWS anything
    assert [p.what for p in problems] == ["region 'us-est-1' is not one Lambda runs in"]


def test_a_silent_aws_costs_at_most_the_budget(
    no_aws: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN credentials STS accepts (moto on loopback), and every other AWS endpoint
    # accepting connections but never answering
    for name, value in dummy_credentials().items():
        monkeypatch.setenv(name, value)
    put = {SECRET_ENV: SECRET}
    with moto_server() as sts, silent_endpoint() as silent:
        monkeypatch.setenv("AWS_ENDPOINT_URL", silent)
        monkeypatch.setenv("AWS_ENDPOINT_URL_STS", sts)
        # WHEN the preflight runs
        started = time.monotonic()
        report = preflight.run(request(put))
        seconds = time.monotonic() - started
    # THEN it ends within the budget, naming each check that got no answer
    assert seconds < BUDGET_SECONDS, f"preflight took {seconds:.1f} s"
    listed = whats(report.problems)
    assert "Read timeout" in listed
    for check in (f"secret {SECRET}", "lambda:GetAccountSettings", "cloudformation:DescribeStacks"):
        assert check in listed, listed


def test_a_neon_project_in_another_region_is_noted_not_refused(
    moto_account: LambdaAccount,
) -> None:
    # GIVEN Neon's pooled endpoint in us-east-2, the stage deploying to us-east-1
    elsewhere = POOLED.replace(f".{REGION}.", ".us-east-2.")
    # WHEN the preflight runs
    report = preflight.run(request({"DATABASE_URL": elsewhere}))
    # THEN it passes, with a note saying every query would cross regions
    assert report.problems == []
    assert report.notes == [
        "Neon's endpoint is in us-east-2, the stage deploys to us-east-1: every query "
        "crosses regions (REGION=us-east-2 avoids it)"
    ]
