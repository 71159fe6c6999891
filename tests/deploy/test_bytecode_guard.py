"""Packaging without a CPython 3.12 stops, saying how to get one, unless ALLOW_NO_BYTECODE=1.

Bytecode shipped in the zips saves about 1.1 s of every cold start; a build that quietly
left it out used to print one warning line among the size tables.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

from infra.packaging import package_build
from tests.support.commands import run_module
from tests.support.packaging import SENTINELS, STAGE, osls_env, require_osls, run_osls

MISSING = "/nonexistent/bin/python3.12"


def _build(spec: Mapping[str, object], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return run_module(
        "infra.packaging.package_build",
        "--spec",
        "-",
        env={**os.environ, **env},
        stdin=json.dumps(spec),
        timeout=120,
    )


def test_without_a_python312_the_build_stops_with_the_fix(tmp_path: Path) -> None:
    # GIVEN the bytecode compiler pointed at an interpreter that is not there
    artifact = tmp_path / "health.zip"
    spec = {
        "arch": "arm64",
        "layers": [],
        "functions": [
            {
                "name": "health",
                "handler": "functions/health.handler",
                "artifact": str(artifact),
                "group": "api",
            },
        ],
    }
    # WHEN a function is packaged
    result = _build(spec, {"PYTHON312": MISSING})
    # THEN it fails before building anything, saying what is missing, what it costs and
    # how to fix it (or to go on without)
    assert result.returncode == 1
    assert f"PYTHON312={MISSING} is not one" in result.stderr
    assert "about 1.1 s" in result.stderr
    assert "`uv python install 3.12`" in result.stderr
    assert "ALLOW_NO_BYTECODE=1" in result.stderr
    assert "Traceback" not in result.stderr
    assert not artifact.exists()


def test_osls_package_stops_the_same_way() -> None:
    # GIVEN osls (what `make deploy` runs) with no CPython 3.12 to compile with
    require_osls()
    env = osls_env({**SENTINELS, "PYTHON312": MISSING})
    # WHEN it packages
    result = run_osls(["package", "--stage", STAGE], env)
    # THEN it fails with the packager's message
    assert result.returncode != 0
    assert "no CPython 3.12 to compile the packages' bytecode with" in result.stdout + result.stderr


def test_allow_no_bytecode_goes_on_saying_so(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN no CPython 3.12, and the operator's explicit ALLOW_NO_BYTECODE=1
    monkeypatch.setenv("PYTHON312", MISSING)
    monkeypatch.setenv("ALLOW_NO_BYTECODE", "1")
    # WHEN the packager picks its compiler
    found = package_build.bytecode_python()
    # THEN there is none, and it warns that every cold start compiles
    assert found is None
    assert "WARNING ALLOW_NO_BYTECODE=1: packages ship without bytecode" in capsys.readouterr().out


def test_python312_names_the_compiler(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN PYTHON312 naming a real CPython 3.12 (this suite's own interpreter is one)
    if sys.version_info[:2] != (3, 12):
        pytest.skip("the suite runs on another Python than 3.12")
    monkeypatch.setenv("PYTHON312", sys.executable)
    monkeypatch.delenv("ALLOW_NO_BYTECODE", raising=False)
    # WHEN the packager picks its compiler / THEN it is that one
    assert package_build.bytecode_python() == sys.executable
