"""How the gateway runs a function: the seam between HTTP and a Lambda runtime.

An :data:`Invoker` takes a function's name (as serverless.yml names it) and its event
and returns the function's result, as Lambda's Invoke API would, or raises when the
function failed (API Gateway then answers 500). By default each function runs in warm
worker processes of its own, one invocation per process at a time
(:class:`~infra.local.runtime.workers.Workers`); ``LAMBDA_RUNTIME=rie`` hands the
packaged zips to the Lambda runtime emulator instead (infra/local/runtime/fleet.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["Invoker"]

Invoker = Callable[[str, dict[str, Any]], Any]
