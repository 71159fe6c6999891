"""The one settings object: where each value comes from, and what a bad one answers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from shared.core.errors import ConfigurationError
from shared.core.settings import get_settings, reset_settings
from tests.support.tokens import settings

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def in_dir_with_env_file(tmp_path: Path, fresh_settings: pytest.MonkeyPatch) -> Path:
    """A working directory holding a ``.env`` file (settings are read anew around the test)."""
    fresh_settings.chdir(tmp_path)
    for name in ("DB_QUERY_TIMEOUT", "DB_CONNECT_ATTEMPTS", "AUTH_ISSUER"):
        fresh_settings.delenv(name, raising=False)
    (tmp_path / ".env").write_text(
        "DB_QUERY_TIMEOUT=7\nDB_CONNECT_ATTEMPTS=2\nAUTH_ISSUER=from-dotenv\n", encoding="utf-8"
    )
    reset_settings()
    return tmp_path


def test_a_env_file_fills_what_the_environment_leaves_unset(in_dir_with_env_file: Path) -> None:
    # GIVEN a .env file and no such variables in the environment
    # WHEN the settings are loaded
    loaded = get_settings()
    # THEN the file's values are used
    assert (loaded.db_query_timeout, loaded.db_connect_attempts) == (7.0, 2)


def test_the_environment_wins_over_the_env_file_and_empty_counts_as_unset(
    in_dir_with_env_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the environment sets one variable, sets another empty, and names one in lower case
    monkeypatch.setenv("DB_QUERY_TIMEOUT", "3")
    monkeypatch.setenv("DB_CONNECT_ATTEMPTS", "")
    monkeypatch.setenv("auth_issuer", "from-environment")
    # WHEN the settings are loaded
    loaded = get_settings()
    # THEN the environment's value wins, the empty one falls back to .env, names match any case
    assert (loaded.db_query_timeout, loaded.db_connect_attempts) == (3.0, 2)
    assert loaded.auth_issuer == "from-environment"


def test_keywords_win_and_the_tests_settings_ignore_the_env_file(
    in_dir_with_env_file: Path,
) -> None:
    # GIVEN a .env file in the working directory
    # WHEN settings are made from keywords without it
    made = settings(db_connect_attempts=5)
    # THEN the keyword is used and the file is not read
    assert (made.db_connect_attempts, made.db_query_timeout) == (5, 10.0)


def test_a_bad_value_is_one_start_up_error_naming_the_variable_not_the_value(
    fresh_settings: pytest.MonkeyPatch,
) -> None:
    # GIVEN a timeout that is not a number and a secret-looking bad value
    fresh_settings.setenv("DB_QUERY_TIMEOUT", "soon")
    fresh_settings.setenv("DB_CONNECT_ATTEMPTS", "s3cr3t-ish")
    reset_settings()
    # WHEN the settings are loaded
    with pytest.raises(ConfigurationError) as caught:
        get_settings()
    # THEN both variables are named, and neither value is repeated
    message = str(caught.value)
    assert "DB_QUERY_TIMEOUT" in message and "DB_CONNECT_ATTEMPTS" in message
    assert "soon" not in message and "s3cr3t-ish" not in message


def test_a_handler_loads_no_settings_library_and_no_dotenv_without_a_env_file(
    tmp_path: Path,
) -> None:
    # GIVEN a fresh interpreter in a directory without .env, as a Lambda container's
    probe = "import sys, functions.list_tasks; print(sorted(m for m in sys.modules if m.split('.')[0] in ('pydantic_settings', 'dotenv')))"  # noqa: E501
    # WHEN a handler module is imported
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    # THEN neither is loaded: their import would be every cold start's
    assert done.stdout.strip() == "[]"
