"""The zips `osls package` builds: right for Lambda's python3.12 on arm64, complete, small."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from infra import package_build, package_check, routes
from shared.api.docs import ASSETS, DOCS

from .conftest import Packaged

API_FUNCTIONS = tuple(fn.name for fn in routes.functions() if not fn.is_job)
JOBS = tuple(fn.name for fn in routes.functions() if fn.is_job)
# Budgets with ~20% headroom over today's sizes (MiB): a jump means a new dependency or
# a packaging regression. Lambda's own limits are 50 zipped / 250 unzipped.
BUDGET = {"api": (25, 78), "jobs": (18, 56)}
MiB = 2**20


def names(path: Path) -> list[str]:
    """Every entry of a zip."""
    with zipfile.ZipFile(path) as archive:
        return archive.namelist()


def tops(path: Path) -> set[str]:
    """The zip's top-level packages and folders."""
    return {name.split("/", 1)[0] for name in names(path)}


def elf_machines(path: Path) -> set[int]:
    """The e_machine of every ELF file in a zip."""
    machines = set()
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            with archive.open(name) as member:
                header = member.read(20)
            if header.startswith(b"\x7fELF"):
                machines.add(int.from_bytes(header[18:20], "little"))
    return machines


def test_every_function_has_a_package(arm64: Packaged) -> None:
    # GIVEN the arm64 run
    # WHEN its zips are listed
    # THEN there is one per function, and each exists
    assert set(arm64.zips) == {*API_FUNCTIONS, *JOBS}
    assert all(path.is_file() for path in arm64.zips.values())


@pytest.mark.parametrize("function", [*API_FUNCTIONS, *JOBS])
def test_package_is_right_for_lambda_arm64(arm64: Packaged, function: str) -> None:
    # GIVEN one arm64 zip
    path = arm64.zips[function]
    # WHEN it is checked: machine code, wheel tags, forbidden content
    found = package_check.problems(path, "arm64", bytecode=False)
    # THEN nothing is wrong, and there is native code to check (all of it aarch64)
    assert found == []
    assert elf_machines(path) == {package_check.ELF_MACHINE["arm64"]}


@pytest.mark.skipif(
    package_build.find_python312() is None,
    reason="no CPython 3.12 here: the build skipped bytecode (and said so)",
)
@pytest.mark.parametrize("function", [*API_FUNCTIONS, *JOBS])
def test_package_ships_bytecode_for_lambda(arm64: Packaged, function: str) -> None:
    # GIVEN one arm64 zip built where a CPython 3.12 exists
    # WHEN its modules and .pyc files are checked
    found = package_check.problems(arm64.zips[function], "arm64")
    # THEN every module has unchecked-hash 3.12 bytecode beside it in __pycache__
    assert found == []


def test_checker_rejects_the_other_architecture(x86_64: Packaged) -> None:
    # GIVEN an x86_64 zip
    # WHEN it is checked as if for arm64
    found = package_check.problems(x86_64.zips["listTasks"], "arm64")
    # THEN the machine code and the wheel tags are flagged
    assert any("not arm64" in problem for problem in found)
    assert any("not for cp312 on arm64" in problem for problem in found)


@pytest.mark.parametrize("function", API_FUNCTIONS)
def test_api_package_leaves_out_the_jobs(arm64: Packaged, function: str) -> None:
    # GIVEN an API function's zip
    entries = names(arm64.zips[function])
    top = tops(arm64.zips[function])
    # WHEN its contents are listed
    handlers = {name for name in entries if name.startswith("functions/") and name.endswith(".py")}
    # THEN it has the web stack and its own handler, but no migration tooling or spec
    assert {"fastapi", "mangum", "jwt", "cryptography", "sqlalchemy", "pg8000"} <= top
    assert not {"alembic", "mako", "specs"} & top
    assert not any(name.startswith("shared/jobs/migrations/") for name in entries)
    module = routes.function(function).module
    assert handlers == {"functions/__init__.py", module.replace(".", "/") + ".py"}


@pytest.mark.parametrize("function", API_FUNCTIONS)
def test_only_the_docs_function_ships_swagger_ui(arm64: Packaged, function: str) -> None:
    # GIVEN an API function's zip, and the function serving /docs
    entries = set(names(arm64.zips[function]))
    [docs] = {route.function for route in routes.routes() if route.template == DOCS}
    # WHEN Swagger UI's assets and the docs module are looked for
    assets = {f"fastapi_offline/static/{name}" for name in ASSETS}
    # THEN the docs function has them (without ReDoc's bundle), and no other function does
    shipped = assets | {"shared/api/docs.py"}
    assert (shipped <= entries) if function == docs else not (shipped & entries)
    assert "fastapi_offline/static/redoc.standalone.js" not in entries


@pytest.mark.parametrize("function", JOBS)
def test_job_package_has_migrations_and_spec(arm64: Packaged, function: str) -> None:
    # GIVEN a job's zip
    entries = set(names(arm64.zips[function]))
    top = tops(arm64.zips[function])
    # WHEN its contents are listed
    # THEN it has Alembic, the revisions and the spec verify reads, and no web stack
    assert {"alembic", "sqlalchemy", "pg8000", "specs", "shared"} <= top
    assert "specs/schema.toml" in entries
    assert any(name.startswith("shared/jobs/migrations/versions/") for name in entries)
    assert not {"fastapi", "mangum", "jwt", "cryptography"} & top
    assert not any(name.startswith("shared/api/") for name in entries)


@pytest.mark.parametrize("function", [*API_FUNCTIONS, *JOBS])
def test_zip_entries_are_deterministic_and_readable(arm64: Packaged, function: str) -> None:
    # GIVEN a zip's entries
    with zipfile.ZipFile(arm64.zips[function]) as archive:
        infos = archive.infolist()
    # WHEN their dates and modes are read
    # THEN dates are fixed (stable code hashes) and Lambda's runtime user can read all
    assert {info.date_time for info in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert all((info.external_attr >> 16) & 0o444 == 0o444 for info in infos)


def test_package_sizes_stay_in_budget(arm64: Packaged) -> None:
    # GIVEN every arm64 zip's size
    for function, path in arm64.zips.items():
        size = package_check.measure(path)
        zipped_budget, unzipped_budget = BUDGET["jobs" if function in JOBS else "api"]
        # WHEN compared with its budget
        # THEN it fits
        assert size.zipped <= zipped_budget * MiB, (function, size)
        assert size.unzipped <= unzipped_budget * MiB, (function, size)


def test_packaging_prints_the_sizes(arm64: Packaged) -> None:
    # GIVEN what `osls package` printed
    # WHEN the size table is looked for
    # THEN it is there, with every function
    assert "zipped MiB" in arm64.output and "unzipped MiB" in arm64.output
    assert all(function in arm64.output for function in arm64.zips)
