"""infra/deploy/deployer.py against moto: deploy, then migrate and verify, and every way that fails.

moto's Lambda without Docker (``use_docker: False``) does not run the code: an invoke
returns a queued payload (or "Simple Lambda happy path OK"), never sets the
FunctionError header, and answers even for a function that does not exist. The
``lambda_results`` fixture queues results and adds what real Lambda would send with
them (FunctionError, the base64 log tail) or the client-side error a hung call raises.
"""

from __future__ import annotations

import base64
import io
import json
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.exceptions import ReadTimeoutError
from moto import mock_aws
from moto.awslambda_simple.models import LambdaSimpleBackend

from infra import ROOT
from infra.deploy import deployer, stage
from tests.support.lambda_account import answer_account_settings

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient

REGION = "us-east-1"
STAGE = "ci"
SECRET_PW = "SECRET_PW"
POOLED = f"postgresql://app:{SECRET_PW}@ep-x-pooler.us-east-1.aws.neon.tech/neondb?sslmode=require"
HEAD = deployer.head_revision()  # the newest revision shipped
MIGRATED = {"action": "upgraded", "applied": [HEAD], "after": HEAD}
VERIFIED = {"ok": True, "problems": []}
ACCOUNT_QUOTA = 1000  # Lambda's default "Concurrent executions"
TIMED_OUT = "RequestId: 6a1f Error: Task timed out after 300.00 seconds"


@dataclass
class Result:
    """What one invoke returns: a payload, optionally as a function error, or an exception."""

    payload: Any = None
    function_error: bool = False
    log_tail: str = ""
    raises: Exception | None = None


@dataclass
class LambdaResults:
    """Results for the next invokes, in order, and the functions that were invoked."""

    queue: list[Result] = field(default_factory=list)
    invoked: list[str] = field(default_factory=list)

    def then(self, *results: Result) -> None:
        self.queue.extend(results)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """moto for every AWS call, with dummy credentials and no Docker."""
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_REGION", REGION)
    with mock_aws(config={"lambda": {"use_docker": False}}):
        answer_account_settings(ACCOUNT_QUOTA)  # the preflight reads it; moto does not model it
        yield


@pytest.fixture
def lambda_results(aws: None, monkeypatch: pytest.MonkeyPatch) -> LambdaResults:
    """Scripted invoke results, delivered the way real Lambda delivers them."""
    results = LambdaResults()

    def invoke(
        backend: LambdaSimpleBackend, name: str, qualifier: Any, body: Any, headers: Any, out: Any
    ) -> bytes:
        backend.get_function(name, qualifier)  # real Lambda answers 404 for an unknown name
        results.invoked.append(name)
        result = results.queue.pop(0) if results.queue else Result({"ok": True})
        if result.raises is not None:
            raise result.raises
        if result.function_error:
            out["x-amz-function-error"] = "Unhandled"
        if result.log_tail:
            out["x-amz-log-result"] = base64.b64encode(result.log_tail.encode()).decode()
        return json.dumps(result.payload).encode()

    monkeypatch.setattr(LambdaSimpleBackend, "invoke", invoke)
    return results


def handler_zip() -> bytes:
    """A real deployment zip (moto stores it; without Docker it never runs)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("functions/migrate.py", "def handler(event, context):\n    return {}\n")
    return buffer.getvalue()


def create_jobs(*jobs: str) -> None:
    """The stage's job functions, as `osls deploy` would have created them."""
    role = boto3.client("iam").create_role(
        RoleName="todo-api-ci-lambdaRole",
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
    )["Role"]["Arn"]
    client = boto3.client("lambda", region_name=REGION)
    for job in jobs:
        client.create_function(
            FunctionName=deployer.function_name(STAGE, job),
            Runtime="python3.12",
            Role=role,
            Handler=f"functions/{job}.handler",
            Code={"ZipFile": handler_zip()},
            Architectures=["arm64"],
            Timeout=300,
        )


def lambda_client() -> LambdaClient:
    """The client infra/deploy/deployer.py builds: no retries, a read timeout past Lambda's cap."""
    return boto3.client("lambda", region_name=REGION, config=deployer.INVOKE_CONFIG)


def fake_cli(tmp_path: Path, exit_code: int = 0, *, with_env: bool = False) -> tuple[str, Path]:
    """A stand-in for `osls`: records its arguments and whether DATABASE_URL reached it
    (``with_env``: and its whole environment)."""
    record = tmp_path / "cli.json"
    script = tmp_path / "fake_osls.py"
    extra = ", 'env': dict(os.environ)" if with_env else ""
    script.write_text(
        "import json, os, sys\n"
        f"json.dump({{'argv': sys.argv[1:], 'db': 'DATABASE_URL' in os.environ{extra}}},"
        f" open({str(record)!r}, 'w'))\n"
        f"sys.exit({exit_code})\n"
    )
    return f"{sys.executable} {script}", record


def test_jobs_succeed_and_reports_are_printed(
    lambda_results: LambdaResults, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a deployed stage whose migrate and verify succeed
    create_jobs("migrate", "verify")
    lambda_results.then(Result(MIGRATED), Result(VERIFIED))
    # WHEN the jobs are run
    code = deployer.main(["jobs", "--stage", STAGE, "--region", REGION])
    # THEN migrate ran, then verify, and both reports were printed
    out = capsys.readouterr().out
    assert code == 0
    assert lambda_results.invoked == ["todo-api-ci-migrate", "todo-api-ci-verify"]
    assert f'"after": "{HEAD}"' in out and '"problems": []' in out
    assert "migrated and verified" in out


def test_function_error_is_surfaced_with_its_message_and_logs(
    lambda_results: LambdaResults,
) -> None:
    # GIVEN a migrate function that raises
    create_jobs("migrate", "verify")
    error = {
        "errorType": "DatabaseUnavailable",
        "errorMessage": "the database is unavailable; try again shortly",
        "stackTrace": ['  File "/var/task/shared/jobs/migrate.py", line 61, in migrate\n'],
    }
    lambda_results.then(Result(error, function_error=True, log_tail="START\nmigrate failed\n"))
    # WHEN it is invoked
    with pytest.raises(deployer.JobFailed) as failure:
        deployer.invoke_job(lambda_client(), "todo-api-ci-migrate")
    # THEN the error names the function, the error type and message, the trace and logs
    message = str(failure.value)
    assert "todo-api-ci-migrate failed: DatabaseUnavailable: the database is unavailable" in message
    assert "shared/jobs/migrate.py" in message and "migrate failed" in message
    assert not isinstance(failure.value, deployer.JobTimedOut)


def test_failed_migrate_stops_before_verify(
    lambda_results: LambdaResults, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a stage whose migrate fails
    create_jobs("migrate", "verify")
    error = {"errorType": "SchemaMismatch", "errorMessage": "schema differs from spec: x"}
    lambda_results.then(Result(error, function_error=True))
    # WHEN the jobs are run
    code = deployer.main(["jobs", "--stage", STAGE])
    # THEN the run fails loudly with the function's error, and verify never ran
    assert code == 1
    assert "SchemaMismatch: schema differs from spec: x" in capsys.readouterr().err
    assert lambda_results.invoked == ["todo-api-ci-migrate"]


def test_lambda_timeout_is_reported_as_a_timeout(lambda_results: LambdaResults) -> None:
    # GIVEN a migrate that runs past its configured timeout (as Lambda reports it)
    create_jobs("migrate")
    timeout = {"errorType": "Sandbox.Timedout", "errorMessage": TIMED_OUT}
    lambda_results.then(Result(timeout, function_error=True))
    # WHEN it is invoked
    # THEN the failure says it timed out, with Lambda's message
    with pytest.raises(deployer.JobTimedOut, match="todo-api-ci-migrate timed out: .*300.00"):
        deployer.invoke_job(lambda_client(), "todo-api-ci-migrate")


def test_lost_answer_is_a_timeout_and_is_not_retried(lambda_results: LambdaResults) -> None:
    # GIVEN an invocation whose answer never arrives
    create_jobs("migrate")
    lost = ReadTimeoutError(endpoint_url="https://lambda.us-east-1.amazonaws.com")
    lambda_results.then(Result(raises=lost))
    # WHEN it is invoked
    with pytest.raises(deployer.JobTimedOut, match="no answer within 960 s"):
        deployer.invoke_job(lambda_client(), "todo-api-ci-migrate")
    # THEN it was invoked once: a retry could run the migration twice
    assert lambda_results.invoked == ["todo-api-ci-migrate"]


def test_missing_function_is_named_and_never_invoked(lambda_results: LambdaResults) -> None:
    # GIVEN a stage that was never deployed
    # WHEN its migrate is invoked
    # THEN the failure names the function and region, and nothing was invoked
    with pytest.raises(deployer.FunctionMissing, match="todo-api-ci-migrate does not exist in"):
        deployer.invoke_job(lambda_client(), "todo-api-ci-migrate")
    assert lambda_results.invoked == []


def test_deploy_runs_the_cli_then_the_jobs(
    lambda_results: LambdaResults, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN DATABASE_URL exported and a CLI that deploys the stage
    monkeypatch.setenv("DATABASE_URL", POOLED)
    cli, record = fake_cli(tmp_path)
    create_jobs("migrate", "verify")
    lambda_results.then(Result(MIGRATED), Result(VERIFIED))
    # WHEN the stage is deployed
    args = ["deploy", "--stage", STAGE, "--region", REGION, "--cli", cli]
    code = deployer.main([*args, "--", "--param", "snapStart=true"])
    # THEN the CLI deployed that stage with the settings, then migrate and verify ran
    called = json.loads(record.read_text())
    argv = ["deploy", "--stage", STAGE, "--region", REGION, "--param", "snapStart=true"]
    assert code == 0
    assert called == {"argv": argv, "db": True}
    assert lambda_results.invoked == ["todo-api-ci-migrate", "todo-api-ci-verify"]


def test_deploy_without_database_url_stops_before_the_cli(
    lambda_results: LambdaResults,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # GIVEN no DATABASE_URL in the environment
    monkeypatch.delenv("DATABASE_URL", raising=False)
    cli, record = fake_cli(tmp_path)
    # WHEN a deploy is attempted
    code = deployer.main(["deploy", "--stage", STAGE, "--cli", cli])
    # THEN it fails with a clear message before anything was deployed or invoked
    assert code == 1
    assert "DATABASE_URL is not set" in capsys.readouterr().err
    assert not record.exists()
    assert lambda_results.invoked == []


def test_malformed_database_url_is_refused_without_showing_it(
    aws: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a DATABASE_URL with a typo in its scheme
    monkeypatch.setenv("DATABASE_URL", POOLED.replace("postgresql", "postgresq"))
    cli, record = fake_cli(tmp_path)
    # WHEN a deploy is attempted
    code = deployer.main(["deploy", "--stage", STAGE, "--cli", cli])
    # THEN it stops before the CLI, says what is wrong, and never prints the password
    err = capsys.readouterr().err
    assert code == 1 and not record.exists()
    assert "DATABASE_URL must be a PostgreSQL URL" in err
    assert "SECRET_PW" not in err


def test_cli_failure_stops_before_the_jobs(
    lambda_results: LambdaResults,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # GIVEN a CLI whose deploy fails
    monkeypatch.setenv("DATABASE_URL", POOLED)
    cli, _ = fake_cli(tmp_path, exit_code=3)
    create_jobs("migrate", "verify")
    # WHEN the stage is deployed
    code = deployer.main(["deploy", "--stage", STAGE, "--cli", cli])
    # THEN the run fails with the CLI's status and no job ran
    assert code == 1
    assert "failed with exit status 3" in capsys.readouterr().err
    assert lambda_results.invoked == []


def test_settings_come_from_ssm_unless_exported(aws: None) -> None:
    # GIVEN SSM parameters under the stage's prefix, one setting also exported
    ssm = boto3.client("ssm", region_name=REGION)
    ssm.put_parameter(Name="/todo-api/ci/DATABASE_URL", Value=POOLED, Type="SecureString")
    ssm.put_parameter(
        Name="/todo-api/ci/BETTER_AUTH_URL", Value="https://ssm.example", Type="String"
    )
    exported = {"BETTER_AUTH_URL": "https://env.example"}
    # WHEN the settings are read for a deploy
    found = stage.settings_from_ssm(ssm, "/todo-api/ci/", exported)
    # THEN SSM fills what the environment lacks (decrypted), and the environment wins
    assert found == {"DATABASE_URL": POOLED}


def test_deploy_reads_database_url_from_ssm(
    lambda_results: LambdaResults, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN DATABASE_URL only in SSM
    monkeypatch.delenv("DATABASE_URL", raising=False)
    boto3.client("ssm", region_name=REGION).put_parameter(
        Name="/todo-api/ci/DATABASE_URL", Value=POOLED, Type="SecureString"
    )
    cli, record = fake_cli(tmp_path)
    create_jobs("migrate", "verify")
    lambda_results.then(Result(MIGRATED), Result(VERIFIED))
    # WHEN the stage is deployed with --ssm-prefix
    code = deployer.main(["deploy", "--stage", STAGE, "--ssm-prefix", "/todo-api/ci", "--cli", cli])
    # THEN the CLI got DATABASE_URL and the jobs ran
    assert code == 0
    assert json.loads(record.read_text())["db"] is True
    assert lambda_results.invoked == ["todo-api-ci-migrate", "todo-api-ci-verify"]


# Answers that are not a successful report: moto's Lambda stub answers {} (what made a
# deploy print "migrated and verified" against a stage that had run nothing), a handler
# may return null or a string, an old build may report another revision.
NOT_MIGRATED: dict[str, tuple[Any, str]] = {
    "empty object": ({}, "answered {}, without action, after: not a migration report"),
    "null": (None, "answered null, not a migration report"),
    "string": ("done", 'answered "done", not a migration report'),
    "no after": ({"action": "upgraded"}, "without after"),
    "unknown action": ({**MIGRATED, "action": "skipped"}, "action 'skipped'"),
    "old revision": (
        {**MIGRATED, "after": "0000"},
        f"at revision '0000', but the newest revision shipped is '{HEAD}'",
    ),
    "no revision": ({**MIGRATED, "after": None}, "at revision None"),
}
NOT_VERIFIED: dict[str, tuple[Any, str]] = {
    "empty object": ({}, "answered {}, without ok, problems: not a verify report"),
    "null": (None, "answered null, not a verify report"),
    "ok only": ({"ok": True}, "without problems"),
    "problems": (
        {"ok": False, "problems": ["tasks.title: missing"]},
        "schema differs from the spec: ['tasks.title: missing']",
    ),
    "not ok": ({"ok": False, "problems": []}, "ok=False"),
    "ok as a string": ({"ok": "yes", "problems": []}, "ok='yes'"),
    "problems not a list": ({"ok": True, "problems": "none"}, 'problems as "none"'),
}


BAD_ANSWERS = {"migrate": NOT_MIGRATED, "verify": NOT_VERIFIED}
GOOD_ANSWERS: dict[str, Any] = {"migrate": MIGRATED, "verify": VERIFIED}


@pytest.mark.parametrize(
    ("job", "case"), [(job, case) for job, cases in BAD_ANSWERS.items() for case in cases]
)
def test_job_answer_that_is_not_a_successful_report_fails_the_deploy(
    lambda_results: LambdaResults, capsys: pytest.CaptureFixture[str], job: str, case: str
) -> None:
    # GIVEN a stage where one job answers something other than a report of success
    payload, reason = BAD_ANSWERS[job][case]
    create_jobs("migrate", "verify")
    lambda_results.then(*(Result(payload if j == job else GOOD_ANSWERS[j]) for j in deployer.JOBS))
    # WHEN the jobs are run
    code = deployer.main(["jobs", "--stage", STAGE])
    # THEN the run fails naming the function and why, runs nothing after it, and never
    # claims the stage was migrated and verified
    captured = capsys.readouterr()
    assert code == 1
    assert f"FAILED: todo-api-ci-{job}" in captured.err and reason in captured.err, captured.err
    assert lambda_results.invoked[-1] == f"todo-api-ci-{job}"
    assert "migrated and verified" not in captured.out


def test_deploy_whose_jobs_answer_empty_objects_exits_non_zero(
    lambda_results: LambdaResults,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # GIVEN a deployed stage whose functions answer {} (moto's stub; a handler that ran nothing)
    monkeypatch.setenv("DATABASE_URL", POOLED)
    cli, _ = fake_cli(tmp_path)
    create_jobs("migrate", "verify")
    lambda_results.then(Result({}), Result({}))
    # WHEN the stage is deployed
    code = deployer.main(["deploy", "--stage", STAGE, "--cli", cli])
    # THEN the deploy fails, saying migrate's answer was not a migration report
    captured = capsys.readouterr()
    assert code == 1
    assert "todo-api-ci-migrate answered {}" in captured.err
    assert "migrated and verified" not in captured.out


def test_the_head_revision_is_the_newest_migration_shipped() -> None:
    # GIVEN the migrations in shared/jobs/migrations/versions
    versions = sorted(Path(ROOT, "shared/jobs/migrations/versions").glob("[0-9]*.py"))
    newest = versions[-1].name.split("_", 1)[0]
    # WHEN the deploy works out which revision migrate must reach
    # THEN it is the newest file's revision (ids are the file names' numeric prefixes)
    assert deployer.head_revision() == newest


SECRET_ID = "todo-api/ci"


def put_secret(**values: str) -> None:
    """The stage's JSON secret in (moto's) Secrets Manager."""
    client = boto3.client("secretsmanager", region_name=REGION)
    client.create_secret(Name=SECRET_ID, SecretString=json.dumps(values))


def test_secret_mode_deploys_without_any_secret_in_the_cli_environment(
    lambda_results: LambdaResults, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the stage's settings in a Secrets Manager secret, the secret named in
    # DATABASE_URL_SECRET, and (by habit) the same secrets still exported in the shell
    put_secret(DATABASE_URL=POOLED, DATABASE_URL_DIRECT="", BETTER_AUTH_SECRET=SECRET_PW * 4)
    monkeypatch.setenv(deployer.SECRET_ENV, SECRET_ID)
    monkeypatch.setenv("DATABASE_URL", POOLED)
    monkeypatch.setenv("BETTER_AUTH_SECRET", SECRET_PW * 4)
    cli, record = fake_cli(tmp_path, with_env=True)
    create_jobs("migrate", "verify")
    lambda_results.then(Result(MIGRATED), Result(VERIFIED))
    # WHEN the stage is deployed
    code = deployer.main(["deploy", "--stage", STAGE, "--region", REGION, "--cli", cli])
    # THEN the CLI was told to take the settings from the secret, never saw a secret
    # setting or the password, and migrate and verify ran
    called = json.loads(record.read_text())
    assert code == 0
    assert called["argv"] == [
        "deploy",
        "--stage",
        STAGE,
        "--region",
        REGION,
        "--param",
        "secretsFrom=secretsmanager",
    ]
    assert not set(deployer.SECRET_KEYS) & set(called["env"])
    assert not any(SECRET_PW in value for value in called["env"].values())
    assert called["env"][deployer.SECRET_ENV] == SECRET_ID
    assert lambda_results.invoked == ["todo-api-ci-migrate", "todo-api-ci-verify"]


@pytest.mark.parametrize(
    ("stored", "expected"),
    [
        ({"DATABASE_URL": POOLED, "DATABASE_URL_DIRECT": ""}, "lacks BETTER_AUTH_SECRET"),
        ({"DATABASE_URL": "", "DATABASE_URL_DIRECT": "", "BETTER_AUTH_SECRET": ""}, "empty"),
        (
            {
                "DATABASE_URL": f"mysql://app:{SECRET_PW}@h/db",
                "DATABASE_URL_DIRECT": "",
                "BETTER_AUTH_SECRET": "",
            },
            "DATABASE_URL in secret todo-api/ci",
        ),
    ],
    ids=["missing key", "empty url", "malformed url"],
)
def test_a_secret_the_template_cannot_resolve_stops_before_the_cli(
    aws: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    stored: dict[str, str],
    expected: str,
) -> None:
    # GIVEN a secret CloudFormation would fail on half-way through the stack
    put_secret(**stored)
    monkeypatch.setenv(deployer.SECRET_ENV, SECRET_ID)
    cli, record = fake_cli(tmp_path)
    # WHEN a deploy is attempted
    code = deployer.main(["deploy", "--stage", STAGE, "--region", REGION, "--cli", cli])
    # THEN it fails first, naming the secret and what is wrong, never showing a value
    err = capsys.readouterr().err
    assert code == 1 and not record.exists()
    assert expected in err and "nothing was deployed" in err
    assert SECRET_PW not in err


def test_a_missing_secret_is_named(
    aws: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN DATABASE_URL_SECRET naming a secret that does not exist
    monkeypatch.setenv(deployer.SECRET_ENV, "todo-api/nowhere")
    cli, record = fake_cli(tmp_path)
    # WHEN a deploy is attempted
    code = deployer.main(["deploy", "--stage", STAGE, "--region", REGION, "--cli", cli])
    # THEN Secrets Manager's answer is shown and nothing ran
    err = capsys.readouterr().err
    assert code == 1 and not record.exists()
    assert "secret todo-api/nowhere: ResourceNotFoundException" in err
