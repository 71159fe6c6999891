"""The x86_64 build of the same packaging, unzipped alone, runs each handler.

Each zip is unpacked into an empty, read-only directory (as Lambda's /var/task is), its
layers into another (as Lambda's /opt is), and run by a CPython 3.12 without
site-packages with the package, then the layers' python/, on PYTHONPATH (Lambda's
order), so only those and the standard library can be imported. ``-v`` shows whether
each module came from the shipped bytecode or had to be compiled.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from infra.local import neon_local
from infra.local.runtime.fleet import unpack_layers
from infra.packaging import package_build
from infra.serverless.routes import functions, routes
from tests.support.events import http_api_event
from tests.support.packaging import Packaged
from tests.support.routes import sample
from tests.support.tokens import SECRET, USER_ID, claims, hs256

PYTHON312 = package_build.find_python312()
RUNNER = """
import importlib, json, sys
request = json.load(sys.stdin)
handler = importlib.import_module(request["module"]).handler

class Context:
    function_name = "todo-api-ci-" + request["module"].rsplit(".", 1)[-1]
    function_version = "$LATEST"
    memory_limit_in_mb = 1024
    aws_request_id = "c0ffee00-0000-4000-8000-000000000000"
    log_group_name = "/aws/lambda/" + function_name
    log_stream_name = "2026/01/01/[$LATEST]0123456789abcdef"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:" + function_name
    def get_remaining_time_in_millis(self):
        return 25000

outside = [m.__file__ for m in list(sys.modules.values())
           if getattr(m, "__file__", None) and "site-packages" in m.__file__]
print("RESULT " + json.dumps({"reply": handler(request["event"], Context()), "outside": outside}))
"""
_COMPILED = re.compile(r"^# code object from '?(?P<path>[^']+\.py)'?$", re.MULTILINE)

pytestmark = pytest.mark.skipif(PYTHON312 is None, reason="needs a CPython 3.12 (python3.12)")


@dataclass(frozen=True)
class Run:
    """What one handler invocation in a clean interpreter answered and compiled."""

    reply: Any
    compiled: list[str]
    outside: list[str]


@dataclass(frozen=True)
class Unpacked:
    """One function as Lambda lays it out: its code (/var/task) and its layers (/opt)."""

    code: Path
    opt: Path


def read_only(tree: Path) -> Path:
    """Make ``tree`` read-only, as Lambda's code and layer directories are."""
    for path in [tree, *tree.rglob("*")]:
        path.chmod(0o555 if path.is_dir() else 0o444)
    return tree


def unpack(zip_path: Path, into: Path) -> Path:
    """Unzip into an empty folder and make it read-only, as Lambda's code directory is."""
    target = into / zip_path.stem
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(target)
    return read_only(target)


def run(package: Unpacked, module: str, event: dict[str, Any], env: dict[str, str]) -> Run:
    """Invoke ``module``'s handler from ``package`` and its layers, in a fresh CPython 3.12."""
    assert PYTHON312 is not None
    result = subprocess.run(
        [PYTHON312, "-P", "-s", "-S", "-v", "-c", RUNNER],
        input=json.dumps({"module": module, "event": event}),
        cwd=package.code,
        # The child's whole environment; PYTHONPATH names the package, then its layers.
        env={
            "PATH": os.environ.get("PATH", ""),
            "PYTHONPATH": f"{package.code}:{package.opt / 'python'}",
            "AWS_REGION": "us-east-1",
            **env,
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("RESULT ")]
    assert result.returncode == 0 and lines, result.stdout[-3000:] + result.stderr[-3000:]
    answer = json.loads(lines[-1].removeprefix("RESULT "))
    ours = (str(package.code), str(package.opt))
    compiled = [m["path"] for m in _COMPILED.finditer(result.stderr) if m["path"].startswith(ours)]
    return Run(answer["reply"], compiled, answer["outside"])


def closed_port() -> int:
    """A loopback port nobody listens on: the database is 'down' without any waiting."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def unpacked(
    x86_64: Packaged, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Unpacked]]:
    """Every x86_64 zip unpacked on its own, beside its layers (one /opt per set of them)."""
    root = tmp_path_factory.mktemp("unpacked")
    opts: dict[tuple[Path, ...], Path] = {}
    packages = {}
    for name, path in x86_64.zips.items():
        layers = tuple(x86_64.layer_zips(name))
        if layers not in opts:
            opts[layers] = read_only(unpack_layers(layers, root / f"opt-{len(opts)}"))
        packages[name] = Unpacked(unpack(path, root), opts[layers])
    yield packages
    for path in [root, *root.rglob("*")]:
        if path.is_dir():
            path.chmod(0o755)
    shutil.rmtree(root)


NO_DATABASE = {
    "DATABASE_URL": f"postgresql://app:pw@127.0.0.1:{closed_port()}/app?sslmode=disable",
    "DB_CONNECT_ATTEMPTS": "1",
    "BETTER_AUTH_SECRET": SECRET,
}
# Without a token a task route refuses (401) before it needs the database; health needs
# it (503); the docs function answers from the package alone.
STATUS_WITHOUT_DATABASE = {"health": 503, "docs": 200}
ROUTES = {route.key: route for route in routes()}


@pytest.mark.parametrize("route_key", list(ROUTES))
def test_packaged_handler_answers_alone(
    x86_64: Packaged, unpacked: dict[str, Unpacked], route_key: str
) -> None:
    # GIVEN one function's package alone on the path, no database, no token
    route = ROUTES[route_key]
    package, module = unpacked[route.function], x86_64.modules[route.function]
    path, _ = sample(route, "u-1")
    # WHEN its handler gets an API Gateway event
    answer = run(package, module, http_api_event(route.method, path), NO_DATABASE)
    # THEN it answers as the route should, importing nothing from outside the package
    # and compiling nothing: every module came from the shipped 3.12 bytecode
    expected = STATUS_WITHOUT_DATABASE.get(route.function, 401)
    assert answer.reply["statusCode"] == expected, answer.reply
    assert answer.outside == []
    assert answer.compiled == []


@pytest.fixture(scope="module")
def stack_env(stack: neon_local.Stack) -> dict[str, str]:
    """The session's database stack and HS256 auth, as a deployed function's environment."""
    return {
        "DATABASE_URL": stack.database_url,
        "DATABASE_URL_DIRECT": stack.direct_url,
        "BETTER_AUTH_SECRET": SECRET,
    }


@pytest.mark.parametrize("job", [fn.name for fn in functions() if fn.is_job])
def test_packaged_job_runs_against_the_database(
    x86_64: Packaged, unpacked: dict[str, Unpacked], stack_env: dict[str, str], job: str
) -> None:
    # GIVEN a job's package alone and a migrated database
    # WHEN the job's handler is invoked as infra/deploy/deployer.py invokes it (an empty event)
    answer = run(unpacked[job], x86_64.modules[job], {}, stack_env)
    # THEN it reports success: Alembic, the revisions and the spec are all in the zip
    assert answer.compiled == []
    if job == "migrate":
        assert answer.reply["action"] == "up-to-date"
    else:
        assert answer.reply["problems"] == []


def test_packaged_api_round_trip(
    x86_64: Packaged, unpacked: dict[str, Unpacked], stack_env: dict[str, str]
) -> None:
    # GIVEN the create and list packages, a database and a valid token
    headers = {"authorization": f"Bearer {hs256(claims('https://auth.example.com'))}"}
    collection = f"/api/{USER_ID}/tasks"
    body = json.dumps({"title": "shipped in a zip"})
    json_headers = {**headers, "content-type": "application/json"}
    create = http_api_event("POST", collection, headers=json_headers, body=body)
    listing = http_api_event("GET", collection, headers=headers)
    # WHEN a task is created, then listed, each by its own packaged function
    created = run(unpacked["createTask"], x86_64.modules["createTask"], create, stack_env)
    listed = run(unpacked["listTasks"], x86_64.modules["listTasks"], listing, stack_env)
    # THEN both succeed end to end through pg8000, TLS and PgBouncer
    assert created.reply["statusCode"] == 201, created.reply
    assert listed.reply["statusCode"] == 200, listed.reply
    titles = [task["title"] for task in json.loads(listed.reply["body"])]
    assert "shipped in a zip" in titles
