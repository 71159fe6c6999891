"""Each function's environment from serverless.yml, resolved as far as a machine can."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.serverless.function_env import environment, shared_environment, variables
from infra.serverless.routes import functions

TEMPLATE = """
service: todo-api
params:
  default: {logLevel: INFO, origin: "${env:FRONTEND_ORIGIN, 'http://localhost:3000'}"}
  prod: {logLevel: WARNING}
provider:
  name: aws
  stage: ${opt:stage, 'dev'}
  environment:
    SERVICE: ${self:service}
    LOG_LEVEL: ${param:logLevel}
    STAGE_NAME: ${sls:stage}
    ORIGIN: ${param:origin}
    DATABASE_URL: ${env:DATABASE_URL, ''}
    REGION: ${opt:region, env:AWS_REGION, 'us-east-1'}
functions:
  one:
    handler: functions/one.handler
    environment:
      LOG_LEVEL: DEBUG
      TIMEOUT: 4
      FLAG: true
      SECRET: ${ssm:/todo/secret}
      REQUIRED: ${env:NOT_SET_ANYWHERE}
      URL: https://${env:HOST, 'localhost'}/api
  two:
    handler: functions/two.handler
    environment:
      LOG_LEVEL: INFO
"""


@pytest.fixture
def template(tmp_path: Path) -> Path:
    """A serverless.yml using every kind of variable the real one could."""
    path = tmp_path / "serverless.yml"
    path.write_text(TEMPLATE)
    return path


def test_local_sources_resolve_and_deploy_time_ones_are_skipped(template: Path) -> None:
    # GIVEN the template, a prod stage and an environment with a database URL and a region
    env = {"DATABASE_URL": "postgresql://local", "AWS_REGION": "eu-west-1", "HOST": "h"}
    # WHEN function one's environment is resolved
    found = environment("one", variables("prod", env, template))
    # THEN the provider's variables are under the function's own, each resolved locally
    assert found.values == {
        "SERVICE": "todo-api",
        "LOG_LEVEL": "DEBUG",
        "STAGE_NAME": "prod",
        "ORIGIN": "http://localhost:3000",
        "DATABASE_URL": "postgresql://local",
        "REGION": "eu-west-1",
        "TIMEOUT": "4",
        "FLAG": "true",
        "URL": "https://h/api",
    }
    # AND what only a deploy can resolve is left unset, with the reason
    assert set(found.skipped) == {"SECRET", "REQUIRED"}
    assert "deploy time" in found.skipped["SECRET"]


def test_params_follow_the_stage_and_fallbacks_apply(template: Path) -> None:
    # GIVEN / WHEN function two's environment on the dev stage with an empty environment
    found = environment("two", variables("dev", {}, template))
    # THEN params come from default, env fallbacks apply, and its own LOG_LEVEL wins
    assert found.values["LOG_LEVEL"] == "INFO" and found.values["STAGE_NAME"] == "dev"
    assert (found.values["DATABASE_URL"], found.values["REGION"]) == ("", "us-east-1")


def test_functions_that_disagree_cannot_share_one_process(template: Path) -> None:
    # GIVEN functions one and two, which set LOG_LEVEL differently
    # WHEN one shared environment is asked for / THEN the variable is named
    with pytest.raises(ValueError, match="LOG_LEVEL"):
        shared_environment(["one", "two"], variables("dev", {}, template))


def test_the_deployed_api_functions_share_one_environment() -> None:
    # GIVEN serverless.yml's HTTP functions / WHEN their shared environment is resolved
    served = [fn.name for fn in functions() if not fn.is_job]
    found = shared_environment(served, variables("dev", {"DATABASE_URL": "postgresql://x"}))
    # THEN it holds the API's settings and the Powertools service, and skips nothing
    assert found.values["DB_QUERY_TIMEOUT"] == "8" and found.values["DATABASE_URL"]
    assert found.values["POWERTOOLS_SERVICE_NAME"] == "todo-api" and found.skipped == {}
