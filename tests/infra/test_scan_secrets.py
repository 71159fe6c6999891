"""The credential scan fails on real-looking secrets and passes placeholders."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from infra import scan_secrets


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    monkeypatch.setattr(scan_secrets, "ROOT", tmp_path)
    return tmp_path


@pytest.mark.parametrize(
    "line",
    [
        "DATABASE_URL=postgresql://owner:" + "npg_" + "AbC123xyZ987@ep-x-pooler.neon.tech/db",
        "url = 'postgres://app:" + "hunter2hunter2" + "@db.example.com/app'",
        "postgresql+pg8000://u:" + "s3cr3t-value" + "@h/db",
    ],
)
def test_real_looking_credentials_fail_the_scan(repo: Path, line: str) -> None:
    # GIVEN a file holding a credential
    (repo / "config.txt").write_text(f"# settings\n{line}\n")
    # WHEN the scan runs
    code = scan_secrets.main()
    # THEN it fails
    assert code == 1


@pytest.mark.parametrize(
    "line",
    [
        "DATABASE_URL=postgresql://<user>:<password>@<endpoint>-pooler.<region>.aws.neon.tech/db",
        "postgresql://USER:" + "PASSWORD@ep-NAME-pooler.REGION.aws.neon.tech/DBNAME",
        'f"postgresql://u:{password}@localhost:{port}/neondb"',
        "postgresql://neondb_owner:${DB_PASSWORD}@host/db",
        "postgresql://neondb_owner:***@localhost:5432/neondb",
    ],
)
def test_placeholders_pass_the_scan(repo: Path, line: str) -> None:
    (repo / "README.md").write_text(f"{line}\n")
    assert scan_secrets.main() == 0


def test_the_scan_names_the_place_not_the_secret(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = "npg_" + "Zz9" * 4
    (repo / "a.py").write_text(f"x = 1\npw = '{secret}'\n")
    assert scan_secrets.main() == 1
    err = capsys.readouterr().err
    assert "a.py:2: Neon password" in err and secret not in err
