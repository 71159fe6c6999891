"""Compiled, deterministic zips of a folder: what both layers and function zips are made of.

* Bytecode: every module is compiled by a CPython 3.12 as unchecked-hash ``.pyc`` in
  ``__pycache__``: Lambda's code directories are read-only, so without shipped bytecode
  every cold start compiles every module it imports; timestamp-based ``.pyc`` files
  would look stale because zips do not keep the source mtimes they record. Each tree is
  compiled for where Lambda unpacks it (``/var/task``, ``/opt/python``), so tracebacks
  show real paths.
* Zips are deterministic (sorted entries, fixed dates and modes), so an unchanged zip
  keeps its hash and is not deployed again.
"""

from __future__ import annotations

import os
import subprocess
import zipfile
from pathlib import Path
from typing import Literal

__all__ = ["CompileError", "compile_tree", "tree_entries", "write_zip"]

ZIP_DATE = (1980, 1, 1, 0, 0, 0)


class CompileError(Exception):
    """compileall failed; the message names the tree."""


def compile_tree(tree: Path, python312: str | None, lambda_path: str) -> None:
    """Compile every module under ``tree``, recording ``lambda_path`` as its location."""
    if python312 is None:
        return
    command = [
        *(python312, "-m", "compileall", "-q", "-j", "0", "-o", "0"),
        *("--invalidation-mode", "unchecked-hash", "-s", str(tree), "-p", lambda_path),
        str(tree),
    ]
    if subprocess.run(command, check=False).returncode != 0:
        raise CompileError(f"compileall failed under {tree}")


def tree_entries(tree: Path, skip: str = "", prefix: str = "") -> list[tuple[str, Path]]:
    """``(name in zip, file)`` for every file under ``tree`` (names under ``prefix``)."""
    entries = []
    for path in tree.rglob("*"):
        name = path.relative_to(tree).as_posix()
        if path.is_file() and not (skip and name.startswith(skip)):
            entries.append((prefix + name, path))
    return sorted(entries)


def write_zip(path: Path, entries: list[tuple[str, Path]], mode: Literal["w", "a"] = "w") -> None:
    """Write (or with mode "a", append) ``(name in zip, file)`` entries."""
    with zipfile.ZipFile(path, mode, zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, source in entries:
            _add(archive, name, source)


def _add(archive: zipfile.ZipFile, name: str, source: Path) -> None:
    # Fixed dates keep the zip's hash stable; 0644/0755 let Lambda's runtime user read.
    info = zipfile.ZipInfo(name, ZIP_DATE)
    executable = os.access(source, os.X_OK)
    info.external_attr = (0o100755 if executable else 0o100644) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, source.read_bytes(), compresslevel=9)
