"""Operating a stage, on the packaged templates: limits, secrets, the KMS key, alarms.

Two stages are compared: ``ci`` (the session's arm64 run: serverless.yml's defaults,
every setting exported) and ``dev`` (the ``operated`` run: dev's own limits, settings
from Secrets Manager while every one is still exported as a sentinel, alarms on, a
customer-managed key). Expected values come from serverless.yml's params per stage.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from infra.deploy import deployer
from infra.serverless.function_env import variables
from shared.core.errors import ServiceUnavailable
from tests.support.packaging import (
    OPERATED_PARAMS,
    OPERATED_STAGE,
    SECRET_ID,
    SENTINELS,
    STAGE,
    Packaged,
    osls_env,
    require_osls,
    run_osls,
)

CFN_LINT = str(Path(sys.executable).parent / "cfn-lint")
# The sentinels that stand for secrets: the two URLs' passwords and the HS256 secret.
SECRET_SENTINELS = ("SENTINEL_POOLED_PASSWORD", "SENTINEL_DIRECT_PASSWORD", "SENTINEL_AUTH_SECRET")
_REFERENCE = re.compile(r"^\{\{resolve:secretsmanager:(?P<id>[^:]+):SecretString:(?P<key>\w+)\}\}$")


def param(stage: str, name: str) -> str:
    """serverless.yml's ``params`` value for ``stage`` (its own, else the default)."""
    return variables(stage, env={}).resolve(f"${{param:{name}}}")


def lambdas(packaged: Packaged) -> dict[str, dict[str, Any]]:
    """Lambda function properties by logical id."""
    return {k: v["Properties"] for k, v in packaged.of_type("AWS::Lambda::Function").items()}


def http_functions(packaged: Packaged) -> dict[str, dict[str, Any]]:
    """The functions API Gateway may invoke (every one but the jobs), by logical id."""
    invoked = json.dumps(packaged.of_type("AWS::Lambda::Permission"))
    return {key: props for key, props in lambdas(packaged).items() if f'"{key}"' in invoked}


def alarms(packaged: Packaged) -> dict[str, dict[str, Any]]:
    """CloudWatch alarm properties by logical id."""
    return {k: v["Properties"] for k, v in packaged.of_type("AWS::CloudWatch::Alarm").items()}


def metric_stats(alarm: dict[str, Any]) -> list[dict[str, Any]]:
    """The metrics a metric-math alarm reads."""
    return [query["MetricStat"]["Metric"] for query in alarm["Metrics"] if "MetricStat" in query]


@pytest.mark.parametrize("fixture", ["arm64", "operated"])
def test_http_api_stage_throttling_per_stage(fixture: str, request: pytest.FixtureRequest) -> None:
    # GIVEN a stage's template
    packaged: Packaged = request.getfixturevalue(fixture)
    stage = STAGE if fixture == "arm64" else OPERATED_STAGE
    # WHEN its HTTP API stage's default route settings are read
    settings = packaged.of_type("AWS::ApiGatewayV2::Stage")["HttpApiStage"]["Properties"]
    route = settings["DefaultRouteSettings"]
    # THEN they throttle at that stage's rate and burst (past them API Gateway answers 429)
    assert route["ThrottlingRateLimit"] == float(param(stage, "throttleRate"))
    assert route["ThrottlingBurstLimit"] == int(param(stage, "throttleBurst"))
    assert route["DetailedMetricsEnabled"] is False


def test_stages_differ_in_their_limits() -> None:
    # GIVEN serverless.yml's params
    # WHEN ci (the defaults) and dev are compared
    names = ("throttleRate", "throttleBurst", "apiConcurrency")
    # THEN dev is held lower on every limit, so the per-stage tests compare real choices
    assert all(int(param(OPERATED_STAGE, n)) < int(param(STAGE, n)) for n in names)


@pytest.mark.parametrize("fixture", ["arm64", "operated"])
def test_api_functions_have_a_concurrency_ceiling(
    fixture: str, request: pytest.FixtureRequest
) -> None:
    # GIVEN a stage's template
    packaged: Packaged = request.getfixturevalue(fixture)
    stage = STAGE if fixture == "arm64" else OPERATED_STAGE
    http = http_functions(packaged)
    # WHEN each function's reserved concurrency is read
    reserved = {
        key: props.get("ReservedConcurrentExecutions") for key, props in lambdas(packaged).items()
    }
    # THEN every HTTP function is capped at the stage's apiConcurrency; the jobs are not
    assert len(http) == len(lambdas(packaged)) - len(deployer.JOBS)
    for key, value in reserved.items():
        assert value == (int(param(stage, "apiConcurrency")) if key in http else None), key


def test_secret_mode_leaves_no_secret_in_the_build_output(operated: Packaged) -> None:
    # GIVEN the dev packaging with secretsFrom=secretsmanager while every setting was
    # also exported (sentinel passwords included)
    files = [path for path in operated.output_dir.rglob("*") if path.is_file()]
    # WHEN every file osls wrote (templates, serverless-state.json) is searched
    found = {
        (path.name, sentinel)
        for path in files
        for sentinel in SECRET_SENTINELS
        if sentinel in path.read_text(errors="replace")
    }
    # THEN no sentinel secret appears anywhere
    assert {path.name for path in files} >= {
        "cloudformation-template-update-stack.json",
        "serverless-state.json",
    }
    assert not found


def test_secret_mode_resolves_each_secret_setting_from_the_named_secret(
    operated: Packaged,
) -> None:
    # GIVEN the functions' environments in secret mode
    for props in lambdas(operated).values():
        env = props["Environment"]["Variables"]
        secret = {name: env[name] for name in deployer.SECRET_KEYS if name in env}
        # WHEN the secret settings are read
        # THEN each is a dynamic reference to its own key of the secret DATABASE_URL_SECRET
        # names, which is what infra/deploy/deployer.py checks the secret for
        assert "DATABASE_URL" in secret, props["FunctionName"]
        for name, value in secret.items():
            match = _REFERENCE.match(value)
            assert match is not None, (name, value)
            assert (match["id"], match["key"]) == (SECRET_ID, name)
    # AND together the functions read exactly the keys the deploy script checks
    env_names = {n for p in lambdas(operated).values() for n in p["Environment"]["Variables"]}
    assert env_names >= set(deployer.SECRET_KEYS)


def test_an_exported_secret_name_without_secret_mode_is_refused(tmp_path: Path) -> None:
    # GIVEN DATABASE_URL_SECRET exported but secretsFrom left at "env", settings exported
    require_osls()
    env = osls_env({**SENTINELS, "DATABASE_URL_SECRET": SECRET_ID})
    # WHEN the stage is packaged
    out = tmp_path / "refused"
    result = run_osls(["package", "--stage", STAGE, "--package", str(out)], env)
    # THEN osls stops before building anything: the exported values would have been used
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert 'secretsFrom is not "secretsmanager"' in output
    assert "package_build" not in output and not out.exists()


def test_customer_managed_key_is_a_parameter(arm64: Packaged, operated: Packaged) -> None:
    # GIVEN the default template and one with --param kmsKeyArn=...
    key = OPERATED_PARAMS["kmsKeyArn"]
    role = operated.of_type("AWS::IAM::Role")["IamRoleLambdaExecution"]["Properties"]
    statements = [s for p in role["Policies"] for s in p["PolicyDocument"]["Statement"]]
    # WHEN the functions' KmsKeyArn is read
    # THEN by default Lambda's own key is used; with the parameter every function's
    # environment is encrypted with that key, which the role may decrypt with
    assert {props.get("KmsKeyArn") for props in lambdas(arm64).values()} == {None}
    assert {props.get("KmsKeyArn") for props in lambdas(operated).values()} == {key}
    assert {"Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": [key]} in statements


def test_no_alarms_unless_asked_for(arm64: Packaged) -> None:
    # GIVEN the default template (alarms: "false")
    # WHEN its alarms are listed
    # THEN there are none
    assert param(STAGE, "alarms") == "false"
    assert alarms(arm64) == {}


def test_alarms_watch_errors_unavailability_throttles_and_duration(operated: Packaged) -> None:
    # GIVEN the dev template with alarms on and a topic
    found = alarms(operated)
    http = http_functions(operated)
    namespace = {
        p["Environment"]["Variables"]["POWERTOOLS_METRICS_NAMESPACE"] for p in http.values()
    }
    # WHEN the alarms are read
    errors, unavailable = found["ApiServerErrorRateAlarm"], found["ApiUnavailableRateAlarm"]
    throttled = [a for key, a in found.items() if key.startswith("ApiThrottlesAlarm")]
    slow = [a for key, a in found.items() if key.startswith("ApiDurationAlarm")]
    # THEN the 5xx rate is API Gateway's, on this API
    assert (errors["Namespace"], errors["MetricName"], errors["Statistic"]) == (
        "AWS/ApiGateway",
        "5xx",
        "Average",
    )
    assert errors["Dimensions"] == [{"Name": "ApiId", "Value": {"Ref": "HttpApi"}}]
    # AND the 503 rate divides the app's ServiceUnavailable count (the stage's namespace,
    # where the functions publish it) by the API's requests
    read = {(m["Namespace"], m["MetricName"]) for m in metric_stats(unavailable)}
    assert read == {(namespace.pop(), ServiceUnavailable.__name__), ("AWS/ApiGateway", "Count")}
    # AND throttles and duration cover every HTTP function, the latter at 80 % of its timeout
    for group, metric in ((throttled, "Throttles"), (slow, "Duration")):
        watched = {
            m["Dimensions"][0]["Value"]["Ref"]
            for alarm in group
            for m in metric_stats(alarm)
            if m["MetricName"] == metric
        }
        assert watched == set(http), metric
    timeouts = {props["Timeout"] for props in http.values()}
    assert sorted(alarm["Threshold"] for alarm in slow) == [t * 800 for t in sorted(timeouts)]
    # AND every alarm notifies the topic, and stays quiet on a stage with no traffic
    topic = [OPERATED_PARAMS["alarmTopicArn"]]
    for key, alarm in found.items():
        assert alarm["AlarmActions"] == topic and alarm["OKActions"] == topic, key
        assert alarm["TreatMissingData"] == "notBreaching", key
        assert alarm["AlarmName"].startswith(f"todo-api-{OPERATED_STAGE}-"), key


def test_operated_template_passes_cfn_lint(operated: Packaged) -> None:
    # GIVEN the template with alarms, dynamic references and a KMS key
    path = operated.output_dir / "cloudformation-template-update-stack.json"
    # WHEN cfn-lint checks it
    # (W3005, the DependsOn pairs osls writes, is test_template.py's concern)
    command = [CFN_LINT, "--ignore-checks", "W3005", "--", str(path)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    # THEN it finds nothing
    assert result.returncode == 0, result.stdout + result.stderr
