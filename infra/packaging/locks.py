"""Lock files: every distribution each dependency set installs, pinned with its hashes.

requirements.txt (what the Lambda functions import), requirements-run.txt (``make run``:
``-r requirements.txt`` and the local gateway's server) and requirements-dev.txt (tests,
linters, deploy tooling; ``-r requirements-run.txt``) are the human-edited inputs and pin
direct dependencies only. ``make lock`` resolves them with uv (pinned in
requirements-dev.txt) into one lock per set, each the whole transitive set with the sha256
of every file:

* ``requirements-dev.lock``: requirements-dev.txt for CPython 3.11+ on any platform (a
  universal resolution); infra/bootstrap.sh installs it with ``--require-hashes`` for
  ``make test`` and ``make deploy``.
* ``requirements-run.lock``: requirements-run.txt, likewise universal, resolved within the
  dev lock: what ``make run`` installs (infra/bootstrap.sh run), a subset of the dev set,
  so ``make test`` after ``make run`` only adds packages.
* ``requirements-api.lock``, ``requirements-jobs.lock``: what infra/packaging/package_build.py ships
  (requirements.txt less what the set skips) for Lambda's CPython 3.12 on manylinux
  aarch64 and x86_64, resolved for both (they must agree) within the dev lock, so a zip
  carries exactly the versions the tests ran against.

Every lock records a digest of the inputs it was made from. ``check`` (``make
lock-check``, part of ``make test``; offline, stdlib only) fails when an input changed
since, when a direct requirement and a lock disagree, or a version of the run or a shipped
set is not the dev set's.

    python -m infra.packaging.locks compile [--upgrade | --upgrade-package NAME ...]
    python -m infra.packaging.locks check
"""

from __future__ import annotations

import argparse
import hashlib
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from infra import ROOT

LAMBDA_PYTHON = "3.12"
# Lambda's python3.12 runs on Amazon Linux 2023, glibc 2.34.
LAMBDA_MANYLINUX = "manylinux_2_34"
LAMBDA_MACHINES = ("aarch64", "x86_64")  # arm64 ships; x86_64 runs in tests/deploy here


def _requires_python() -> str:
    """The oldest Python the project supports: pyproject.toml's requires-python (">=3.x")."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return str(project["requires-python"]).removeprefix(">=")


DEV_PYTHON = _requires_python()  # the dev lock covers it and every newer CPython
DIGEST_PREFIX = "# inputs-sha256: "
HOW_TO_FIX = "run `make lock` (docs/contributing.md: Upgrading a dependency)"


@dataclass(frozen=True)
class LockedSet:
    """One dependency set: the requirements file it comes from, what it leaves out, and
    whether it ships (to Lambda's CPython 3.12) or is installed here (any CPython 3.11+)."""

    name: str
    source: str
    skip: frozenset[str] = frozenset()
    ships: bool = True

    @property
    def lock(self) -> str:
        return f"requirements-{self.name}.lock"

    @property
    def within_dev(self) -> bool:
        """Resolved within the dev lock: every version it holds is one the tests ran."""
        return self.name != DEV.name


DEV = LockedSet("dev", "requirements-dev.txt", ships=False)
# The dev set comes first: the others are resolved within it.
SETS = {
    locked.name: locked
    for locked in (
        DEV,
        # `make run`: the functions' requirements and the local gateway's (infra/bootstrap.sh).
        LockedSet("run", "requirements-run.txt", ships=False),
        LockedSet("api", "requirements.txt", frozenset({"alembic", "fastapi-offline"})),
        # The docs function: the API set and Swagger UI's assets.
        LockedSet("docs", "requirements.txt", frozenset({"alembic"})),
        LockedSet(
            "jobs",
            "requirements.txt",
            frozenset({"fastapi", "fastapi-offline", "mangum", "pyjwt", "cryptography"}),
        ),
    )
}


class LockError(Exception):
    """A lock cannot be made; the message says why."""


def normalize(name: str) -> str:
    """A distribution name as PEP 503 compares it."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class Requirement:
    """One line of a requirements file: where it is, the name, the pinned version if any."""

    file: str
    line: str
    name: str
    version: str | None


_REQUIREMENT = re.compile(r"([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*(?:==\s*([^\s;]+))?")


def requirements(root: Path, file: str) -> list[Requirement]:
    """A requirements file's lines without comments, ``-r`` files inlined."""
    found = []
    for raw in (root / file).read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        option, _, argument = line.partition(" ")
        if option in ("-r", "--requirement"):
            found.extend(requirements(root, argument.strip()))
        elif line:
            match = _REQUIREMENT.match(line)
            if match is None:
                raise LockError(f"{file}: cannot read {line!r}")
            found.append(Requirement(file, line, normalize(match[1]), match[2]))
    return found


def set_requirements(root: Path, locked: LockedSet) -> list[Requirement]:
    """The direct requirements of one set."""
    return [req for req in requirements(root, locked.source) if req.name not in locked.skip]


def target_options(locked: LockedSet, machine: str = LAMBDA_MACHINES[0]) -> list[str]:
    """uv's options for where a set is installed."""
    if not locked.ships:
        return ["--universal", "--python-version", DEV_PYTHON]
    platform = f"{machine}-{LAMBDA_MANYLINUX}"
    return [
        "--python-version",
        LAMBDA_PYTHON,
        "--python-platform",
        platform,
        "--only-binary",
        ":all:",
    ]


def inputs_digest(root: Path) -> str:
    """What the locks are made from: every set's requirements and how it is resolved."""
    digest = hashlib.sha256()
    for locked in SETS.values():
        lines = [req.line for req in set_requirements(root, locked)]
        targets = [target_options(locked, machine) for machine in LAMBDA_MACHINES]
        digest.update(repr((locked.name, targets, lines)).encode() + b"\0")
    return digest.hexdigest()


def header(locked: LockedSet, digest: str) -> str:
    """The lines a lock starts with: what made it, what it is for, from which inputs."""
    skipped = f" without {', '.join(sorted(locked.skip))}" if locked.skip else ""
    where = (
        f"CPython {LAMBDA_PYTHON} on {LAMBDA_MANYLINUX} {' and '.join(LAMBDA_MACHINES)}"
        if locked.ships
        else f"CPython {DEV_PYTHON}+ on any platform"
    )
    return (
        f"# {locked.lock}: made by `make lock` (infra/packaging/locks.py, uv); "
        "do not edit by hand.\n"
        f"# The {locked.name} set: {locked.source}{skipped}, for {where}.\n"
        f"{DIGEST_PREFIX}{digest}\n"
    )


_PINNED = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)(.*)$", re.MULTILINE)


def locked_versions(text: str) -> dict[str, set[str]]:
    """Every name in a lock with its versions (a universal lock may hold two, by marker)."""
    versions: dict[str, set[str]] = {}
    for match in _PINNED.finditer(text):
        versions.setdefault(normalize(match[1]), set()).add(match[2])
    return versions


def entries(text: str) -> dict[str, str]:
    """Each distribution of a lock with its requirement and hash lines, by name (no comments)."""
    found: dict[str, str] = {}
    name = ""
    for line in without_comments(text).splitlines():
        match = _PINNED.match(line)
        if match is not None:
            name = normalize(match[1])
            found[name] = ""
        if name:
            found[name] += line + "\n"
    return found


def unhashed(text: str) -> list[str]:
    """The lock's entries that carry no hash."""
    joined = text.replace("\\\n", " ")
    return [m[1] for m in _PINNED.finditer(joined) if "--hash=sha256:" not in m[3]]


def without_comments(text: str) -> str:
    """A lock as pip reads it: its requirements and hashes, without comment lines."""
    return "".join(line + "\n" for line in text.splitlines() if not line.lstrip().startswith("#"))


def recorded_digest(text: str) -> str | None:
    """The inputs digest a lock's header records."""
    for line in text.splitlines():
        if line.startswith(DIGEST_PREFIX):
            return line.removeprefix(DIGEST_PREFIX).strip()
    return None


def problems(root: Path = ROOT) -> list[str]:
    """Every way the locks under ``root`` disagree with the requirements files."""
    digest = inputs_digest(root)
    dev_lock = root / DEV.lock
    dev = locked_versions(dev_lock.read_text()) if dev_lock.is_file() else {}
    return [problem for locked in SETS.values() for problem in _problems(root, locked, digest, dev)]


def _problems(
    root: Path, locked: LockedSet, digest: str, dev: dict[str, set[str]]
) -> Iterator[str]:
    path = root / locked.lock
    if not path.is_file():
        yield f"{locked.lock} is missing"
        return
    text = path.read_text()
    if recorded_digest(text) != digest:
        yield f"{locked.lock} was made from other requirements than requirements*.txt hold now"
    versions = locked_versions(text)
    yield from _pin_problems(locked, set_requirements(root, locked), versions)
    yield from (f"{locked.lock}: {name} has no hash" for name in unhashed(text))
    if locked.within_dev:
        yield from _drift_problems(locked, versions, dev)


def _pin_problems(
    locked: LockedSet, wanted: list[Requirement], versions: dict[str, set[str]]
) -> Iterator[str]:
    for req in wanted:
        have = versions.get(req.name)
        if not have:
            yield f"{req.file} asks for {req.name}; {locked.lock} does not have it"
        elif req.version is not None and req.version not in have:
            yield f"{req.file} pins {req.name}=={req.version}; {locked.lock} has {_show(have)}"


def _drift_problems(
    locked: LockedSet, versions: dict[str, set[str]], dev: dict[str, set[str]]
) -> Iterator[str]:
    for name, have in sorted(versions.items()):
        if not have <= dev.get(name, set()):
            tested = _show(dev[name]) if name in dev else "nothing"
            verb = "ships" if locked.ships else "installs"
            yield f"{locked.lock} {verb} {name}=={_show(have)}; {DEV.lock} (tested) has {tested}"


def _show(versions: set[str]) -> str:
    return " or ".join(sorted(versions))


def compile_locks(root: Path, upgrade: list[str]) -> None:
    """Resolve every set with uv and write its lock (``upgrade``: uv's upgrade options)."""
    digest = inputs_digest(root)
    for locked in SETS.values():
        print(f"locks: resolving {locked.lock}", flush=True)
        body = _resolve(root, locked, upgrade)
        (root / locked.lock).write_text(header(locked, digest) + body)
    found = problems(root)
    if found:
        raise LockError("the new locks still disagree: " + "; ".join(found))


def _resolve(root: Path, locked: LockedSet, upgrade: list[str]) -> str:
    # uv runs in a scratch folder so its "# via -r requirements.txt" notes name no temp path.
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        lines = [req.line for req in set_requirements(root, locked)]
        (work / locked.source).write_text("".join(line + "\n" for line in lines))
        options = [*upgrade, locked.source]
        if locked.within_dev:
            shutil.copyfile(root / DEV.lock, work / DEV.lock)
            options += ["--constraints", DEV.lock]
        if not locked.ships:
            return _uv(work, root / locked.lock, [*target_options(locked), *options])
        bodies = {
            _uv(work, root / locked.lock, [*target_options(locked, machine), *options])
            for machine in LAMBDA_MACHINES
        }
    if len(bodies) != 1:
        raise LockError(f"{locked.name}: uv resolves differently for {LAMBDA_MACHINES}")
    return bodies.pop()


def _uv(work: Path, previous: Path, options: list[str]) -> str:
    # The previous lock is uv's output file, so versions stay put unless asked to move.
    output = work / "output.lock"
    if previous.is_file():
        shutil.copyfile(previous, output)
    command = [sys.executable, "-m", "uv", "pip", "compile", "--quiet", "--generate-hashes"]
    command += ["--no-header", *options, "--output-file", output.name]
    if subprocess.run(command, cwd=work, check=False).returncode != 0:
        raise LockError("uv could not resolve " + " ".join(options))
    return output.read_text()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=("compile", "check"))
    parser.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)
    parser.add_argument("--upgrade", action="store_true", help="move every pin to its newest")
    parser.add_argument("--upgrade-package", action="append", default=[], metavar="NAME")
    args = parser.parse_args(argv)
    try:
        if args.action == "compile":
            upgrade = ["--upgrade"] if args.upgrade else []
            upgrade += [f"--upgrade-package={name}" for name in args.upgrade_package]
            compile_locks(args.root, upgrade)
            return 0
        found = problems(args.root)
    except LockError as exc:
        print(f"locks: {exc}", file=sys.stderr)
        return 1
    for problem in found:
        print(f"locks: {problem}", file=sys.stderr)
    if found:
        print(
            f"locks: the lock files disagree with requirements*.txt: {HOW_TO_FIX}", file=sys.stderr
        )
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
