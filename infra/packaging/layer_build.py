"""One Lambda layer per dependency set: its lock's wheels for python3.12, under ``python/``.

Lambda unpacks a function's layers into /opt, in order, and its python3.12 runtime puts
/opt/python on ``sys.path`` after the function's own /var/task: a layer whose zip holds
``python/<package>`` serves imports for every function it is attached to, and each
function's own zip holds only our code.

* Wheels: pip installs manylinux wheels for CPython 3.12 on the target architecture
  (``--platform``/``--only-binary``), never building anything here, from the set's lock
  file with ``--require-hashes`` (infra/packaging/locks.py): nothing is resolved at build time, so
  a layer built next month holds the same files as the one tested today.
* A set built on another (``BASES``: docs on api) holds only what its lock adds, so the
  docs function carries the api layer plus a small one with Swagger UI's assets.
* Versioning: ``lock_digest`` is the sha256 of the locked requirements (comments
  dropped: relocking another set rewrites every lock's header); it keys the cache in
  .build/cache (with the target and this file: ``build_key``, also the layer's S3 key)
  and goes into the layer's description. An unchanged set builds the same
  bytes, so osls finds the hash it deployed last time and uploads nothing.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from infra import ROOT
from infra.packaging import locks, package_check
from infra.packaging.zip_tree import compile_tree, tree_entries, write_zip

__all__ = ["BASES", "Layer", "LayerError", "build_key", "layer_zip", "lock_digest"]

CACHE = ROOT / ".build" / "cache"
LAYER_DIR = "python"  # Lambda's /opt/python
LAMBDA_PATH = "/opt/" + LAYER_DIR
# Lambda's glibc loads any of these; pip before 24 does not expand manylinux_2_x tags by
# itself, so each is named.
MANYLINUX = (locks.LAMBDA_MANYLINUX, "manylinux_2_28", "manylinux_2_17", "manylinux2014")
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
# A set whose functions also get another set's layer: its own holds only the difference.
BASES = {"docs": "api"}


class LayerError(Exception):
    """A layer cannot be built; the message says why."""


@dataclass(frozen=True)
class Layer:
    """One dependency set's layer (locks.SETS name) and where its zip goes."""

    name: str
    artifact: Path

    @property
    def lock(self) -> Path:
        return _lock(self.name)

    @property
    def base_lock(self) -> Path | None:
        """The lock of the layer attached beside this one, whose packages it leaves out."""
        base = BASES.get(self.name)
        return None if base is None else _lock(base)


def _lock(name: str) -> Path:
    return ROOT / locks.SETS[name].lock


def lock_digest(layer: Layer) -> str:
    """The version of a layer: its locked requirements (and its base's), hashed."""
    digest = hashlib.sha256()
    for lock in (layer.lock, layer.base_lock):
        if lock is not None:
            digest.update(locks.without_comments(lock.read_text()).encode() + b"\0")
    return digest.hexdigest()[:16]


def layer_zip(layer: Layer, arch: str, python312: str | None) -> Path:
    """The layer, installed, trimmed, compiled and zipped (cached by lock and build)."""
    target = CACHE / arch / f"layer-{layer.name}-{build_key(layer, arch, python312)}.zip"
    if target.exists():
        return target
    _prune_cache(target)
    with tempfile.TemporaryDirectory(dir=target.parent) as scratch:
        tree = Path(scratch) / LAYER_DIR
        no_deps = layer.base_lock is not None  # the base layer has the dependencies
        _pip_install(_requirements(layer, Path(scratch)), arch, tree, no_deps)
        trim(tree)
        compile_tree(tree, python312, LAMBDA_PATH)
        write_zip(Path(scratch) / "layer.zip", tree_entries(tree, prefix=LAYER_DIR + "/"))
        # Renamed into place only when whole, so an interrupted build leaves no cache entry.
        (Path(scratch) / "layer.zip").rename(target)
    return target


def build_key(layer: Layer, arch: str, python312: str | None) -> str:
    """What the layer's bytes depend on, hashed: its lock, the target, this builder."""
    digest = hashlib.sha256()
    parts = (lock_digest(layer), arch, str(python312 is not None), Path(__file__).read_text())
    for part in parts:
        digest.update(part.encode() + b"\0")
    return digest.hexdigest()[:16]


def _prune_cache(target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    prefix = target.name.rsplit("-", 1)[0] + "-"
    for stale in target.parent.glob(prefix + "*.zip"):
        stale.unlink()


def _requirements(layer: Layer, scratch: Path) -> Path:
    """The lock, or for a set with a base the entries its lock adds to the base's."""
    if layer.base_lock is None:
        return layer.lock
    own, base = (locks.entries(lock.read_text()) for lock in (layer.lock, layer.base_lock))
    changed = sorted(name for name in own.keys() & base.keys() if own[name] != base[name])
    if changed:
        raise LayerError(f"{layer.lock.name} and {layer.base_lock.name} differ on {changed}")
    added = scratch / f"requirements-{layer.name}-only.txt"
    added.write_text("".join(own[name] for name in sorted(own.keys() - base.keys())))
    return added


def pip_platforms(arch: str) -> list[str]:
    """pip's ``--platform`` arguments for Lambda's glibc on ``arch``."""
    suffix = package_check.WHEEL_ARCH[arch]
    return [arg for tag in MANYLINUX for arg in ("--platform", f"{tag}_{suffix}")]


def _pip_install(requirements: Path, arch: str, staging: Path, no_deps: bool) -> None:
    print(f"package_build: installing {requirements.name} for cp312 {arch}", flush=True)
    command = [
        *(sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"),
        *("--no-warn-conflicts", "--no-compile", "--target", str(staging)),
        *("--implementation", "cp", "--python-version", locks.LAMBDA_PYTHON),
        *("--only-binary=:all:", *pip_platforms(arch)),
        *("--require-hashes", "--requirement", str(requirements)),
        *(("--no-deps",) if no_deps else ()),
    ]
    if subprocess.run(command, check=False).returncode != 0:
        raise LayerError(f"pip could not install {requirements.name} as wheels for Lambda")


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
