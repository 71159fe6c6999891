"""The CloudFormation template `osls package` builds from serverless.yml."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from infra import ROOT
from infra.deploy import deployer
from shared.api.idempotency import KEY_HEADER, REPLAYED_HEADER
from shared.api.paging import PAGE_HEADERS
from tests.support.packaging import SENTINELS, STAGE, Packaged

CONTRACT = {
    "GET /api/{user_id}/tasks": "functions/list_tasks.handler",
    "POST /api/{user_id}/tasks": "functions/create_task.handler",
    "GET /api/{user_id}/tasks/{task_id}": "functions/get_task.handler",
    "PUT /api/{user_id}/tasks/{task_id}": "functions/replace_task.handler",
    "PATCH /api/{user_id}/tasks/{task_id}": "functions/update_task.handler",
    "PATCH /api/{user_id}/tasks/{task_id}/complete": "functions/complete_task.handler",
    "DELETE /api/{user_id}/tasks/{task_id}": "functions/delete_task.handler",
    "GET /health": "functions/health.handler",
    "GET /openapi.json": "functions/docs.handler",
    "GET /docs": "functions/docs.handler",
    "GET /docs/{asset}": "functions/docs.handler",
}
JOB_HANDLERS = {"functions/migrate.handler", "functions/verify.handler"}
POWERTOOLS = {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE", "POWERTOOLS_LOG_LEVEL"}
API_ENV = POWERTOOLS | {
    "DATABASE_URL",
    "DATABASE_URL_SECRET",
    "DB_CONNECT_TIMEOUT",
    "DB_CONNECT_ATTEMPTS",
    "DB_QUERY_TIMEOUT",
    "BETTER_AUTH_URL",
    "BETTER_AUTH_SECRET",
    "AUTH_JWKS_URL",
    "AUTH_ISSUER",
    "AUTH_AUDIENCE",
    "AUTH_ALGORITHMS",
    "AUTH_KEYS_MAX_STALE_SECONDS",
}
JOB_ENV = POWERTOOLS | {
    "DATABASE_URL",
    "DATABASE_URL_SECRET",
    "DATABASE_URL_DIRECT",
    "DB_CONNECT_TIMEOUT",
    "DB_QUERY_TIMEOUT",
}
SECRET_SETTINGS = ("DATABASE_URL", "DATABASE_URL_DIRECT", "BETTER_AUTH_SECRET")
ALLOWED_ACTIONS = {
    "logs:CreateLogGroup",
    "logs:CreateLogStream",
    "logs:PutLogEvents",
    "logs:TagResource",
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
}
API_GATEWAY_LIMIT_SECONDS = 29
CFN_LINT = str(Path(sys.executable).parent / "cfn-lint")  # installed beside this Python


def functions(packaged: Packaged) -> dict[str, dict[str, Any]]:
    """Lambda function properties by logical id."""
    found = packaged.of_type("AWS::Lambda::Function")
    return {key: value["Properties"] for key, value in found.items()}


def by_handler(packaged: Packaged) -> dict[str, dict[str, Any]]:
    """Lambda function properties by handler (handlers are unique)."""
    return {props["Handler"]: props for props in functions(packaged).values()}


def routes(packaged: Packaged) -> dict[str, str]:
    """Route key -> the handler of the function its integration invokes."""
    integrations = packaged.of_type("AWS::ApiGatewayV2::Integration")
    result = {}
    for route in packaged.of_type("AWS::ApiGatewayV2::Route").values():
        integration_id = route["Properties"]["Target"]["Fn::Join"][1][1]["Ref"]
        uri = integrations[integration_id]["Properties"]["IntegrationUri"]
        function_id = _function_id(uri)
        result[route["Properties"]["RouteKey"]] = functions(packaged)[function_id]["Handler"]
    return result


def _function_id(uri: Any) -> str:
    # Plain integrations use Fn::GetAtt [Fn, Arn]; aliased ones (SnapStart) join an alias.
    text = json.dumps(uri)
    return str(re.findall(r'"([A-Za-z0-9]+LambdaFunction)"', text)[0])


def strings(node: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """Every string in a JSON document with its path."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from strings(value, f"{path}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from strings(value, f"{path}/{index}")
    elif isinstance(node, str):
        yield path, node


def test_every_contract_route_has_its_own_function(arm64: Packaged) -> None:
    # GIVEN the arm64 template
    # WHEN its HTTP API routes are followed to their functions
    mapping = routes(arm64)
    # THEN the routes are exactly the contract's, each on the function for that route
    assert mapping == CONTRACT
    task_handlers = [handler for key, handler in mapping.items() if "/api/" in key]
    assert len(set(task_handlers)) == len(task_handlers)


def test_jobs_have_no_http_event(arm64: Packaged) -> None:
    # GIVEN the template's functions and the permissions that let API Gateway invoke them
    handlers = by_handler(arm64)
    permissions = arm64.of_type("AWS::Lambda::Permission").values()
    invocable = {
        _function_id(permission["Properties"]["FunctionName"]) for permission in permissions
    }
    # WHEN the jobs are looked up
    job_ids = {key for key, props in functions(arm64).items() if props["Handler"] in JOB_HANDLERS}
    # THEN both exist and nothing outside may invoke them
    assert set(handlers) >= JOB_HANDLERS
    assert len(job_ids) == 2
    assert not job_ids & invocable


def test_runtime_architecture_and_tracing(arm64: Packaged, x86_64: Packaged) -> None:
    # GIVEN the default packaging and the x86_64 switch
    # WHEN their functions are inspected
    # THEN every function is python3.12 with active tracing, on the switched architecture
    for packaged, arch in ((arm64, "arm64"), (x86_64, "x86_64")):
        for props in functions(packaged).values():
            assert props["Runtime"] == "python3.12"
            assert props["Architectures"] == [arch]
            assert props["TracingConfig"] == {"Mode": "Active"}


def test_timeouts_fit_api_gateway_and_the_database_budget(arm64: Packaged) -> None:
    # GIVEN the API functions and their database settings
    for handler, props in by_handler(arm64).items():
        if handler in JOB_HANDLERS:
            # THEN the jobs get minutes (a waking compute, another run's lock)
            assert props["Timeout"] >= 120
            continue
        env = props["Environment"]["Variables"]
        attempts = int(env["DB_CONNECT_ATTEMPTS"])
        # WHEN the worst case is added up (connect attempts, a second of backoff each,
        # one statement)
        budget = attempts * (float(env["DB_CONNECT_TIMEOUT"]) + 1) + float(env["DB_QUERY_TIMEOUT"])
        # THEN the app gives up before Lambda does, and Lambda before API Gateway
        assert budget < props["Timeout"] < API_GATEWAY_LIMIT_SECONDS, handler
        assert props["MemorySize"] == 1024


def test_environment_names_per_function_kind(arm64: Packaged) -> None:
    # GIVEN the template built with every setting exported
    # WHEN each function's environment is read
    for handler, props in by_handler(arm64).items():
        names = set(props["Environment"]["Variables"])
        # THEN the API gets auth but no direct URL; the jobs the direct URL but no auth
        assert names == (JOB_ENV if handler in JOB_HANDLERS else API_ENV), handler


def test_powertools_settings_come_from_one_place(arm64: Packaged) -> None:
    # GIVEN every function's environment
    envs = [props["Environment"]["Variables"] for props in functions(arm64).values()]
    # WHEN the Powertools settings are collected
    settings = {tuple(sorted((k, v) for k, v in env.items() if k in POWERTOOLS)) for env in envs}
    # THEN all functions share one service name, namespace and log level
    assert settings == {
        (
            ("POWERTOOLS_LOG_LEVEL", "INFO"),
            ("POWERTOOLS_METRICS_NAMESPACE", f"TodoApi/{STAGE}"),
            ("POWERTOOLS_SERVICE_NAME", "todo-api"),
        )
    }


def test_exported_settings_land_only_in_their_variables(arm64: Packaged) -> None:
    # GIVEN a template built with sentinel values for every setting
    # WHEN every string in it is searched for those values
    placements = {
        (path, name)
        for path, text in strings(arm64.template)
        for name, value in SENTINELS.items()
        if value in text
    }
    # THEN each appears only as the value of its own variable (the frontend's origin:
    # in CORS), never anywhere else
    assert {name for _, name in placements} == set(SENTINELS)
    for path, name in placements:
        assert path.endswith(f"/Environment/Variables/{name}") or (
            name == "FRONTEND_ORIGIN" and "/CorsConfiguration/AllowOrigins/" in path
        ), (path, name)


def test_nothing_secret_without_the_environment(x86_64: Packaged) -> None:
    # GIVEN a template built with no setting exported
    # WHEN the secret-bearing variables and all strings are read
    for props in functions(x86_64).values():
        env = props["Environment"]["Variables"]
        # THEN they are empty (the app treats empty as unset) ...
        assert all(env.get(name, "") == "" for name in SECRET_SETTINGS)
    # ... and the template holds no connection string or credential of any kind
    for path, text in strings(x86_64.template):
        assert not re.search(r"postgres(ql)?://|npg_|SENTINEL", text), path


def test_serverless_yml_holds_no_secret() -> None:
    # GIVEN the committed serverless.yml
    text = (ROOT / "serverless.yml").read_text()
    # WHEN it is searched for literal credentials
    # THEN there are none: each setting is an ${env:...} reference (the fallback of the
    # secret's reference, which only secretsFrom=secretsmanager selects)
    assert not re.search(r"postgres(ql)?://|npg_", text)
    for name in SECRET_SETTINGS:
        secret = rf"\$\{{self:custom\.secrets\.\$\{{param:secretsFrom\}}\.{name}"
        assert re.search(rf"{name}: {secret}, env:{name}, ''\}}", text), name


def test_iam_is_logs_and_tracing_only(arm64: Packaged) -> None:
    # GIVEN every IAM role in the template
    roles = arm64.of_type("AWS::IAM::Role")
    assert list(roles) == ["IamRoleLambdaExecution"]
    assert not arm64.of_type("AWS::IAM::Policy") and not arm64.of_type("AWS::IAM::ManagedPolicy")
    role = roles["IamRoleLambdaExecution"]["Properties"]
    # WHEN its statements are collected
    statements = [s for policy in role["Policies"] for s in policy["PolicyDocument"]["Statement"]]
    # THEN it has no managed policies, only allowed actions, and logs only on our groups
    assert "ManagedPolicyArns" not in role
    for statement in statements:
        assert statement["Effect"] == "Allow"
        assert set(statement["Action"]) <= ALLOWED_ACTIONS, statement
        if any(action.startswith("logs:") for action in statement["Action"]):
            resources = json.dumps(statement["Resource"])
            assert f"log-group:/aws/lambda/todo-api-{STAGE}" in resources, statement


def test_cors_and_log_retention(arm64: Packaged) -> None:
    # GIVEN the HTTP API and the log groups
    cors = arm64.of_type("AWS::ApiGatewayV2::Api")["HttpApi"]["Properties"]["CorsConfiguration"]
    groups = arm64.of_type("AWS::Logs::LogGroup").values()
    # WHEN they are read
    # THEN only the configured frontends may call (FRONTEND_ORIGIN's two origins, one per
    # entry, the trailing slash dropped), with the bearer header and a key, no cookies
    assert cors["AllowOrigins"] == [SENTINELS["FRONTEND_ORIGIN"], "http://localhost:3000"]
    assert set(cors["AllowHeaders"]) == {"Authorization", "Content-Type", KEY_HEADER}
    assert not cors.get("AllowCredentials", False)
    # AND a frontend can read the list's paging headers, a new task's Location, Retry-After
    # and whether an answer is a replay
    exposed = {*PAGE_HEADERS, "Location", "Retry-After", REPLAYED_HEADER}
    assert exposed <= set(cors["ExposeHeaders"])
    # AND every log group expires
    assert all(group["Properties"]["RetentionInDays"] == 14 for group in groups)


def test_snapstart_is_a_switch(arm64: Packaged, x86_64: Packaged) -> None:
    # GIVEN the default packaging and one with --param snapStart=true
    # WHEN their functions and routes are read
    default = [props.get("SnapStart") for props in functions(arm64).values()]
    switched = {props["Handler"]: props.get("SnapStart") for props in functions(x86_64).values()}
    integrations = x86_64.of_type("AWS::ApiGatewayV2::Integration").values()
    # THEN it is off by default; when on, every API function snapshots published
    # versions and API Gateway calls the "snapstart" alias (SnapStart skips $LATEST)
    assert default == [None] * len(default)
    for handler, snapstart in switched.items():
        expected = None if handler in JOB_HANDLERS else {"ApplyOn": "PublishedVersions"}
        assert snapstart == expected, handler
    for integration in integrations:
        uri = integration["Properties"]["IntegrationUri"]
        assert uri["Fn::Join"][0] == ":" and uri["Fn::Join"][1][-1] == "snapstart", uri


def test_job_function_names_match_the_deploy_script(arm64: Packaged) -> None:
    # GIVEN the deployed names of the jobs
    names = {props["Handler"]: props["FunctionName"] for props in functions(arm64).values()}
    # WHEN infra/deploy/deployer.py derives them
    # THEN they agree, so it invokes what was deployed
    assert names["functions/migrate.handler"] == deployer.function_name(STAGE, "migrate")
    assert names["functions/verify.handler"] == deployer.function_name(STAGE, "verify")


@pytest.mark.parametrize("arch", ["arm64", "x86_64"])
def test_template_passes_cfn_lint(arch: str, request: pytest.FixtureRequest) -> None:
    # GIVEN a packaged template
    packaged: Packaged = request.getfixturevalue(arch)
    path = packaged.output_dir / "cloudformation-template-update-stack.json"
    # WHEN cfn-lint checks it
    result = subprocess.run(
        [CFN_LINT, "--", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    # THEN it finds nothing, not even a warning: W3005 (a DependsOn that a Ref already
    # implies, which osls writes and infra/serverless/plugin.js drops) made moto refuse the stack
    assert result.returncode == 0, result.stdout + result.stderr
