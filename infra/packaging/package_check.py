"""Check built Lambda zips: right machine code, right Python, shipped bytecode, sizes.

    python -m infra.packaging.package_check --arch arm64 .build/arm64/*.zip

Lambda loads whatever is in the zip: a wheel for the wrong architecture or CPython
fails only at import time in AWS, and a missing or stale ``.pyc`` quietly costs every
cold start a compile (the code directory is read-only, so nothing is ever cached).
"""

from __future__ import annotations

import argparse
import re
import sys
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

# ELF e_machine values (the System V ABI's registry).
ELF_MACHINE = {"arm64": 183, "x86_64": 62}
WHEEL_ARCH = {"arm64": "aarch64", "x86_64": "x86_64"}
# importlib.util.MAGIC_NUMBER of every CPython 3.12.x: bytecode from any other version
# is ignored (and recompiled) by Lambda's python3.12.
PYC_MAGIC_312 = (3531).to_bytes(2, "little") + b"\r\n"
# PEP 552 flags: hash-based and not checked against the source. Zipping drops source
# mtimes, so timestamp-based .pyc files would all look stale on Lambda.
PYC_UNCHECKED_HASH = 0b01
PYC_SUFFIX = ".cpython-312.pyc"
EXTENSION = re.compile(r"\.cpython-(?P<version>\d+)-(?P<arch>\w+?)-linux-gnu\.so$")
# Never belongs in a function package: tests, tooling, and what Lambda provides.
FORBIDDEN_TOP_LEVEL = frozenset(
    {
        "tests",
        "infra",
        "node_modules",
        ".neon-local",
        ".serverless",
        ".build",
        "pytest",
        "_pytest",
        "moto",
        "mypy",
        "ruff",
        "pip",
        "setuptools",
        "wheel",
        "boto3",
        "botocore",
        "s3transfer",
        "bin",
    }
)
_EXAMPLES = 5
MiB = 2**20
# Budgets (issue 12): a function's own zip is our code only; a fresh deploy (every
# function and layer) uploads under a quarter of what eleven self-contained zips did
# before layers: 8 x 20.67 + 21.11 + 2 x 14.78 MiB, about 216 MiB (rounded to 220).
CODE_BUDGET = 1 * MiB
BEFORE_LAYERS = 220 * MiB
UPLOAD_BUDGET = BEFORE_LAYERS // 4


@dataclass(frozen=True)
class PackageSize:
    """One zip's size: what is uploaded and what Lambda unpacks (limit 250 MB)."""

    name: str
    files: int
    zipped: int
    unzipped: int


def measure(path: Path) -> PackageSize:
    """The zip's file count, compressed size on disk, and uncompressed size."""
    with zipfile.ZipFile(path) as archive:
        infos = [info for info in archive.infolist() if not info.is_dir()]
    unzipped = sum(info.file_size for info in infos)
    return PackageSize(path.stem, len(infos), path.stat().st_size, unzipped)


def format_sizes(sizes: Iterable[PackageSize]) -> str:
    """A table of sizes in MiB, one function a line."""
    lines = [f"{'function':<14} {'files':>6} {'zipped MiB':>11} {'unzipped MiB':>13}"]
    for size in sizes:
        zipped, unzipped = size.zipped / 2**20, size.unzipped / 2**20
        lines.append(f"{size.name:<14} {size.files:>6} {zipped:>11.2f} {unzipped:>13.2f}")
    return "\n".join(lines)


def format_report(functions: list[PackageSize], layers: list[PackageSize]) -> str:
    """The size tables of the functions' zips and the layers, and the budgets."""
    code = sum(size.zipped for size in functions)
    upload = code + sum(size.zipped for size in layers)
    largest = max(functions, key=lambda size: size.zipped)
    return "\n".join(
        [
            format_sizes(functions),
            format_sizes(layers).replace("function", "layer   ", 1),
            f"largest function zip: {largest.name} {largest.zipped / MiB:.2f} MiB "
            f"({_verdict(largest.zipped, CODE_BUDGET)} < {CODE_BUDGET / MiB:.0f} MiB)",
            f"a fresh deploy uploads {upload / MiB:.2f} MiB "
            f"({_verdict(upload, UPLOAD_BUDGET)} < {UPLOAD_BUDGET / MiB:.0f} MiB, a quarter of "
            f"the {BEFORE_LAYERS / MiB:.0f} MiB before layers); with unchanged locks "
            f"{code / MiB:.2f} MiB (the layers deployed last are reused)",
        ]
    )


def _verdict(size: int, budget: int) -> str:
    return "within budget" if size < budget else "OVER BUDGET"


def problems(path: Path, arch: str, *, bytecode: bool = True) -> list[str]:
    """Everything wrong with one zip for Lambda's python3.12 on ``arch`` (empty: fine)."""
    with zipfile.ZipFile(path) as archive:
        found = [
            *_forbidden(archive.namelist()),
            *_native_code(archive, arch),
            *_wheel_tags(archive, arch),
        ]
        if bytecode:
            found += _bytecode(archive)
    return [f"{path.name}: {problem}" for problem in found]


def _forbidden(names: list[str]) -> Iterator[str]:
    tops = {name.split("/", 1)[0] for name in names}
    for top in sorted(tops & FORBIDDEN_TOP_LEVEL):
        yield f"contains {top}/, which does not belong in a Lambda package"


def _native_code(archive: zipfile.ZipFile, arch: str) -> Iterator[str]:
    for info in archive.infolist():
        if info.is_dir():
            continue
        with archive.open(info) as member:
            header = member.read(20)
        if header.startswith(b"\x7fELF"):
            yield from _elf(info.filename, header, arch)
        elif info.filename.endswith(".so"):
            yield f"{info.filename} is not an ELF file"


def _elf(name: str, header: bytes, arch: str) -> Iterator[str]:
    is_64bit, little_endian = header[4] == 2, header[5] == 1
    machine = int.from_bytes(header[18:20], "little" if little_endian else "big")
    if not (is_64bit and little_endian and machine == ELF_MACHINE[arch]):
        yield f"{name} is machine code for e_machine {machine}, not {arch}"
    match = EXTENSION.search(name)
    if match and match["version"] != "312":
        yield f"{name} is built for CPython {match['version']}, not 3.12"
    if match and match["arch"] != WHEEL_ARCH[arch]:
        yield f"{name} is tagged {match['arch']}, not {WHEEL_ARCH[arch]}"


def _wheel_tags(archive: zipfile.ZipFile, arch: str) -> Iterator[str]:
    for name in archive.namelist():
        if not name.endswith(".dist-info/WHEEL"):
            continue
        for line in archive.read(name).decode().splitlines():
            if line.startswith("Tag:") and not tag_fits(line[4:].strip(), arch):
                yield f"{name} has tag {line[4:].strip()}, not for cp312 on {arch}"


def tag_fits(tag: str, arch: str) -> bool:
    """True when a wheel tag (``cp312-cp312-manylinux_2_17_aarch64``) runs on Lambda."""
    interpreter, abi, platform = tag.split("-")
    if platform != "any" and not (
        platform.startswith("manylinux") and platform.endswith("_" + WHEEL_ARCH[arch])
    ):
        return False
    if abi == "none":
        return interpreter.startswith("py") or interpreter == "cp312"
    if abi == "abi3":
        return re.fullmatch(r"cp3(\d+)", interpreter) is not None and int(interpreter[3:]) <= 12
    return abi == interpreter == "cp312"


def _bytecode(archive: zipfile.ZipFile) -> Iterator[str]:
    names = set(archive.namelist())
    missing = [name for name in sorted(names) if name.endswith(".py") and pyc_of(name) not in names]
    wrong = [name for name in sorted(names) if name.endswith(".pyc") and not _pyc_ok(archive, name)]
    if missing:
        yield f"{len(missing)} modules have no 3.12 bytecode, e.g. {missing[:_EXAMPLES]}"
    if wrong:
        yield f"{len(wrong)} .pyc are not unchecked-hash 3.12 bytecode, e.g. {wrong[:_EXAMPLES]}"


def pyc_of(source: str) -> str:
    """Where CPython 3.12 looks for a module's bytecode: ``__pycache__/NAME.cpython-312.pyc``."""
    path = PurePosixPath(source)
    return str(path.parent / "__pycache__" / (path.stem + PYC_SUFFIX)).removeprefix("./")


def _pyc_ok(archive: zipfile.ZipFile, name: str) -> bool:
    with archive.open(name) as member:
        header = member.read(8)
    flags = int.from_bytes(header[4:8], "little")
    return header[:4] == PYC_MAGIC_312 and flags == PYC_UNCHECKED_HASH


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", choices=sorted(ELF_MACHINE), default="arm64")
    parser.add_argument("zips", nargs="+", type=Path)
    args = parser.parse_args(argv)
    print(format_sizes(measure(path) for path in args.zips))
    found = [problem for path in args.zips for problem in problems(path, args.arch)]
    for problem in found:
        print(problem, file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
