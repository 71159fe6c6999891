"""infra/bootstrap.sh: one .venv, a package set per purpose, nothing installed twice.

Each test runs the real script in a scratch checkout whose .venv/bin/python only records
what it was asked to do (and answers pip as pip would), so no package is installed.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from infra import ROOT

FAKE_PYTHON = """#!/bin/sh
echo "$*" >> "$(dirname "$0")/../calls"
echo "Collecting example==1.0"
echo "Installing collected packages: example"
echo "Successfully installed example-1.0"
"""


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """The script and the real locks, a .venv whose python records its calls; no npm."""
    (tmp_path / "infra").mkdir()
    shutil.copy(ROOT / "infra" / "bootstrap.sh", tmp_path / "infra" / "bootstrap.sh")
    for name in ("run", "dev"):
        shutil.copy(ROOT / f"requirements-{name}.lock", tmp_path)
    python = tmp_path / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text(FAKE_PYTHON)
    python.chmod(0o755)
    return tmp_path


def bootstrap(checkout: Path, purpose: str) -> tuple[list[str], str]:
    """Run the script for ``purpose``: the pip commands it ran, and what it said."""
    result = subprocess.run(
        ["bash", str(checkout / "infra" / "bootstrap.sh"), purpose],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"PATH": "/usr/bin:/bin", "HOME": str(checkout)},
    )
    assert result.returncode == 0, result.stderr
    calls = checkout / ".venv" / "calls"
    ran = calls.read_text().splitlines() if calls.exists() else []
    calls.unlink(missing_ok=True)
    return ran, result.stderr


def pins(checkout: Path, name: str) -> list[str]:
    """Every name==version of set ``name``'s lock, sorted."""
    text = (checkout / f"requirements-{name}.lock").read_text()
    return sorted(set(re.findall(r"^([A-Za-z0-9][A-Za-z0-9._-]*==[^ ;\\\n]*)", text, re.M)))


def stamp(checkout: Path, name: str) -> None:
    """The stamp an earlier install of set ``name`` left: its lock's pins, hashed."""
    digest = hashlib.sha256("".join(f"{pin}\n" for pin in pins(checkout, name)).encode())
    (checkout / ".venv" / f".lock-{name}.sha256").write_text(digest.hexdigest() + "\n")


def test_run_installs_the_run_set_only_once(checkout: Path) -> None:
    # GIVEN a fresh .venv
    # WHEN `make run` bootstraps, twice
    first, said = bootstrap(checkout, "run")
    second, quiet = bootstrap(checkout, "run")
    # THEN the first installs exactly the run lock, with hashes, saying so; the second nothing
    assert len(first) == 1
    assert "-m pip install" in first[0] and "--require-hashes" in first[0]
    assert first[0].endswith("-r requirements-run.lock")
    count = len(pins(checkout, "run"))
    assert f"installing the run set: {count} Python packages from requirements-run.lock" in said
    assert (second, quiet) == ([], "")


def test_run_after_the_test_toolchain_installs_nothing(checkout: Path) -> None:
    # GIVEN the dev set installed (`make test` or `make deploy` ran)
    stamp(checkout, "dev")
    # WHEN `make run` bootstraps
    ran, said = bootstrap(checkout, "run")
    # THEN nothing is installed: the dev set holds every pin of the run set
    assert (ran, said) == ([], "")


def test_deploy_after_run_adds_the_dev_set(checkout: Path) -> None:
    # GIVEN the run set installed
    stamp(checkout, "run")
    # WHEN `make deploy` bootstraps
    ran, said = bootstrap(checkout, "deploy")
    # THEN it installs the dev lock over it (pip keeps what is there at the same version)
    assert [call.rsplit(" ", 1)[-1] for call in ran] == ["requirements-dev.lock"]
    assert f"installing the dev set: {len(pins(checkout, 'dev'))} Python packages" in said
    # AND `make run` afterwards installs nothing
    assert bootstrap(checkout, "run") == ([], "")


def test_a_lock_whose_header_alone_changed_installs_nothing(checkout: Path) -> None:
    # GIVEN the run set installed, then its lock re-made from other inputs, same pins
    stamp(checkout, "run")
    lock = checkout / "requirements-run.lock"
    lock.write_text(re.sub(r"(?m)^# inputs-sha256: .*$", "# inputs-sha256: 0", lock.read_text()))
    # WHEN `make run` bootstraps / THEN nothing is installed
    assert bootstrap(checkout, "run") == ([], "")
