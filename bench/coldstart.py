"""Cold start: wall time to import each handler module in a fresh interpreter.

Everything is byte-compiled first (as the package build ships it), so the figure is
import work, not compilation. Each run is a new process that times only its import
statement (interpreter start-up is the same for every function and not ours to cut).
Runs are interleaved (bare, floor, handler A, handler B, ..., bare, ...) so drift in the
machine's speed hits every module alike; the figure is the median per module, and each
module's ratio to the floor (bench/floor.py) and to the bare frameworks is the median of
its ratios within a round.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import sysconfig
from collections import defaultdict
from pathlib import Path

from bench.results import ColdStartResult, ExtraImports, ModuleImport, Role
from infra.serverless.routes import functions

ROOT = Path(__file__).resolve().parent.parent
BARE = "fastapi, mangum, sqlmodel, pg8000"
FLOOR = "bench.floor"  # the least handler on the same frameworks (see bench/floor.py)
DOCS_FUNCTION = "docs"  # serves developers, not the API's traffic: reported apart
API_MODULES = tuple(fn.module for fn in functions() if not fn.is_job)
JOB_MODULES = tuple(fn.module for fn in functions() if fn.is_job)
DOCS_MODULES = tuple(fn.module for fn in functions() if fn.name == DOCS_FUNCTION)
_TIMER = (
    "import time\n"
    "began = time.perf_counter()\n"
    "import {modules}\n"
    "print(time.perf_counter() - began)\n"
)


def compile_all() -> None:
    """Byte-compile site-packages and the project, as the package build does.

    In a child process: compileall's workers would start multiprocessing's fork server
    in this one, before the throughput run could give it the handlers to preload.
    """
    targets = [sysconfig.get_paths()["purelib"], str(ROOT / "shared"), str(ROOT / "functions")]
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", "-j", "0", *dict.fromkeys(targets)],
        stdout=subprocess.DEVNULL,
        check=False,  # a stray file that does not compile must not stop the bench
        timeout=300,
    )


def _env() -> dict[str, str]:
    keep = {"PATH", "HOME", "LANG", "LC_ALL", "TMPDIR"}
    env = {k: v for k, v in os.environ.items() if k in keep}
    env |= {
        "PYTHONPATH": str(ROOT),
        "POWERTOOLS_SERVICE_NAME": "todo-api",
        "POWERTOOLS_METRICS_NAMESPACE": "TodoApi",
        "POWERTOOLS_LOG_LEVEL": "INFO",
    }
    return env


def import_seconds(modules: str, env: dict[str, str] | None = None) -> float:
    """Seconds one fresh interpreter spends on ``import <modules>``."""
    done = subprocess.run(
        [sys.executable, "-c", _TIMER.format(modules=modules)],
        cwd=ROOT,
        env=env or _env(),
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return float(done.stdout.strip().splitlines()[-1])


def measure(runs: int, modules: tuple[str, ...] = API_MODULES + JOB_MODULES) -> ColdStartResult:
    """Median import seconds per module and for the bare framework import, interleaved."""
    compile_all()
    env = _env()
    targets = (BARE, FLOOR, *modules)
    for target in (BARE, modules[0]):  # untimed: the files are in the page cache after this
        import_seconds(target, env)
    times: dict[str, list[float]] = defaultdict(list)
    for _ in range(runs):
        for target in targets:
            times[target].append(import_seconds(target, env))
    return {
        "runs": runs,
        "bare_modules": BARE,
        "bare_s": statistics.median(times[BARE]),
        "bare_runs_s": times[BARE],
        "floor": _imported(times, FLOOR),
        "modules": {module: _imported(times, module) for module in modules},
        "extra_imports": extra_imports("functions.list_tasks"),
    }


def _imported(times: dict[str, list[float]], module: str) -> ModuleImport:
    return {
        "median_s": statistics.median(times[module]),
        "bare_ratio": _ratio(times[module], times[BARE]),
        "floor_ratio": _ratio(times[module], times[FLOOR]),
        "runs_s": times[module],
        "role": _role(module),
    }


def _ratio(module_runs: list[float], reference_runs: list[float]) -> float:
    """The median of each round's import over the same round's reference import.

    Runs moments apart share the machine's state, so this cancels most of the drift a
    shared machine adds (the verdict uses it).
    """
    return statistics.median(t / r for t, r in zip(module_runs, reference_runs, strict=True))


def _role(module: str) -> Role:
    if module in JOB_MODULES:
        return "job"
    return "docs" if module in DOCS_MODULES else "api"


def _importtime(modules: str) -> dict[str, int]:
    """Self microseconds per module from ``python -X importtime``."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {modules}"],
        cwd=ROOT,
        env=_env(),
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    found: dict[str, int] = {}
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, _, name = line.removeprefix("import time:").split("|")
        found[name.strip()] = int(self_us)
    return found


def extra_imports(module: str, top: int = 10) -> ExtraImports:
    """What ``module`` imports (and runs at import) beyond the bare set, by self time."""
    bare = _importtime(BARE)
    handler = _importtime(module)
    extra = {name: us for name, us in handler.items() if name not in bare}
    packages: dict[str, int] = defaultdict(int)
    for name, us in extra.items():
        packages[name.split(".")[0]] += us
    ranked = sorted(extra.items(), key=lambda item: -item[1])[:top]
    return {
        "module": module,
        "extra_self_ms": sum(extra.values()) / 1000,
        "bare_self_ms": sum(bare.values()) / 1000,
        "by_package_ms": {
            name: us / 1000 for name, us in sorted(packages.items(), key=lambda item: -item[1])
        },
        "top_modules_ms": {name: us / 1000 for name, us in ranked},
    }
