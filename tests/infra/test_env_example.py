""".env.example reads the same in a POSIX shell (`set -a; . ./.env`) as in the app (dotenv)."""

from __future__ import annotations

import subprocess

from dotenv import dotenv_values

from infra import ROOT

EXAMPLE = ROOT / ".env.example"


def _shell_values(names: list[str]) -> dict[str, str]:
    """Each variable as `sh` sees it after sourcing the file with `set -a`."""
    show = "; ".join(f"printf '%s\\0' \"${{{name}-<unset>}}\"" for name in names)
    result = subprocess.run(
        ["sh", "-c", f"set -a; . ./.env.example; set +a; {show}"],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert (result.returncode, result.stderr) == (0, "")
    return dict(zip(names, result.stdout.split("\0")[:-1], strict=True))


def test_sourcing_the_example_keeps_the_database_url_whole() -> None:
    # GIVEN .env.example, sourced by a POSIX shell as its first comment says
    # WHEN DATABASE_URL is read back
    url = _shell_values(["DATABASE_URL"])["DATABASE_URL"]
    # THEN it is the whole connection string: its '&' started no background job
    assert url.startswith("postgresql://<user>:<password>@<endpoint>-pooler.")
    assert url.endswith("?sslmode=require&channel_binding=require")


def test_the_shell_and_the_app_read_every_value_alike() -> None:
    # GIVEN every variable the example sets, as the app's .env reader (python-dotenv) reads it
    app = {name: value or "" for name, value in dotenv_values(EXAMPLE).items()}
    # WHEN the shell sources the same file
    shell = _shell_values(sorted(app))
    # THEN each value is the same in both: no quote, '<' or '&' read differently
    assert shell == app
    assert app["FRONTEND_ORIGIN"] == "https://<your-frontend-domain>"
