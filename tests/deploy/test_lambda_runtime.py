"""Every packaged function under the Lambda runtime: the emulator hosting awslambdaric.

The zips are the ones `osls package` builds for this machine's architecture (x86_64
here; the arm64 zips that ship are inspected, not run: tests/deploy/test_packages.py).
Each function runs unzipped in its own emulated execution environment
(infra/local/runtime/fleet.py) with the template's environment, the session's database and
HS256 auth, and gets real API Gateway events (tests/support/events.py) for its routes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from infra.deploy import deployer
from infra.local import neon_local
from infra.local.runtime import emulator
from infra.local.runtime.fleet import (
    Fleet,
    FunctionSpec,
    Invocation,
    LambdaRuntime,
    snapshot,
    unpack,
    unpack_layers,
)
from infra.local.runtime.invoker import packaged_fleet
from infra.serverless.routes import HttpRoute, function, functions
from tests.support.events import decode_response, http_api_event, rest_api_event
from tests.support.packaging import RUNTIME_INITS, Packaged, database_env
from tests.support.routes import sample
from tests.support.tokens import claims, hs256

EVENT_BUILDERS: dict[str, Callable[..., dict[str, Any]]] = {
    "http-api-v2": http_api_event,
    "rest-api-v1": rest_api_event,
}
# What a request that succeeds answers, by method (every route here follows HTTP's rule).
SUCCESS = {"POST": 201, "DELETE": 204}
ISSUER = "https://auth.example.com"


@dataclass
class Deployed:
    """The unpacked functions, a warm runtime for each, and their code as unzipped."""

    fleet: Fleet
    codes: dict[str, Path]
    pristine: dict[str, dict[str, tuple[int, int]]]
    configs: dict[str, dict[str, Any]]
    opts: dict[str, Path]  # each function's layers, unzipped: its /opt

    def invoke(self, name: str, event: Any) -> Invocation:
        return self.fleet.runtime(name).invoke(event)


def template_configs(packaged: Packaged) -> dict[str, dict[str, Any]]:
    """Each function's AWS::Lambda::Function properties, by serverless.yml name (zip stem)."""
    found = packaged.of_type("AWS::Lambda::Function").values()
    return {Path(fn["Properties"]["Code"]["S3Key"]).stem: fn["Properties"] for fn in found}


@pytest.fixture(scope="module")
def native(request: pytest.FixtureRequest) -> Packaged:
    """The packages built for this machine's architecture: the ones that can run here."""
    packaged: Packaged = request.getfixturevalue(emulator.host_arch())
    return packaged


def opt_dirs(packaged: Packaged, root: Path) -> dict[str, Path]:
    """Each function's /opt: its layers unzipped in order, one folder per set of layers."""
    made: dict[tuple[Path, ...], Path] = {}
    found = {}
    for name in packaged.zips:
        layers = tuple(packaged.layer_zips(name))
        if layers not in made:
            made[layers] = unpack_layers(layers, root / f"opt-{len(made)}")
        found[name] = made[layers]
    return found


def _by_opt(opts: dict[str, Path]) -> dict[str, Path]:
    return {path.name: path for path in opts.values()}


@pytest.fixture(scope="module")
def deployed(
    native: Packaged, stack: neon_local.Stack, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployed]:
    """Every zip unpacked beside its layers, each function configured as the template
    says, none started."""
    root = tmp_path_factory.mktemp("lambda-task")
    codes = {name: unpack(path, root / name) for name, path in native.zips.items()}
    opts = opt_dirs(native, root)
    configs = template_configs(native)
    env = database_env(stack)
    specs = {
        name: FunctionSpec.from_config(configs[name], codes[name], env, opts[name])
        for name in codes
    }
    pristine = {name: snapshot(tree) for name, tree in {**codes, **_by_opt(opts)}.items()}
    with Fleet(specs, native.arch) as fleet:
        yield Deployed(fleet, codes, pristine, configs, opts)
        RUNTIME_INITS.extend(f"{native.arch} under the RIE: {line}" for line in fleet.init_report())


def request_for(route: HttpRoute, version: str, user_id: str, task_id: int) -> dict[str, Any]:
    """A real API Gateway event for ``route`` with a valid token and a sample body."""
    path, body = sample(route, user_id, task_id)
    token = hs256(claims(ISSUER, sub=user_id, id=user_id))
    headers = {"authorization": f"Bearer {token}"}
    if body is not None:
        headers["content-type"] = "application/json"
    return EVENT_BUILDERS[version](
        route.method, path, headers=headers, body=None if body is None else json.dumps(body)
    )


def create_task(deployed: Deployed, version: str, user_id: str) -> int:
    """A task of ``user_id``'s, made through the packaged createTask function."""
    route = function("createTask").routes[0]
    answer = deployed.invoke("createTask", request_for(route, version, user_id, 0))
    reply = decode_response(answer.payload)
    assert reply.status == 201, reply
    task_id: int = reply.json()["id"]
    return task_id


def assert_context(answer: Invocation, spec: FunctionSpec, event: dict[str, Any]) -> None:
    """The handler logged with Lambda's context: its name, memory and the runtime's request id,
    and the API Gateway request id as the correlation id."""
    handled = [r for r in answer.records() if r.get("message") == "request handled"]
    assert len(handled) == 1, answer.logs
    assert handled[0]["function_name"] == spec.name
    assert handled[0]["function_memory_size"] == str(spec.memory_mb)
    assert handled[0]["function_request_id"] == answer.request_id
    assert handled[0]["correlation_id"] == event["requestContext"]["requestId"]


ROUTES = [route for fn in functions() for route in fn.routes]


@pytest.mark.parametrize("version", EVENT_BUILDERS)
@pytest.mark.parametrize("route", ROUTES, ids=[route.key for route in ROUTES])
def test_route_answers_under_the_lambda_runtime(
    deployed: Deployed, route: HttpRoute, version: str, user_id: str
) -> None:
    # GIVEN the route's packaged function, warm under the runtime, and a task of the user's
    task_id = create_task(deployed, version, user_id)
    event = request_for(route, version, user_id, task_id)
    # WHEN API Gateway's event for a valid request reaches it
    answer = deployed.invoke(route.function, event)
    # THEN it succeeds as the route promises, with Lambda's context in its logs
    reply = decode_response(answer.payload)
    assert not answer.function_error, answer.payload
    assert reply.status == SUCCESS.get(route.method, 200), reply
    assert_context(answer, deployed.fleet.runtime(route.function).spec, event)


@pytest.mark.parametrize("job", deployer.JOBS)
def test_job_reports_success_under_the_lambda_runtime(deployed: Deployed, job: str) -> None:
    # GIVEN the job's packaged function and the session's migrated database
    # WHEN it is invoked as infra/deploy/deployer.py invokes it (an empty event)
    answer = deployed.invoke(job, {})
    # THEN its report passes the deploy's own check: at the newest revision, or verified
    name = deployed.fleet.runtime(job).spec.name
    assert deployer.check_report(job, name, answer.payload, deployer.head_revision())
    assert any(r.get("function_request_id") == answer.request_id for r in answer.records())


def test_unreadable_event_gets_an_error_response_and_the_next_invoke_works(
    deployed: Deployed,
) -> None:
    # GIVEN the health function under the runtime
    runtime = deployed.fleet.runtime("health")
    # WHEN it is sent something that is not an API Gateway event, then a real one
    broken = runtime.invoke("not an event")
    working = runtime.invoke(http_api_event("GET", "/health"))
    # THEN the first gets a clear 400 with a stable code (no stack trace), the second 200
    assert not broken.function_error
    assert decode_response(broken.payload).status == 400
    assert decode_response(broken.payload).code == "MALFORMED_REQUEST"
    assert decode_response(working.payload).json() == {"status": "ok", "database": "ok"}


def test_failing_job_is_a_function_error_and_its_runtime_recovers(
    deployed: Deployed, stack: neon_local.Stack, scratch_database: str
) -> None:
    # GIVEN verify and migrate under the runtime, pointed at an empty database
    env = database_env(stack, scratch_database)
    specs = {
        job: FunctionSpec.from_config(
            deployed.configs[job], deployed.codes[job], env, deployed.opts[job]
        )
        for job in deployer.JOBS
    }
    with LambdaRuntime(specs["verify"]) as verify, LambdaRuntime(specs["migrate"]) as migrate:
        # WHEN verify runs, then migrate, then verify again in the same warm runtime
        failed = verify.invoke({})
        migrated = migrate.invoke({})
        verified = verify.invoke({})
        # THEN the first verify raised inside the handler: Lambda's error payload with the
        # schema problem; migrate upgraded to the newest revision; the second verify passed
        assert failed.function_error
        assert failed.payload["errorType"] == "SchemaMismatch"
        assert "table tasks is missing" in failed.payload["errorMessage"]
        head = deployer.head_revision()
        assert deployer.check_migrated("migrate", migrated.payload, head).startswith("upgraded")
        assert deployer.check_verified("verify", verified.payload)
        assert verify.output().count("INIT START") == 1  # the same runtime, not a new one


def test_shipped_bytecode_is_used_and_nothing_is_written(deployed: Deployed) -> None:
    # GIVEN every function started under the runtime and invoked once
    for fn in functions():
        event = {} if fn.is_job else request_for(fn.routes[0], "http-api-v2", "nobody", 1)
        deployed.invoke(fn.name, event)
    # WHEN their code and layer directories are compared with the zips as unpacked
    trees = {**deployed.codes, **_by_opt(deployed.opts)}
    changed = {
        name: sorted(set(snapshot(tree).items()) ^ set(deployed.pristine[name].items()))
        for name, tree in trees.items()
    }
    # THEN nothing was written: every module imported came with its 3.12 bytecode, ours
    # and the layers' (the directories are writable, so a module compiled at import
    # would leave a .pyc)
    assert {name: files for name, files in changed.items() if files} == {}


def test_local_gateway_invoker_serves_the_packaged_zips(
    native: Packaged, stack: neon_local.Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the invoker `make run LAMBDA_RUNTIME=rie` gives the gateway, with the local
    # stack's URL in the environment as make run exports it
    monkeypatch.setenv("DATABASE_URL", stack.database_url)
    build_dir = native.zips["health"].parent
    # WHEN the gateway hands it a function's name and an event
    with packaged_fleet("dev", build_dir) as fleet:
        answer = fleet("health", http_api_event("GET", "/health"))
        spec = fleet.runtime("health").spec
    # THEN the packaged function answered from its warm runtime, named as the stage names it
    assert decode_response(answer).json() == {"status": "ok", "database": "ok"}
    assert spec.name == "todo-api-dev-health"
