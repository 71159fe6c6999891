"""Build each Lambda function's zip for python3.12 on arm64 (or x86_64), without Docker.

Run by infra/sls_plugin.js during ``osls package`` / ``osls deploy``, which passes the
functions as JSON on stdin (``--spec -``):

    {"arch": "arm64", "functions": [{"name": "listTasks",
      "handler": "functions/list_tasks.handler",
      "artifact": ".build/arm64/listTasks.zip", "group": "api"}, ...]}

What goes in a zip:

* Dependencies: pip installs manylinux wheels for CPython 3.12 on the target
  architecture (``--platform``/``--only-binary``), never building anything here, from
  the group's lock file with ``--require-hashes`` (infra/locks.py): the API functions'
  set leaves out Alembic and Swagger UI's assets (fastapi-offline), which only the docs
  function's set adds; the jobs' leaves out the web and token stack (FastAPI, Mangum,
  PyJWT, cryptography). Nothing is resolved at build time, so a zip built next month holds the
  same files as the one tested today. Installs are cached in .build/cache, keyed by the
  lock and everything else that shapes them.
* Code: ``functions/__init__.py`` and the handler's own module; ``shared/`` minus what
  the group never imports; for the jobs, ``specs/schema.toml`` (verify reads it).
* Bytecode: every module is compiled by a CPython 3.12 as unchecked-hash ``.pyc`` in
  ``__pycache__``: Lambda's code directory is read-only, so without shipped bytecode
  every cold start compiles every module it imports; timestamp-based ``.pyc`` files
  would look stale because zips do not keep the source mtimes they record.
* Zips are deterministic (sorted entries, fixed dates and modes), so an unchanged
  function keeps its code hash and is not redeployed.

Afterwards every zip is checked by infra/package_check.py and the sizes are printed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from infra import locks, package_check

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".build" / "cache"
WORK = ROOT / ".build" / "work"
# Lambda's glibc loads any of these; pip before 24 does not expand manylinux_2_x tags by
# itself, so each is named.
MANYLINUX = (locks.LAMBDA_MANYLINUX, "manylinux_2_28", "manylinux_2_17", "manylinux2014")
# Lambda unpacks a zip into /var/task; tracebacks then show real paths.
TASK_ROOT = "/var/task"
ZIP_DATE = (1980, 1, 1, 0, 0, 0)
# pip's install bookkeeping (for uninstalling) and files nothing imports at run time.
TRIM_DIST_INFO = frozenset({"RECORD", "INSTALLER", "REQUESTED", "direct_url.json"})
# fastapi-offline's ReDoc bundle (1.1 MB): /docs is Swagger UI only (shared/api/docs.py).
TRIM_PATHS = (
    "bin",
    "sqlalchemy/testing",
    "alembic/testing",
    "fastapi_offline/static/redoc.standalone.js",
)
TRIM_SUFFIXES = (".pyi",)


@dataclass(frozen=True)
class Group:
    """Functions that share one requirement set and one selection of our code."""

    name: str
    skip_code: tuple[str, ...]
    extra_files: tuple[str, ...] = ()

    @property
    def lock(self) -> Path:
        """The lock file of the group's dependency set (locks.SETS, same name)."""
        return ROOT / locks.SETS[self.name].lock


GROUPS = {
    "api": Group("api", skip_code=("shared/jobs", "shared/api/docs.py")),
    # The docs function: the API's code and set, plus Swagger UI's assets (fastapi-offline).
    "docs": Group("docs", skip_code=("shared/jobs",)),
    "jobs": Group(
        "jobs",
        skip_code=("shared/api",),
        extra_files=("specs/schema.toml",),
    ),
}


@dataclass(frozen=True)
class Function:
    """One function of serverless.yml: where its handler lives and where its zip goes."""

    name: str
    module: str
    artifact: Path
    group: Group


class BuildError(Exception):
    """The packages cannot be built; the message says why."""


def load_spec(raw: str) -> tuple[str, list[Function]]:
    """The architecture and functions from the plugin's JSON."""
    spec: dict[str, Any] = json.loads(raw)
    arch = str(spec["arch"])
    if arch not in package_check.WHEEL_ARCH:
        raise BuildError(f"unsupported architecture {arch!r}: use arm64 or x86_64")
    return arch, [_function(entry) for entry in spec["functions"]]


def _function(entry: dict[str, Any]) -> Function:
    module_path, _, _ = str(entry["handler"]).rpartition(".")
    module = module_path.replace(".", "/") + ".py"
    if not (ROOT / module).is_file():
        raise BuildError(f"function {entry['name']}: handler module {module} does not exist")
    return Function(entry["name"], module, ROOT / entry["artifact"], GROUPS[entry["group"]])


def find_python312() -> str | None:
    """A CPython 3.12 to compile bytecode with: this one, else python3.12 on PATH."""
    if sys.version_info[:2] == (3, 12) and sys.implementation.name == "cpython":
        return sys.executable
    candidate = shutil.which("python3.12")
    if candidate is None:
        return None
    check = subprocess.run(
        [candidate, "-c", "import sys; print(sys.version_info[:2])"],
        capture_output=True,
        text=True,
        check=False,
    )
    return candidate if check.stdout.strip() == "(3, 12)" else None


def pip_platforms(arch: str) -> list[str]:
    """pip's ``--platform`` arguments for Lambda's glibc on ``arch``."""
    suffix = package_check.WHEEL_ARCH[arch]
    return [arg for tag in MANYLINUX for arg in ("--platform", f"{tag}_{suffix}")]


def dependencies(group: Group, arch: str, python312: str | None) -> Path:
    """The group's locked dependencies, installed, trimmed, compiled and zipped (cached)."""
    target = CACHE / arch / f"deps-{group.name}-{_cache_key(group, arch, python312)}.zip"
    if target.exists():
        return target
    _prune_cache(target)
    with tempfile.TemporaryDirectory(dir=target.parent) as scratch:
        tree = Path(scratch) / "deps"
        _pip_install(group.lock, arch, tree)
        trim(tree)
        compile_tree(tree, python312)
        write_zip(Path(scratch) / "deps.zip", sorted(_tree_entries(tree)))
        # Renamed into place only when whole, so an interrupted build leaves no cache entry.
        (Path(scratch) / "deps.zip").rename(target)
    return target


def _cache_key(group: Group, arch: str, python312: str | None) -> str:
    # The lock's comments (its inputs digest, `# via` notes) change with other sets' inputs.
    lock = locks.without_comments(group.lock.read_text())
    digest = hashlib.sha256()
    parts = (lock, arch, str(python312 is not None), Path(__file__).read_text())
    for part in parts:
        digest.update(part.encode() + b"\0")
    return digest.hexdigest()[:16]


def _prune_cache(target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    prefix = target.name.rsplit("-", 1)[0] + "-"
    for stale in target.parent.glob(prefix + "*.zip"):
        stale.unlink()


def _pip_install(lock: Path, arch: str, staging: Path) -> None:
    print(f"package_build: installing {lock.name} for cp312 {arch}", flush=True)
    command = [
        *(sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"),
        *("--no-warn-conflicts", "--no-compile", "--target", str(staging)),
        *("--implementation", "cp", "--python-version", locks.LAMBDA_PYTHON),
        *("--only-binary=:all:", *pip_platforms(arch)),
        *("--require-hashes", "--requirement", str(lock)),
    ]
    if subprocess.run(command, check=False).returncode != 0:
        raise BuildError(f"pip could not install {lock.name} as wheels for Lambda")


def trim(tree: Path) -> None:
    """Delete what Lambda never reads: scripts, pip bookkeeping, stubs, test helpers."""
    for relative in TRIM_PATHS:
        if (tree / relative).is_dir():
            shutil.rmtree(tree / relative)
        else:
            (tree / relative).unlink(missing_ok=True)
    for path in list(tree.rglob("*")):
        if path.is_dir() and path.name == "__pycache__":
            shutil.rmtree(path)
        elif _trimmed_file(path):
            path.unlink()


def _trimmed_file(path: Path) -> bool:
    if not path.is_file():
        return False
    in_dist_info = path.parent.name.endswith(".dist-info")
    return (in_dist_info and path.name in TRIM_DIST_INFO) or path.suffix in TRIM_SUFFIXES


def compile_tree(tree: Path, python312: str | None) -> None:
    """Compile every module under ``tree`` as Lambda's python3.12 would want it."""
    if python312 is None:
        return
    command = [
        *(python312, "-m", "compileall", "-q", "-j", "0", "-o", "0"),
        *("--invalidation-mode", "unchecked-hash", "-s", str(tree), "-p", TASK_ROOT),
        str(tree),
    ]
    if subprocess.run(command, check=False).returncode != 0:
        raise BuildError(f"compileall failed under {tree}")


def stage_code(group: Group, arch: str, python312: str | None) -> Path:
    """Our code for one group, copied to a scratch folder and compiled."""
    staging = WORK / arch / f"code-{group.name}"
    shutil.rmtree(staging, ignore_errors=True)
    for relative in _code_files(group):
        destination = staging / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / relative, destination)
    compile_tree(staging, python312)
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


def write_zip(path: Path, entries: list[tuple[str, Path]], mode: Literal["w", "a"] = "w") -> None:
    """Write (or with mode "a", append) ``(name in zip, file)`` entries."""
    with zipfile.ZipFile(path, mode, zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, source in entries:
            _add(archive, name, source)


def _tree_entries(tree: Path, skip: str = "") -> list[tuple[str, Path]]:
    entries = []
    for path in tree.rglob("*"):
        name = path.relative_to(tree).as_posix()
        if path.is_file() and not (skip and name.startswith(skip)):
            entries.append((name, path))
    return entries


def _add(archive: zipfile.ZipFile, name: str, source: Path) -> None:
    # Fixed dates keep the zip's hash stable; 0644/0755 let Lambda's runtime user read.
    info = zipfile.ZipInfo(name, ZIP_DATE)
    executable = os.access(source, os.X_OK)
    info.external_attr = (0o100755 if executable else 0o100644) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, source.read_bytes(), compresslevel=9)


def function_zip(function: Function, deps: Path, code: Path) -> None:
    """The group's zipped dependencies, then its code, then the handler's own module."""
    function.artifact.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(deps, function.artifact)
    write_zip(function.artifact, code_entries(code, function.module), mode="a")


def code_entries(code: Path, module: str) -> list[tuple[str, Path]]:
    """Our code for one function: shared modules, ``functions/__init__`` and its module."""
    entries = sorted(_tree_entries(code, skip="functions/"))
    for source in ("functions/__init__.py", module):
        entries.append((source, code / source))
        pyc = package_check.pyc_of(source)
        if (code / pyc).exists():
            entries.append((pyc, code / pyc))
    return entries


def build(arch: str, functions: list[Function], python312: str | None) -> None:
    """Build every function's zip."""
    for group in _groups(functions):
        deps = dependencies(group, arch, python312)
        code = stage_code(group, arch, python312)
        for function in functions:
            if function.group == group:
                function_zip(function, deps, code)


def _groups(functions: Iterable[Function]) -> list[Group]:
    return [GROUPS[name] for name in sorted({function.group.name for function in functions})]


def report(arch: str, functions: list[Function], bytecode: bool) -> list[str]:
    """Print the size table and return every problem the checker finds."""
    sizes = [package_check.measure(function.artifact) for function in functions]
    print(f"package_build: {arch} packages\n{package_check.format_sizes(sizes)}", flush=True)
    return [
        problem
        for function in functions
        for problem in package_check.problems(function.artifact, arch, bytecode=bytecode)
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", required=True, help="JSON spec file, or - for stdin")
    args = parser.parse_args(argv)
    try:
        raw = sys.stdin.read() if args.spec == "-" else Path(args.spec).read_text()
        arch, functions = load_spec(raw)
        python312 = find_python312()
        if python312 is None:
            print(
                "package_build: WARNING no CPython 3.12 found (python3.12 on PATH): "
                "packages ship without bytecode, so every cold start compiles",
                flush=True,
            )
        build(arch, functions, python312)
        found = report(arch, functions, bytecode=python312 is not None)
    except BuildError as exc:
        print(f"package_build: {exc}", file=sys.stderr)
        return 1
    for problem in found:
        print(f"package_build: {problem}", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
