"""A worker process's main loop: one function, imported once, one invocation at a time.

``python -m infra.local.runtime.bootstrap <fd>`` is what infra/local/runtime/workers.py
starts, as Lambda's runtime starts an execution environment: the init phase imports the
handler that ``_HANDLER`` names (``functions/health.handler``) and says so on the
connection ``fd``; then each event that arrives there is one invocation, on this
process's main thread, answered on the same connection, with Lambda's START, END and
REPORT lines around what the function prints. A handler that raises is answered with
the runtime's error payload (``errorType``, ``errorMessage``) and the process stays
warm, as on Lambda. Nothing but the standard library is imported besides the handler.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

Handler = Callable[[Any, Any], Any]


class LambdaContext:
    """Lambda's context object (what Powertools and Mangum read), from Lambda's variables."""

    def __init__(self, request_id: str, deadline: float) -> None:
        self.function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.memory_limit_in_mb = int(os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"])
        self.invoked_function_arn = (
            f"arn:aws:lambda:local:000000000000:function:{self.function_name}"
        )
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = f"local/[$LATEST]{os.getpid()}"
        self.aws_request_id = request_id
        self._deadline = deadline

    def get_remaining_time_in_millis(self) -> int:
        """What is left of the function's timeout."""
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def _load(name: str) -> Handler:
    """``functions/health.handler``: the module's attribute, as the runtime imports it."""
    module, attribute = name.rsplit(".", 1)
    handler: Handler = getattr(importlib.import_module(module.replace("/", ".")), attribute)
    return handler


def _run(handler: Handler, event: Any, context: LambdaContext) -> bytes:
    """The invocation's answer as JSON: the handler's result, or the runtime's error payload."""
    try:
        result = handler(event, context)
    except Exception as exc:  # the function's failure, answered as Lambda's runtime does
        return _error(type(exc).__name__, exc)
    try:
        return json.dumps(result).encode()
    except (TypeError, ValueError) as exc:  # a result that is no JSON
        return _error("Runtime.MarshalError", exc)


def _error(kind: str, exc: Exception) -> bytes:
    print(f"[ERROR] {kind}", file=sys.stderr)
    traceback.print_exc()
    return json.dumps({"errorType": kind, "errorMessage": str(exc)}).encode()


def _invoke(handler: Handler, message: dict[str, Any], init_ms: float | None) -> bytes:
    request_id = str(message["requestId"])
    timeout = int(os.environ["AWS_LAMBDA_FUNCTION_TIMEOUT"])
    print(f"START RequestId: {request_id} Version: $LATEST", flush=True)
    started = time.monotonic()
    answer = _run(handler, message["event"], LambdaContext(request_id, started + timeout))
    took = (time.monotonic() - started) * 1000
    memory = os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"]
    init = "" if init_ms is None else f"\tInit Duration: {init_ms:.2f} ms"
    print(f"END RequestId: {request_id}")
    print(
        f"REPORT RequestId: {request_id}\tDuration: {took:.2f} ms\tMemory Size: {memory} MB{init}",
        flush=True,
    )
    return answer


def main() -> None:
    """Init, then serve invocations until the connection closes."""
    # Ctrl-C reaches the terminal's whole process group; the gateway ends its workers itself
    # (and a worker whose gateway is gone exits when its connection closes).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]  # a TextIOWrapper
    connection = Connection(int(sys.argv[1]))
    started = time.monotonic()
    handler = _load(os.environ["_HANDLER"])  # an import error ends the process: a failed init
    init_ms: float | None = (time.monotonic() - started) * 1000
    connection.send_bytes(json.dumps({"initMs": init_ms}).encode())
    while True:
        try:
            message = json.loads(connection.recv_bytes())
        except EOFError:
            return
        connection.send_bytes(_invoke(handler, message, init_ms))
        init_ms = None  # Lambda reports it on the cold start's invocation only


if __name__ == "__main__":
    main()
