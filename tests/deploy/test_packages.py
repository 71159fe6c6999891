"""The zips `osls package` builds: right for Lambda's python3.12 on arm64, complete, small.

Each function's own zip holds our code; its dependencies come from its layers (one per
dependency set, under python/: Lambda's /opt/python).
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from infra.packaging import package_build, package_check
from infra.serverless import routes
from shared.api.docs import ASSETS, DOCS
from tests.support.packaging import Packaged

API_FUNCTIONS = tuple(fn.name for fn in routes.functions() if not fn.is_job)
JOBS = tuple(fn.name for fn in routes.functions() if fn.is_job)
# Layer budgets with ~20% headroom over today's sizes (MiB, zipped and unzipped): a jump
# means a new dependency or a packaging regression. Lambda's own limits are 50 zipped and
# 250 unzipped for a function and all its layers together.
LAYER_BUDGET = {"api": (25, 78), "docs": (1, 3), "jobs": (18, 56)}
MiB = 2**20


def names(path: Path) -> list[str]:
    """Every entry of a zip."""
    with zipfile.ZipFile(path) as archive:
        return archive.namelist()


def tops(path: Path) -> set[str]:
    """The zip's top-level packages and folders."""
    return {name.split("/", 1)[0] for name in names(path)}


def layer_tops(packaged: Packaged, function: str) -> set[str]:
    """The packages a function's layers put in /opt/python."""
    found = set()
    for layer in packaged.layer_zips(function):
        found |= {name.split("/")[1] for name in names(layer) if name.count("/") >= 2}
    return found


def all_layers(packaged: Packaged) -> dict[str, Path]:
    """Every layer zip of a run, by set name (layer-api.zip: api)."""
    zips = {path for name in packaged.zips for path in packaged.layer_zips(name)}
    return {path.stem.removeprefix("layer-"): path for path in zips}


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


def test_every_function_has_a_package_and_layers(arm64: Packaged) -> None:
    # GIVEN the arm64 run
    # WHEN its zips and layers are listed
    # THEN there is one zip per function, and one layer per dependency set
    assert set(arm64.zips) == {*API_FUNCTIONS, *JOBS}
    assert all(path.is_file() for path in arm64.zips.values())
    assert set(all_layers(arm64)) == set(LAYER_BUDGET)


@pytest.mark.parametrize("function", [*API_FUNCTIONS, *JOBS])
def test_function_zip_is_our_code_only(arm64: Packaged, function: str) -> None:
    # GIVEN one function's own zip
    path = arm64.zips[function]
    # WHEN it is checked and its top-level folders listed
    # THEN it is fine for Lambda and holds our code only: no dependency, no native code
    assert package_check.problems(path, "arm64", bytecode=False) == []
    assert tops(path) <= {"functions", "shared", "specs"}
    assert elf_machines(path) == set()


@pytest.mark.parametrize("layer", sorted(LAYER_BUDGET))
def test_layer_is_right_for_lambda_arm64(arm64: Packaged, layer: str) -> None:
    # GIVEN one arm64 layer
    path = all_layers(arm64)[layer]
    # WHEN it is checked: machine code, wheel tags, forbidden content, layout
    found = package_check.problems(path, "arm64", bytecode=False)
    # THEN nothing is wrong, everything is under python/ (/opt/python), and any native
    # code is aarch64
    assert found == []
    assert tops(path) == {"python"}
    assert elf_machines(path) <= {package_check.ELF_MACHINE["arm64"]}
    if layer != "docs":  # Swagger UI's assets are no machine code
        assert elf_machines(path) == {package_check.ELF_MACHINE["arm64"]}


@pytest.mark.skipif(
    package_build.find_python312() is None,
    reason="no CPython 3.12 here: the build skipped bytecode (and said so)",
)
def test_packages_ship_bytecode_for_lambda(arm64: Packaged) -> None:
    # GIVEN every arm64 zip and layer built where a CPython 3.12 exists
    for path in [*arm64.zips.values(), *all_layers(arm64).values()]:
        # WHEN its modules and .pyc files are checked
        # THEN every module has unchecked-hash 3.12 bytecode beside it in __pycache__
        assert package_check.problems(path, "arm64") == [], path.name


def test_checker_rejects_the_other_architecture(x86_64: Packaged) -> None:
    # GIVEN an x86_64 layer
    # WHEN it is checked as if for arm64
    found = package_check.problems(all_layers(x86_64)["api"], "arm64")
    # THEN the machine code and the wheel tags are flagged
    assert any("not arm64" in problem for problem in found)
    assert any("not for cp312 on arm64" in problem for problem in found)


@pytest.mark.parametrize("function", API_FUNCTIONS)
def test_api_package_leaves_out_the_jobs(arm64: Packaged, function: str) -> None:
    # GIVEN an API function's zip and its layers
    entries = names(arm64.zips[function])
    # WHEN their contents are listed
    handlers = {name for name in entries if name.startswith("functions/") and name.endswith(".py")}
    # THEN its layers have the web stack, its zip its own handler, and neither migration
    # tooling nor the spec
    assert {"fastapi", "mangum", "jwt", "cryptography", "sqlalchemy", "pg8000"} <= layer_tops(
        arm64, function
    )
    assert not {"alembic", "mako"} & layer_tops(arm64, function)
    assert "specs" not in tops(arm64.zips[function])
    assert not any(name.startswith("shared/jobs/") for name in entries)
    module = routes.function(function).module
    assert handlers == {"functions/__init__.py", module.replace(".", "/") + ".py"}


@pytest.mark.parametrize("function", API_FUNCTIONS)
def test_only_the_docs_function_ships_swagger_ui(arm64: Packaged, function: str) -> None:
    # GIVEN an API function's zip and layers, and the function serving /docs
    entries = set(names(arm64.zips[function]))
    layered = {name for layer in arm64.layer_zips(function) for name in names(layer)}
    [docs] = {route.function for route in routes.routes() if route.template == DOCS}
    # WHEN Swagger UI's assets and the docs module are looked for
    assets = {f"python/fastapi_offline/static/{name}" for name in ASSETS}
    # THEN the docs function has them (without ReDoc's bundle), and no other function does
    shipped = (assets <= layered) and "shared/api/docs.py" in entries
    assert (
        shipped if function == docs else not (assets & layered or "shared/api/docs.py" in entries)
    )
    assert "python/fastapi_offline/static/redoc.standalone.js" not in layered


@pytest.mark.parametrize("function", JOBS)
def test_job_package_has_migrations_and_spec(arm64: Packaged, function: str) -> None:
    # GIVEN a job's zip and its layer
    entries = set(names(arm64.zips[function]))
    # WHEN their contents are listed
    # THEN the layer has Alembic and no web stack; the zip the revisions and the spec
    assert {"alembic", "sqlalchemy", "pg8000"} <= layer_tops(arm64, function)
    assert not {"fastapi", "mangum", "jwt", "cryptography"} & layer_tops(arm64, function)
    assert "specs/schema.toml" in entries
    assert any(name.startswith("shared/jobs/migrations/versions/") for name in entries)
    assert not any(name.startswith("shared/api/") for name in entries)


def test_zip_entries_are_deterministic_and_readable(arm64: Packaged) -> None:
    # GIVEN every zip's and layer's entries
    for path in [*arm64.zips.values(), *all_layers(arm64).values()]:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
        # WHEN their dates and modes are read
        # THEN dates are fixed (stable hashes) and Lambda's runtime user can read all
        assert {info.date_time for info in infos} == {(1980, 1, 1, 0, 0, 0)}, path.name
        assert all((info.external_attr >> 16) & 0o444 == 0o444 for info in infos), path.name


def test_package_sizes_stay_in_budget(arm64: Packaged) -> None:
    # GIVEN every arm64 zip's and layer's size
    codes = [package_check.measure(path) for path in arm64.zips.values()]
    layers = {name: package_check.measure(path) for name, path in all_layers(arm64).items()}
    # WHEN compared with the budgets
    upload = sum(size.zipped for size in [*codes, *layers.values()])
    # THEN each function's own zip is under 1 MiB, a fresh deploy uploads under a quarter
    # of what it did before layers, and each layer fits its own budget
    assert all(size.zipped < package_check.CODE_BUDGET for size in codes), codes
    assert upload < package_check.UPLOAD_BUDGET, upload / MiB
    for name, size in layers.items():
        zipped_budget, unzipped_budget = LAYER_BUDGET[name]
        assert size.zipped <= zipped_budget * MiB, (name, size)
        assert size.unzipped <= unzipped_budget * MiB, (name, size)


def test_packaging_prints_the_sizes_and_budgets(arm64: Packaged) -> None:
    # GIVEN what `osls package` printed
    # WHEN the size tables are looked for
    # THEN they are there, with every function and layer, and the budgets met
    assert "zipped MiB" in arm64.output and "unzipped MiB" in arm64.output
    assert all(function in arm64.output for function in arm64.zips)
    assert all(f"layer-{name}" in arm64.output for name in LAYER_BUDGET)
    assert "a fresh deploy uploads" in arm64.output and "OVER BUDGET" not in arm64.output
