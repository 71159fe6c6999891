"""A stage's AWS side as the preflight meets it, built in moto: secret, stack, functions.

Also an AWS endpoint that never answers, and an environment with no AWS credentials at
all (no variables, no ~/.aws files, no instance metadata), for the checks' failure paths.
"""

from __future__ import annotations

import io
import json
import os
import socket
import threading
import zipfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import boto3

from infra.deploy.stage import function_name, stack_name

REGION = "us-east-1"
PASSWORD = "SENTINEL_PREFLIGHT_PASSWORD"
POOLED = (
    f"postgresql://app:{PASSWORD}@ep-calm-sea-123456-pooler.{REGION}.aws.neon.tech/neondb"
    "?sslmode=require&channel_binding=require"
)
DIRECT = POOLED.replace("-pooler.", ".")
ELSEWHERE = f"postgresql://app:{PASSWORD}@db.example.com/app?sslmode=require"
# The core template osls creates first: the deployment bucket and its name as an output.
_CORE_TEMPLATE = {
    "Resources": {"ServerlessDeploymentBucket": {"Type": "AWS::S3::Bucket"}},
    "Outputs": {"ServerlessDeploymentBucketName": {"Value": {"Ref": "ServerlessDeploymentBucket"}}},
}
# The variables that would let boto3 find credentials or a region outside the test's own.
_AWS_PREFIXES = ("AWS_",)


def without_aws(env: Mapping[str, str], home: Path) -> dict[str, str]:
    """``env`` with no way to find AWS credentials: no variables, files or metadata service."""
    scrubbed = {k: v for k, v in env.items() if not k.startswith(_AWS_PREFIXES)}
    scrubbed.update(
        AWS_CONFIG_FILE=str(home / "aws-config-absent"),
        AWS_SHARED_CREDENTIALS_FILE=str(home / "aws-credentials-absent"),
        AWS_EC2_METADATA_DISABLED="true",
    )
    return scrubbed


def dummy_credentials() -> dict[str, str]:
    """Credentials moto accepts (any would do) and the stage's region."""
    return {
        "AWS_ACCESS_KEY_ID": "preflight-dummy-key",
        "AWS_SECRET_ACCESS_KEY": "preflight-dummy-secret",
        "AWS_REGION": REGION,
    }


def put_secret(name: str, **values: str) -> None:
    """The stage's JSON secret, as an operator stores it (README: Secrets)."""
    client = boto3.client("secretsmanager", region_name=REGION)
    client.create_secret(Name=name, SecretString=json.dumps(values))


def deploy_stack(stage: str) -> str:
    """The stage's stack as a first deploy leaves it: its bucket, named in its outputs."""
    cloudformation = boto3.client("cloudformation", region_name=REGION)
    name = stack_name(stage)
    cloudformation.create_stack(StackName=name, TemplateBody=json.dumps(_CORE_TEMPLATE))
    outputs = cloudformation.describe_stacks(StackName=name)["Stacks"][0]["Outputs"]
    named = {o["OutputKey"]: str(o["OutputValue"]) for o in outputs}
    return named["ServerlessDeploymentBucketName"]


def create_functions(stage: str, reserved: Mapping[str, int]) -> None:
    """The stage's functions, each holding its reserved concurrency (as a deploy leaves them)."""
    iam = boto3.client("iam", region_name=REGION)
    role = iam.create_role(
        RoleName=f"todo-api-{stage}-{REGION}-lambdaRole", AssumeRolePolicyDocument="{}"
    )
    client = boto3.client("lambda", region_name=REGION)
    for name, concurrency in reserved.items():
        deployed = function_name(stage, name)
        client.create_function(
            FunctionName=deployed,
            Runtime="python3.12",
            Role=role["Role"]["Arn"],
            Handler="functions/health.handler",
            Code={"ZipFile": _zip()},
        )
        client.put_function_concurrency(
            FunctionName=deployed, ReservedConcurrentExecutions=concurrency
        )


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("functions/health.py", "def handler(event, context):\n    return {}\n")
    return buffer.getvalue()


@contextmanager
def silent_endpoint() -> Iterator[str]:
    """An endpoint on loopback that accepts connections and never answers (a hung AWS)."""
    server = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(timeout=2)
        for connection in held:
            connection.close()
        server.close()


def environ_for(extra: Mapping[str, str]) -> dict[str, str]:
    """This process's environment plus ``extra`` (for a subprocess)."""
    return {**os.environ, **extra}
