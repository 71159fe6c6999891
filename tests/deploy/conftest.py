"""`osls package` run offline, once per session: arm64 (the target) and x86_64 (runnable here).

Both runs use dummy AWS credentials and reach no network but the package registries
(pip's, for wheels; cached in .build/cache after the first run). The arm64 run has
every setting exported with sentinel values, so tests can see exactly where each one
lands in the template; the x86_64 run has none exported and SnapStart switched on.
"""

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from moto import mock_aws

from tests.support.lambda_account import LambdaAccount, answer_account_settings
from tests.support.packaging import (
    FRONTEND_ORIGINS,
    OPERATED_PARAMS,
    OPERATED_STAGE,
    RUNTIME_INITS,
    SECRET_ID,
    SENTINELS,
    SIZE_TABLES,
    TIMINGS,
    Packaged,
    osls_env,
    package,
)
from tests.support.stage_aws import dummy_credentials, without_aws


@pytest.fixture(scope="session")
def arm64(tmp_path_factory: pytest.TempPathFactory) -> Packaged:
    """The arm64 packages and template, every setting exported (as a sentinel; two
    frontend origins)."""
    out = tmp_path_factory.mktemp("package-arm64")
    return package("arm64", out, osls_env({**SENTINELS, "FRONTEND_ORIGIN": FRONTEND_ORIGINS}))


@pytest.fixture(scope="session")
def x86_64(tmp_path_factory: pytest.TempPathFactory) -> Packaged:
    """The same packaging for x86_64, nothing exported, SnapStart on."""
    out = tmp_path_factory.mktemp("package-x86_64")
    env = osls_env({"PACKAGE_ARCH": "x86_64"})
    return package("x86_64", out, env, "--param", "snapStart=true")


@pytest.fixture(scope="session")
def operated(tmp_path_factory: pytest.TempPathFactory) -> Packaged:
    """Stage dev as an operator runs it: settings from Secrets Manager (every one still
    exported, as a sentinel), alarms notifying a topic, a customer-managed KMS key."""
    out = tmp_path_factory.mktemp("package-operated")
    env = osls_env({**SENTINELS, "DATABASE_URL_SECRET": SECRET_ID})
    params = [arg for item in OPERATED_PARAMS.items() for arg in ("--param", "=".join(item))]
    return package("arm64", out, env, *params, stage=OPERATED_STAGE)


@pytest.fixture
def no_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    """This process with no AWS credentials anywhere (variables, ~/.aws, instance metadata);
    returns that environment, for a subprocess."""
    env = without_aws(os.environ, tmp_path)
    for name in [name for name in os.environ if name.startswith("AWS_")]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        if name.startswith("AWS_"):
            monkeypatch.setenv(name, value)
    return env


@pytest.fixture
def moto_account(
    no_aws: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[LambdaAccount]:
    """moto for every AWS call, with dummy credentials and Lambda's account settings (quota
    1,000 unless a test lowers it)."""
    for name, value in dummy_credentials().items():
        monkeypatch.setenv(name, value)
    with mock_aws(config={"lambda": {"use_docker": False}}):
        yield answer_account_settings()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Package sizes and packaging times at the end of the run, so regressions show."""
    if not SIZE_TABLES and not TIMINGS and not RUNTIME_INITS:
        return
    terminalreporter.section("Lambda packages")
    for table in SIZE_TABLES:
        terminalreporter.write_line(table)
    for name, seconds in TIMINGS.items():
        terminalreporter.write_line(f"{name}: {seconds:.1f} s")
    for line in RUNTIME_INITS:
        terminalreporter.write_line(line)
