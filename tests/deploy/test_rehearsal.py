"""`make rehearse`: osls deploys to moto on loopback, the stored zips run under the runtime."""

from __future__ import annotations

import pytest

from infra.deploy import deployer, rehearse
from infra.local import neon_local
from infra.serverless.routes import functions, routes
from tests.support.packaging import database_env, require_osls


def test_rehearsal_deploys_reads_back_runs_and_removes_the_stage(
    stack: neon_local.Stack, scratch_database: str, capfd: pytest.CaptureFixture[str]
) -> None:
    # GIVEN the pinned osls and an empty database of the session's stack
    require_osls()
    env = database_env(stack, scratch_database)
    settings = {name: env[name] for name in ("DATABASE_URL", "DATABASE_URL_DIRECT")}
    # WHEN the stage is rehearsed
    rehearse.rehearse("ci-rehearsal", settings)
    captured = capfd.readouterr()
    out = captured.out
    # THEN every function was read back from the emulator with its configuration, the
    # stored zips migrated and verified that database and answered every route, the stage
    # was removed, and the output says what the emulator could not show
    for fn in functions():
        assert f"{deployer.function_name('ci-rehearsal', fn.name)} " in out
    assert f"migrate: upgraded, at revision {deployer.head_revision()}" in out
    assert "verify: schema matches the spec" in out
    for route in routes():
        assert f"rehearse: {route.key}: " in out
    assert "successfully removed" in captured.out + captured.err
    assert "HTTP API (ApiGatewayV2) routes" in out and "active tracing" in out
