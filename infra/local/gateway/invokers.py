"""How the gateway runs a function: the seam between HTTP and a Lambda runtime.

An :data:`Invoker` takes a function's name (as serverless.yml names it) and its event
and returns the function's result, as Lambda's Invoke API would. :class:`InProcess`
imports each function's handler module once, like a warm container, and calls it in
this process; another runtime (the Lambda Runtime Interface Emulator, say) only has to
be another callable of the same shape.
"""

from __future__ import annotations

import importlib
import threading
import uuid
from collections.abc import Callable
from typing import Any

from infra.serverless.routes import function

__all__ = ["InProcess", "Invoker", "LambdaContext"]

Invoker = Callable[[str, dict[str, Any]], Any]


class LambdaContext:
    """The attributes of Lambda's context object that Powertools and Mangum read."""

    def __init__(self, function_name: str) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = 1024
        self.invoked_function_arn = f"arn:aws:lambda:local:000000000000:function:{function_name}"
        self.aws_request_id = str(uuid.uuid4())

    def get_remaining_time_in_millis(self) -> int:
        """Plenty of time left."""
        return 29_000


class InProcess:
    """Each function's handler, imported once and called here, one request at a time.

    One lock per function: Lambda gives a container one request at a time. Different
    functions run side by side (from the gateway's worker threads); each thread's metrics
    and log keys are its own (shared/core/powertools_adapter.py).
    """

    def __init__(self, prefix: str = "todo-api-dev-") -> None:
        self._prefix = prefix  # Lambda's function names: <service>-<stage>-<function>
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def __call__(self, name: str, event: dict[str, Any]) -> Any:
        module_path, attribute = function(name).handler.rsplit(".", 1)
        with self._lock(name):
            handler = getattr(importlib.import_module(module_path.replace("/", ".")), attribute)
            return handler(event, LambdaContext(self._prefix + name))

    def _lock(self, name: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(name, threading.Lock())
