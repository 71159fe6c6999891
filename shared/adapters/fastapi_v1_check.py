"""FastAPI's check for pydantic v1 models, answered without importing pydantic.v1.

FastAPI refuses pydantic v1 models, and to recognise one it imports ``pydantic.v1`` (a
whole second copy of pydantic's validators, types and settings) while it builds each
route's fields: about 17 ms of CPU, 3.4 % of a task handler's import (docs/design.md),
on every cold start, for models this project never has. No
pydantic v1 model can exist in a process that cannot import ``pydantic.v1``, so marking
it absent in ``sys.modules`` (Python's documented way to make an import fail) keeps the
check true without loading it: FastAPI already treats an ImportError there as "no v1
models". Nothing else the functions load imports ``pydantic.v1``.

This is the one place that relies on that FastAPI behaviour, as the FastAPI and pydantic
in ``versions.py`` have it; ``tests/api/test_fastapi_v1_check.py`` shows the handlers load
without ``pydantic.v1`` and still serve.
"""

from __future__ import annotations

import sys

__all__ = ["forgo_pydantic_v1"]

_V1 = "pydantic.v1"


def forgo_pydantic_v1() -> None:
    """Make ``import pydantic.v1`` fail in this process, unless something loaded it already."""
    sys.modules.setdefault(_V1, None)  # type: ignore[arg-type]  # None: "absent"
