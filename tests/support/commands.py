"""Run one of the repository's modules as a command, as an operator or `make` runs it."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping

from infra import ROOT

__all__ = ["run_module"]


def run_module(
    module: str,
    *args: str,
    env: Mapping[str, str] | None = None,
    stdin: str | None = None,
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    """``python -m module args`` from the repository root; the caller judges its status."""
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        env=None if env is None else dict(env),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
