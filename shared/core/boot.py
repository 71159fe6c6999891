"""Cold-start helpers for the Lambda entry points."""

from __future__ import annotations

import gc


def resume_collector() -> None:
    """Re-enable the garbage collector paused by ``functions/__init__``.

    What the import created lives as long as the container: freezing it keeps it out
    of every later collection. Without the pause and the freeze a handler's import
    costs about 10 % more CPU (docs/design.md).
    """
    gc.freeze()
    gc.enable()
