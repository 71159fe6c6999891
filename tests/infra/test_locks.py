"""`make lock-check` fails when requirements*.txt and the lock files disagree, and says so."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.packaging import locks
from tests.support.lockfiles import lock_entry, relock


def check(root: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """Run the check as `make lock-check` does; its exit code and what it printed."""
    code = locks.main(["check", "--root", str(root)])
    return code, capsys.readouterr().err


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def test_agreeing_requirements_and_locks_pass(
    locked_repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN requirements files and the locks made from them
    # WHEN the check runs
    code, err = check(locked_repo, capsys)
    # THEN it passes quietly
    assert (code, err) == (0, "")


def test_a_pin_changed_without_relocking_fails(
    locked_repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a direct pin moved in requirements.txt, the locks left as they were
    edit(locked_repo / "requirements.txt", "fastapi==0.165.0", "fastapi==0.166.0")
    # WHEN the check runs
    code, err = check(locked_repo, capsys)
    # THEN it fails, naming the pin, each lock that disagrees, and the fix
    assert code == 1
    assert "requirements.txt pins fastapi==0.166.0; requirements-api.lock has 0.165.0" in err
    assert "requirements.txt pins fastapi==0.166.0; requirements-dev.lock has 0.165.0" in err
    assert "requirements-jobs.lock was made from other requirements" in err
    assert "run `make lock`" in err


def test_a_new_requirement_without_relocking_fails(
    locked_repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a package added to requirements-dev.txt only
    with (locked_repo / "requirements-dev.txt").open("a") as file:
        file.write("httpx==0.28.1\n")
    # WHEN the check runs
    code, err = check(locked_repo, capsys)
    # THEN it fails: the dev lock does not have it
    assert code == 1
    assert "requirements-dev.txt asks for httpx; requirements-dev.lock does not have it" in err


def test_a_comment_needs_no_new_lock(locked_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN only comments and blank lines changed in requirements.txt
    edit(locked_repo / "requirements.txt", "pg8000==", "\n# upgrade with its tests green\npg8000==")
    # WHEN the check runs
    code, _ = check(locked_repo, capsys)
    # THEN it still passes: the requirements themselves are the same
    assert code == 0


def test_a_shipped_version_the_tests_never_ran_fails(
    locked_repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN shipped locks whose scramp is not the dev lock's (what the tests ran against)
    relock(locked_repo, overrides={"scramp": "1.4.6"})
    # WHEN the check runs
    code, err = check(locked_repo, capsys)
    # THEN it fails, naming both versions
    assert code == 1
    assert (
        "requirements-api.lock ships scramp==1.4.6; requirements-dev.lock (tested) has 1.5.0" in err
    )


def test_a_run_version_the_tests_never_ran_fails(
    locked_repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a run lock (what `make run` installs) whose scramp is not the dev lock's
    relock(locked_repo, overrides={"scramp": "1.4.6"}, sets=("run",))
    # WHEN the check runs
    code, err = check(locked_repo, capsys)
    # THEN it fails, naming both versions: `make test` after `make run` would replace it
    assert code == 1
    assert (
        "requirements-run.lock installs scramp==1.4.6; requirements-dev.lock (tested) has 1.5.0"
        in err
    )


def test_a_gateway_pin_changed_without_relocking_fails(
    locked_repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN the local gateway's server pin moved in requirements-run.txt only
    edit(locked_repo / "requirements-run.txt", "uvicorn==0.54.0", "uvicorn==0.55.0")
    # WHEN the check runs
    code, err = check(locked_repo, capsys)
    # THEN it fails for the run lock and for the dev lock that includes it
    assert code == 1
    assert "requirements-run.txt pins uvicorn==0.55.0; requirements-run.lock has 0.54.0" in err
    assert "requirements-run.txt pins uvicorn==0.55.0; requirements-dev.lock has 0.54.0" in err


def test_an_entry_without_hash_fails(locked_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN a lock entry edited by hand to an unhashed pin
    edit(locked_repo / "requirements-jobs.lock", lock_entry("scramp", "1.5.0"), "scramp==1.5.0\n")
    # WHEN the check runs
    code, err = check(locked_repo, capsys)
    # THEN it fails: pip's --require-hashes would refuse the lock
    assert code == 1
    assert "requirements-jobs.lock: scramp has no hash" in err


def test_a_missing_lock_fails(locked_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN no jobs lock
    (locked_repo / "requirements-jobs.lock").unlink()
    # WHEN the check runs
    code, err = check(locked_repo, capsys)
    # THEN it fails, naming it
    assert code == 1
    assert "requirements-jobs.lock is missing" in err
