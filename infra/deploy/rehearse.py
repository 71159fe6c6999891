"""An offline deploy rehearsal: `osls deploy` to moto on loopback, then run what it stored.

    python -m infra.deploy.rehearse [--stage rehearsal]  # `make rehearse`: on the local stack

1. moto_server starts on a free loopback port; osls and boto3 reach it through
   AWS_ENDPOINT_URL with dummy credentials (nothing leaves the machine).
2. ``osls package`` + ``osls deploy`` of the stage, for this machine's architecture, with
   DATABASE_URL / DATABASE_URL_DIRECT from the environment (the local stack) and a
   random BETTER_AUTH_SECRET.
3. The stack is read back: every function's handler, runtime, architecture, memory,
   timeout, environment, role and layers, compared with the template osls wrote; each
   function's zip and each layer's are fetched from the deployment bucket and checked
   against the CodeSha256 the emulator holds.
4. Those zips run under the Lambda runtime (infra/local/runtime/fleet.py) with the
   environment the emulator holds, each function's layers unpacked as its /opt:
   migrate and verify (checked as infra/deploy/deployer.py checks them), then an API Gateway
   event for every route.
5. ``osls remove``, and moto stops.

moto does not model everything, and the rehearsal says so (NOT_MODELLED): the template
tests (tests/deploy/test_template.py) cover those parts instead.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from infra import ROOT
from infra.deploy import deployer
from infra.deploy.rehearse_requests import check_routes
from infra.deploy.stage import (
    DEFAULT_REGION,
    SERVICE,
    SSM_SETTINGS,
    DeployError,
    check_environment,
)
from infra.local.neon_local import free_port
from infra.local.runtime import emulator
from infra.local.runtime.fleet import Fleet, FunctionSpec, unpack, unpack_layers
from infra.serverless import routes

STAGE = "rehearsal"
REGION = DEFAULT_REGION
DUMMY_KEY, DUMMY_SECRET = "rehearsal-dummy-key", "rehearsal-dummy-secret"
# Compared between the stack moto holds and the template osls wrote.
LAMBDA = "AWS::Lambda::Function"
CHECKED = ("Handler", "Runtime", "Architectures", "MemorySize", "Timeout")
NOT_MODELLED = (
    "HTTP API (ApiGatewayV2) routes, integrations, stage, CORS and access logs: moto "
    "creates none of them; tests/deploy/test_template.py checks them in the template",
    "active tracing: moto stores PassThrough; the template test checks TracingConfig",
    "IAM: the role exists but nothing is enforced; the template test checks its policy",
    "SnapStart, log retention and Lambda's own limits (memory, concurrency, timeouts)",
    "a function's Layers and layer names: moto's CloudFormation drops the property and "
    "names layers after the stack, so each function runs with the layers the template "
    "gives it, each matched by content to a version moto published from the deployment "
    "bucket; the template tests check the attachment",
)


class RehearsalFailed(Exception):
    """A step of the rehearsal failed; the message says which and why."""


@dataclass(frozen=True)
class Aws:
    """boto3 clients for the emulator only (never the operator's account)."""

    endpoint: str

    def client(self, service: str) -> Any:
        session = boto3.session.Session(DUMMY_KEY, DUMMY_SECRET, region_name=REGION)
        make: Any = session.client  # typed per service name; any service goes here
        return make(service, endpoint_url=self.endpoint)


@dataclass(frozen=True)
class Stored:
    """One function as the emulator holds it: its configuration, its zip, its layers'."""

    name: str  # serverless.yml's name
    config: dict[str, Any]
    zip_bytes: bytes
    layers: tuple[bytes, ...] = ()  # in the order Lambda unpacks them


@contextmanager
def moto_server() -> Iterator[str]:
    """moto_server on a free loopback port; yields its endpoint URL."""
    port = free_port()
    command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_listening(port, process)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def _wait_listening(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RehearsalFailed("moto_server did not start")


def aws_env(endpoint: str, settings: Mapping[str, str]) -> dict[str, str]:
    """This environment without AWS or app settings, pointed at the emulator, + ``settings``."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k not in SSM_SETTINGS
    }
    env.update(
        AWS_ENDPOINT_URL=endpoint,
        AWS_ACCESS_KEY_ID=DUMMY_KEY,
        AWS_SECRET_ACCESS_KEY=DUMMY_SECRET,
        AWS_REGION=REGION,
        AWS_DEFAULT_REGION=REGION,
        AWS_EC2_METADATA_DISABLED="true",
        PACKAGE_ARCH=emulator.host_arch(),
        PYTHON=sys.executable,
        **settings,
    )
    return env


def osls(command: str, stage: str, env: Mapping[str, str], *extra: str) -> None:
    """The pinned osls, output streamed; RehearsalFailed when it fails."""
    args = [*deployer.default_cli(), command, "--stage", stage, "--region", REGION, *extra]
    print(f"rehearse: osls {command} --stage {stage} {' '.join(extra)}", flush=True)
    if subprocess.run(args, cwd=ROOT, env=dict(env), check=False).returncode != 0:
        raise RehearsalFailed(f"osls {command} failed")


def read_back(aws: Aws, stage: str, package_dir: Path) -> list[Stored]:
    """Every function of the stack as the emulator stores it, checked against the template."""
    template = json.loads((package_dir / "cloudformation-template-update-stack.json").read_text())
    functions = [r["Properties"] for r in template["Resources"].values() if r["Type"] == LAMBDA]
    expected = {props["FunctionName"]: props for props in functions}
    bucket = _deployment_bucket(aws, f"{SERVICE}-{stage}")
    stored = [_stored(aws, fn.name, stage, bucket, expected) for fn in routes.functions()]
    stored = [_with_layers(aws, bucket, item, template) for item in stored]
    _check_role(aws, {s.config["Role"] for s in stored})
    return stored


def _deployment_bucket(aws: Aws, stack: str) -> str:
    resource = aws.client("cloudformation").describe_stack_resource(
        StackName=stack, LogicalResourceId="ServerlessDeploymentBucket"
    )
    return str(resource["StackResourceDetail"]["PhysicalResourceId"])


def _stored(aws: Aws, name: str, stage: str, bucket: str, expected: Mapping[str, Any]) -> Stored:
    deployed = deployer.function_name(stage, name)
    answer = aws.client("lambda").get_function(FunctionName=deployed)
    config: dict[str, Any] = dict(answer["Configuration"])
    want = expected[deployed]
    for key in CHECKED:
        if config.get(key) != want.get(key, config.get(key)):
            raise RehearsalFailed(f"{deployed}: {key} is {config.get(key)}, not {want.get(key)}")
    if config.get("Environment", {}).get("Variables") != want["Environment"]["Variables"]:
        raise RehearsalFailed(f"{deployed}: its environment differs from the template's")
    key = want["Code"]["S3Key"]
    body = aws.client("s3").get_object(Bucket=bucket, Key=key)["Body"]
    zip_bytes = body.read()
    digest = base64.b64encode(hashlib.sha256(zip_bytes).digest()).decode()
    if digest != config["CodeSha256"]:
        raise RehearsalFailed(f"{deployed}: s3://{bucket}/{key} is not the code it holds")
    return Stored(name, config, zip_bytes)


def _with_layers(aws: Aws, bucket: str, item: Stored, template: Mapping[str, Any]) -> Stored:
    """``item`` with the zips of the layers the template gives it, each one the emulator
    published (moto names layers after the stack, so they are matched by content)."""
    resources = template["Resources"]
    function = resources[_logical_id(template, item.config["FunctionName"])]["Properties"]
    held = _held_layers(aws)
    found = []
    for ref in function.get("Layers") or []:
        key = resources[ref["Ref"]]["Properties"]["Content"]["S3Key"]
        zip_bytes = aws.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
        if base64.b64encode(hashlib.sha256(zip_bytes).digest()).decode() not in held:
            raise RehearsalFailed(f"no layer version holds s3://{bucket}/{key}")
        found.append(zip_bytes)
    return Stored(item.name, item.config, item.zip_bytes, tuple(found))


def _logical_id(template: Mapping[str, Any], function_name: str) -> str:
    for key, resource in template["Resources"].items():
        if resource["Type"] == LAMBDA and resource["Properties"]["FunctionName"] == function_name:
            return str(key)
    raise RehearsalFailed(f"{function_name} is not in the template")


def _held_layers(aws: Aws) -> set[str]:
    """The CodeSha256 of the newest version of every layer the emulator holds."""
    client = aws.client("lambda")
    found = set()
    for layer in client.list_layers()["Layers"]:
        version = layer["LatestMatchingVersion"]["Version"]
        answer = client.get_layer_version(LayerName=layer["LayerName"], VersionNumber=version)
        found.add(answer["Content"]["CodeSha256"])
    return found


def _check_role(aws: Aws, arns: set[str]) -> None:
    if len(arns) != 1:
        raise RehearsalFailed(f"the functions should share one role, not {sorted(arns)}")
    role = aws.client("iam").get_role(RoleName=next(iter(arns)).rsplit("/", 1)[1])["Role"]
    principals = json.dumps(role["AssumeRolePolicyDocument"])
    if "lambda.amazonaws.com" not in principals:
        raise RehearsalFailed(f"{role['RoleName']} cannot be assumed by Lambda")


def describe(stored: list[Stored]) -> Iterator[str]:
    """A line per function: what the stack read back says about it."""
    yield f"{'function':<32} {'handler':<32} runtime    arch    MB  timeout  env  role"
    for item in stored:
        c = item.config
        yield (
            f"{c['FunctionName']:<32} {c['Handler']:<32} {c['Runtime']:<10} "
            f"{c['Architectures'][0]:<6} {c['MemorySize']:>4} {c['Timeout']:>6} s "
            f"{len(c['Environment']['Variables']):>4}  {c['Role'].rsplit('/', 1)[1]}"
        )


def run_stored(stored: list[Stored], secret: str, scratch: Path) -> list[str]:
    """Jobs, then every route, from the stored zips under the Lambda runtime."""
    opts: dict[tuple[bytes, ...], Path] = {}
    for item in stored:
        if item.layers not in opts:
            opts[item.layers] = _layers_unpacked(item.layers, scratch / f"opt-{len(opts)}")
    specs = {
        item.name: FunctionSpec.from_config(
            item.config, _unpacked(item, scratch), opt=opts[item.layers]
        )
        for item in stored
    }
    with Fleet(specs) as fleet:
        head = deployer.head_revision()
        for job in deployer.JOBS:
            payload = fleet.invoke(job, {})
            print(f"rehearse: {job}: {deployer.check_report(job, job, payload, head)}", flush=True)
        for line in check_routes(fleet, secret):
            print(f"rehearse: {line}", flush=True)
        return fleet.init_report()


def _unpacked(item: Stored, scratch: Path) -> Path:
    archive = scratch / f"{item.name}.zip"
    archive.write_bytes(item.zip_bytes)
    return unpack(archive, scratch / item.name)


def _layers_unpacked(layers: tuple[bytes, ...], into: Path) -> Path:
    zips = []
    for index, zip_bytes in enumerate(layers):
        zips.append(into.with_name(f"{into.name}-{index}.zip"))
        zips[-1].write_bytes(zip_bytes)
    return unpack_layers(zips, into)


def rehearse(stage: str, settings: Mapping[str, str]) -> None:
    """Deploy ``stage`` to moto, read it back, run it, remove it."""
    check_environment(settings)
    secret = secrets.token_urlsafe(32)
    with moto_server() as endpoint, tempfile.TemporaryDirectory() as scratch:
        env = aws_env(endpoint, {**settings, "BETTER_AUTH_SECRET": secret})
        package_dir = Path(scratch) / "package"
        osls("package", stage, env, "--package", str(package_dir))
        osls("deploy", stage, env, "--package", str(package_dir))
        try:
            stored = read_back(Aws(endpoint), stage, package_dir)
            print("\n".join(describe(stored)), flush=True)
            for line in run_stored(stored, secret, Path(scratch)):
                print(f"rehearse: init under the Lambda runtime: {line}", flush=True)
        finally:
            osls("remove", stage, env)
    print("rehearse: not modelled by the emulator (covered by the template tests):")
    for line in NOT_MODELLED:
        print(f"  - {line}")
    print(f"rehearse: stage {stage} deployed, read back, run and removed", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", default=STAGE)
    args = parser.parse_args(argv)
    settings = {
        k: os.environ[k] for k in ("DATABASE_URL", "DATABASE_URL_DIRECT") if k in os.environ
    }
    try:
        rehearse(args.stage, settings)
    except (RehearsalFailed, DeployError) as exc:
        print(f"rehearse: FAILED: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
