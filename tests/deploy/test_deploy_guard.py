"""`osls deploy` itself refuses an empty DATABASE_URL, and osls any command a FRONTEND_ORIGIN
that is not origins, before packaging or uploading."""

from __future__ import annotations

import pytest

from tests.support.packaging import SENTINELS, STAGE, osls_env, require_osls, run_osls


def test_osls_deploy_without_database_url_fails_first() -> None:
    # GIVEN the pinned osls, dummy credentials and no DATABASE_URL (other settings set)
    require_osls()
    env = osls_env({k: v for k, v in SENTINELS.items() if k != "DATABASE_URL"})
    # WHEN a deploy is started
    result = run_osls(["deploy", "--stage", STAGE], env)
    output = result.stdout + result.stderr
    # THEN it fails with the plugin's message, before any package was built or any
    # AWS call was made (those would fail differently with dummy credentials)
    assert result.returncode != 0
    assert "DATABASE_URL is not set" in output
    assert "Nothing was packaged or uploaded" in output
    assert "package_build" not in output


@pytest.mark.parametrize("command", ["deploy", "package"])
def test_a_frontend_origin_with_a_path_fails_first(command: str) -> None:
    # GIVEN every setting, but FRONTEND_ORIGIN pasted with a path after the origin
    require_osls()
    env = osls_env(
        {**SENTINELS, "FRONTEND_ORIGIN": "http://localhost:3000, https://app.test/tasks"}
    )
    # WHEN a deploy (or a package) is started
    result = run_osls([command, "--stage", STAGE], env)
    output = result.stdout + result.stderr
    # THEN it fails naming the variable, the value and what an origin is, before building
    assert result.returncode != 0
    assert "FRONTEND_ORIGIN: 'https://app.test/tasks' is not an origin" in output
    assert "scheme://host[:port]" in output
    assert "package_build" not in output
