"""Build the Lambda layers and each function's code zip for python3.12 on arm64 (or x86_64).

Run by infra/serverless/plugin.js during ``osls package`` / ``osls deploy``, which passes the
layers and functions of serverless.yml as JSON on stdin (``--spec -``):

    {"arch": "arm64",
     "layers": [{"name": "api", "artifact": ".build/arm64/layer-api.zip"}, ...],
     "functions": [{"name": "listTasks", "handler": "functions/list_tasks.handler",
       "artifact": ".build/arm64/listTasks.zip", "group": "api"}, ...]}

* Dependencies: one layer per dependency set (infra/packaging/layer_build.py: its lock's wheels
  under ``python/``, Lambda's /opt/python), shared by the functions of that set.
  ``layers.json`` beside the layers records each one's description (the hash of its
  locked requirements) and its file name in the deployment bucket (its build key),
  which infra/serverless/layers.js uses; ``built_layers`` maps those names back to the zips.
* Code: a function's own zip holds only ``functions/__init__.py``, the handler's
  module, ``shared/`` minus what its group never imports and, for the jobs,
  ``specs/schema.toml`` (verify reads it), compiled for /var/task (infra/packaging/zip_tree.py),
  and the newest schema revision (``shared.db.schema_revision``: /health checks it).

Afterwards every zip is checked by infra/packaging/package_check.py and the sizes are printed
against their budgets.

Bytecode needs a CPython 3.12 (``$PYTHON312``, else this Python, else ``python3.12`` on
PATH). Without one the build stops, saying how to get one, unless ``ALLOW_NO_BYTECODE=1``:
zips without bytecode work, but every cold start then compiles every module it imports.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra import ROOT
from infra.packaging import layer_build, package_check
from infra.packaging.layer_build import Layer, LayerError
from infra.packaging.zip_tree import CompileError, compile_tree, tree_entries, write_zip
from shared.db import schema_revision

WORK = ROOT / ".build" / "work"
# Lambda unpacks a function's zip into /var/task; tracebacks then show real paths.
TASK_ROOT = "/var/task"
MANIFEST = "layers.json"
PYTHON312_ENV = "PYTHON312"  # a CPython 3.12 to compile with, named explicitly
ALLOW_NO_BYTECODE_ENV = "ALLOW_NO_BYTECODE"
# Issue 19 measured it: shipped bytecode saves about 1.1 s of every cold start.
NO_PYTHON312 = (
    "no CPython 3.12 to compile the packages' bytecode with ({where}); without it Lambda's "
    "python3.12 compiles every module at each cold start (about 1.1 s). Install one: "
    "`uv python install 3.12` (python3.12 then in ~/.local/bin), `pyenv install 3.12`, or "
    "your system's python3.12 package; or point PYTHON312 at one. To package without "
    "bytecode anyway: ALLOW_NO_BYTECODE=1"
)


@dataclass(frozen=True)
class Group:
    """Functions that share one selection of our code."""

    name: str
    skip_code: tuple[str, ...]
    extra_files: tuple[str, ...] = ()


GROUPS = {
    "api": Group("api", skip_code=("shared/jobs", "shared/api/docs.py")),
    # The docs function: the API's code and Swagger UI's page (its assets: the docs layer).
    "docs": Group("docs", skip_code=("shared/jobs",)),
    "jobs": Group(
        "jobs",
        skip_code=("shared/api",),
        extra_files=("specs/schema.toml",),
    ),
}


@dataclass(frozen=True)
class FunctionZip:
    """One function of serverless.yml: where its handler lives and where its zip goes."""

    name: str
    module: str
    artifact: Path
    group: Group


class BuildError(Exception):
    """The packages cannot be built; the message says why."""


@dataclass(frozen=True)
class Spec:
    """What the plugin asked for."""

    arch: str
    layers: list[Layer]
    functions: list[FunctionZip]


def load_spec(raw: str) -> Spec:
    """The architecture, layers and functions from the plugin's JSON."""
    spec: dict[str, Any] = json.loads(raw)
    arch = str(spec["arch"])
    if arch not in package_check.WHEEL_ARCH:
        raise BuildError(f"unsupported architecture {arch!r}: use arm64 or x86_64")
    layers = [Layer(str(entry["name"]), ROOT / entry["artifact"]) for entry in spec["layers"]]
    return Spec(arch, layers, [_function(entry) for entry in spec["functions"]])


def _function(entry: dict[str, Any]) -> FunctionZip:
    module_path, _, _ = str(entry["handler"]).rpartition(".")
    module = module_path.replace(".", "/") + ".py"
    if not (ROOT / module).is_file():
        raise BuildError(f"function {entry['name']}: handler module {module} does not exist")
    return FunctionZip(entry["name"], module, ROOT / entry["artifact"], GROUPS[entry["group"]])


def find_python312() -> str | None:
    """A CPython 3.12 to compile bytecode with: $PYTHON312, else this one, else python3.12
    on PATH; None when there is none (or $PYTHON312 names something else)."""
    named = os.environ.get(PYTHON312_ENV)
    if named:
        return named if _is_python312(named) else None
    if sys.version_info[:2] == (3, 12) and sys.implementation.name == "cpython":
        return sys.executable
    candidate = shutil.which("python3.12")
    return candidate if candidate is not None and _is_python312(candidate) else None


def _is_python312(python: str) -> bool:
    try:
        check = subprocess.run(
            [python, "-c", "import sys; print(sys.implementation.name, sys.version_info[:2])"],
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return check.stdout.strip() == "cpython (3, 12)"


def bytecode_python() -> str | None:
    """The CPython 3.12 to compile with; None only with ALLOW_NO_BYTECODE=1, else BuildError."""
    python312 = find_python312()
    if python312 is not None:
        return python312
    named = os.environ.get(PYTHON312_ENV)
    where = (
        f"{PYTHON312_ENV}={named} is not one"
        if named
        else f"this Python is {sys.version_info.major}.{sys.version_info.minor}, "
        "and no python3.12 on PATH"
    )
    if os.environ.get(ALLOW_NO_BYTECODE_ENV) != "1":
        raise BuildError(NO_PYTHON312.format(where=where) + "; nothing was built")
    print(
        f"package_build: WARNING {ALLOW_NO_BYTECODE_ENV}=1: packages ship without bytecode "
        f"({where}), so every cold start compiles",
        flush=True,
    )
    return None


def build_layers(layers: list[Layer], arch: str, python312: str | None) -> None:
    """Every layer's zip (from the cache when its lock is unchanged) and the manifest."""
    described = {}
    for layer in layers:
        layer.artifact.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(layer_build.layer_zip(layer, arch, python312), layer.artifact)
        key = layer_build.build_key(layer, arch, python312)
        described[layer.name] = {
            "description": f"{layer.lock.name} sha256:{layer_build.lock_digest(layer)}",
            "file": f"layer-{layer.name}-{key}.zip",  # its name in the deployment bucket
            "artifact": layer.artifact.relative_to(ROOT).as_posix(),
        }
    for directory in {layer.artifact.parent for layer in layers}:
        (directory / MANIFEST).write_text(json.dumps(described, indent=2, sort_keys=True) + "\n")


def built_layers(build_dir: Path) -> dict[str, Path]:
    """The layers last built into ``build_dir``: their file name in the bucket -> the zip."""
    described = json.loads((build_dir / MANIFEST).read_text())
    return {entry["file"]: ROOT / entry["artifact"] for entry in described.values()}


def layer_artifact(build_dir: Path, logical_id: str) -> Path:
    """The zip last built into ``build_dir`` for the layer serverless.yml refers to as
    ``logical_id`` (osls's naming: ApiLambdaLayer is custom.layers.api)."""
    described = json.loads((build_dir / MANIFEST).read_text())
    for name, entry in described.items():
        if f"{name[:1].upper()}{name[1:]}LambdaLayer" == logical_id:
            return ROOT / str(entry["artifact"])
    raise BuildError(f"no layer {logical_id} in {build_dir / MANIFEST}: run `make package`")


def stage_code(group: Group, arch: str, python312: str | None) -> Path:
    """Our code for one group, copied to a scratch folder and compiled."""
    staging = WORK / arch / f"code-{group.name}"
    shutil.rmtree(staging, ignore_errors=True)
    for relative in _code_files(group):
        destination = staging / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / relative, destination)
    # The API's packages leave the migrations out, but /health must know the newest one.
    built = staging / schema_revision.BUILT_FILE.relative_to(ROOT)
    built.write_text(schema_revision.newest_revision() + "\n", encoding="utf-8")
    compile_tree(staging, python312, TASK_ROOT)
    return staging


def _code_files(group: Group) -> Iterator[str]:
    yield from (path.relative_to(ROOT).as_posix() for path in (ROOT / "functions").glob("*.py"))
    yield from group.extra_files
    for path in sorted((ROOT / "shared").rglob("*")):
        relative = path.relative_to(ROOT).as_posix()
        if path.is_file() and "__pycache__" not in path.parts and not _skipped(relative, group):
            yield relative


def _skipped(relative: str, group: Group) -> bool:
    return any(relative == skip or relative.startswith(skip + "/") for skip in group.skip_code)


def function_zip(function: FunctionZip, code: Path) -> None:
    """The function's own zip: its group's code and its handler's module, nothing else."""
    function.artifact.parent.mkdir(parents=True, exist_ok=True)
    write_zip(function.artifact, code_entries(code, function.module))


def code_entries(code: Path, module: str) -> list[tuple[str, Path]]:
    """Our code for one function: shared modules, ``functions/__init__`` and its module."""
    entries = tree_entries(code, skip="functions/")
    for source in ("functions/__init__.py", module):
        entries.append((source, code / source))
        pyc = package_check.pyc_of(source)
        if (code / pyc).exists():
            entries.append((pyc, code / pyc))
    return entries


def build(spec: Spec, python312: str | None) -> None:
    """Build every layer and every function's zip."""
    build_layers(spec.layers, spec.arch, python312)
    for group in _groups(spec.functions):
        code = stage_code(group, spec.arch, python312)
        for function in spec.functions:
            if function.group == group:
                function_zip(function, code)


def _groups(functions: Iterable[FunctionZip]) -> list[Group]:
    return [GROUPS[name] for name in sorted({function.group.name for function in functions})]


def report(spec: Spec, bytecode: bool) -> list[str]:
    """Print the size table against the budgets and return every problem the checker finds."""
    functions = [package_check.measure(function.artifact) for function in spec.functions]
    layers = [package_check.measure(layer.artifact) for layer in spec.layers]
    table = package_check.format_report(functions, layers)
    print(f"package_build: {spec.arch} packages\n{table}", flush=True)
    artifacts = [function.artifact for function in spec.functions]
    artifacts += [layer.artifact for layer in spec.layers]
    return [
        problem
        for path in artifacts
        for problem in package_check.problems(path, spec.arch, bytecode=bytecode)
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", required=True, help="JSON spec file, or - for stdin")
    args = parser.parse_args(argv)
    try:
        spec = load_spec(sys.stdin.read() if args.spec == "-" else Path(args.spec).read_text())
        python312 = bytecode_python()
        build(spec, python312)
        found = report(spec, bytecode=python312 is not None)
    except (BuildError, LayerError, CompileError) as exc:
        print(f"package_build: {exc}", file=sys.stderr)
        return 1
    for problem in found:
        print(f"package_build: {problem}", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
