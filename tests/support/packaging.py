"""Packaging Lambda zips with `osls package` offline, for the deploy suites (tests/deploy).

Both arches run with dummy AWS credentials and reach no network but the package registries
(pip's, for wheels; cached in .build/cache after the first run).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from infra import ROOT
from infra.local import neon_local
from infra.local.runtime.fleet import layer_keys
from infra.packaging import package_build, package_check
from tests.support.tokens import SECRET

OSLS = ROOT / "node_modules" / ".bin" / "osls"
STAGE = "ci"
PACKAGE_TIMEOUT = 600
# Values no real deployment has (placeholders in the credential scanner's sense), none a
# substring of another, so each can be traced to where it lands.
SENTINELS = {
    "DATABASE_URL": "postgresql://SENTINEL_USER:SENTINEL_POOLED_PASSWORD@ep-sentinel-pooler"
    ".us-east-1.aws.neon.tech/neondb?sslmode=require&channel_binding=require",
    "DATABASE_URL_DIRECT": "postgresql://SENTINEL_USER:SENTINEL_DIRECT_PASSWORD@ep-sentinel"
    ".us-east-1.aws.neon.tech/neondb?sslmode=require&channel_binding=require",
    "BETTER_AUTH_URL": "https://sentinel-auth.example.com",
    "BETTER_AUTH_SECRET": "SENTINEL_AUTH_SECRET",
    "AUTH_JWKS_URL": "https://sentinel-jwks.example.com/keys",
    "AUTH_ISSUER": "https://sentinel-issuer.example.com",
    "AUTH_AUDIENCE": "https://sentinel-audience.example.com",
    "AUTH_ALGORITHMS": "SENTINEL_ALGORITHMS",
    "FRONTEND_ORIGIN": "https://sentinel-origin.example.com",
}
# The arm64 template's FRONTEND_ORIGIN: the sentinel with the trailing slash an address bar
# shows, and a second origin, as an operator with a local and a deployed frontend writes it.
FRONTEND_ORIGINS = f"{SENTINELS['FRONTEND_ORIGIN']}/, http://localhost:3000"
# Never inherited from the developer's shell: a real value would end up in the template.
_SCRUBBED_PREFIXES = ("AWS_", "DATABASE_URL", "BETTER_AUTH_", "AUTH_", "FRONTEND_ORIGIN")
_SCRUBBED = ("PACKAGE_ARCH", "SLS", "PYTHON")


@dataclass
class Packaged:
    """One `osls package` run: its template, its zips and what it printed."""

    arch: str
    output_dir: Path
    template: dict[str, Any]
    zips: dict[str, Path]
    output: str
    seconds: float
    resources: dict[str, Any] = field(init=False)
    modules: dict[str, str] = field(init=False)
    configs: dict[str, dict[str, Any]] = field(init=False)

    def __post_init__(self) -> None:
        self.resources = self.template["Resources"]
        functions = self.of_type("AWS::Lambda::Function").values()
        # Function name (its zip's name) -> its properties, the module its handler lives in.
        self.configs = {
            Path(fn["Properties"]["Code"]["S3Key"]).stem: fn["Properties"] for fn in functions
        }
        self.modules = {
            name: props["Handler"].rsplit(".", 1)[0].replace("/", ".")
            for name, props in self.configs.items()
        }

    def layer_zips(self, function: str) -> list[Path]:
        """The zips of one function's layers, in the order Lambda unpacks them into /opt."""
        built = package_build.built_layers(ROOT / ".build" / self.arch)
        return [built[Path(key).name] for key in layer_keys(self.template, self.configs[function])]

    def of_type(self, kind: str) -> dict[str, Any]:
        """The template's resources of one CloudFormation type, by logical id."""
        return {key: value for key, value in self.resources.items() if value["Type"] == kind}


TIMINGS: dict[str, float] = {}
SIZE_TABLES: list[str] = []
# Each packaged function's init duration under the Lambda runtime (reported, not asserted).
RUNTIME_INITS: list[str] = []


def osls_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This environment minus anything AWS or app-specific, plus dummy credentials."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(_SCRUBBED_PREFIXES) and name not in _SCRUBBED
    }
    env.update(
        AWS_ACCESS_KEY_ID="dummy-access-key-id",
        AWS_SECRET_ACCESS_KEY="dummy-secret-access-key",
        AWS_REGION="us-east-1",
        AWS_EC2_METADATA_DISABLED="true",
        PYTHON=sys.executable,
    )
    env.update(extra or {})
    return env


def run_osls(args: list[str], env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    """The pinned osls with ``args``, output captured."""
    return subprocess.run(
        [str(OSLS), *args],
        cwd=ROOT,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=PACKAGE_TIMEOUT,
        check=False,
    )


def require_osls() -> None:
    """Skip when Node itself is missing; fail when only `npm ci` was not run."""
    if shutil.which("node") is None:
        pytest.skip("node is not installed: the osls packaging tests need Node 20+")
    if not OSLS.exists():
        pytest.fail("node_modules/.bin/osls is missing: run `npm ci` (make bootstrap)")


def package(
    arch: str, out: Path, env: Mapping[str, str], *params: str, stage: str = STAGE
) -> Packaged:
    """`osls package --stage ci` (or ``stage``) into ``out``; fails the test with osls's output."""
    require_osls()
    started = time.monotonic()
    args = ["package", "--stage", stage, "--package", str(out), *params]
    result = run_osls(args, env)
    seconds = time.monotonic() - started
    output = result.stdout + result.stderr
    label = arch if stage == STAGE else f"{arch} --stage {stage}"
    assert result.returncode == 0, f"osls package ({label}) failed:\n{output}"
    TIMINGS.setdefault(f"osls package {label}", seconds)  # the first: a later one is cached
    if stage != STAGE:  # the same zips as the ci run's: one size table is enough
        return Packaged(arch, out, json.loads(_template_path(out).read_text()), {}, output, seconds)
    template = json.loads(_template_path(out).read_text())
    zips = _artifacts(template, arch)
    sizes = package_check.format_sizes(package_check.measure(path) for path in zips.values())
    if not any(table.startswith(f"{arch}:") for table in SIZE_TABLES):
        SIZE_TABLES.append(f"{arch}:\n{sizes}")
    return Packaged(arch, out, template, zips, output, seconds)


def _template_path(out: Path) -> Path:
    return out / "cloudformation-template-update-stack.json"


def _artifacts(template: dict[str, Any], arch: str) -> dict[str, Path]:
    # The template names each function's zip; anything else in .build is not this run's.
    functions = [
        resource["Properties"]
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::Lambda::Function"
    ]
    names = sorted(Path(props["Code"]["S3Key"]).stem for props in functions)
    return {name: ROOT / ".build" / arch / f"{name}.zip" for name in names}


def database_env(stack: neon_local.Stack, database: str | None = None) -> dict[str, str]:
    """The session's stack (or one of its databases) and HS256 auth, as deployed settings."""
    urls = {"DATABASE_URL": stack.database_url, "DATABASE_URL_DIRECT": stack.direct_url}
    if database is not None:
        urls = {k: url.replace(f"/{stack.database}?", f"/{database}?") for k, url in urls.items()}
    return {**urls, "BETTER_AUTH_SECRET": SECRET}


# The operated stage: its secret (named in DATABASE_URL_SECRET), alarm topic and KMS key.
OPERATED_STAGE = "dev"
SECRET_ID = "todo-api/dev-sentinel"
OPERATED_PARAMS = {
    "secretsFrom": "secretsmanager",
    "alarms": "true",
    "alarmTopicArn": "arn:aws:sns:us-east-1:123456789012:todo-api-ops",
    "kmsKeyArn": "arn:aws:kms:us-east-1:123456789012:key/00000000-0000-4000-8000-000000000000",
}
