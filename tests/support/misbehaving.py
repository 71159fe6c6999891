"""A Lambda handler that misbehaves when the event asks it to, for tests of the runtime.

The local runtime's workers (infra/local/runtime/workers.py) must survive what a function
can do that the API's functions never do on purpose: exit mid-invocation, raise, or
outlive its timeout. Given an API Gateway event, this handler reads the query string's
``do``: ``exit`` ends the process, ``raise`` raises, ``hang`` sleeps for a minute;
anything else answers 200 with the id of the process that served it.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

from infra import ROOT
from infra.local.runtime.fleet import FunctionSpec

__all__ = ["HANDLER", "TIMEOUT", "handler", "spec"]

HANDLER = "tests/support/misbehaving.handler"  # as serverless.yml would name it
TIMEOUT = 2  # seconds: the function's timeout, past which ``hang`` is ended


def spec(function: str) -> FunctionSpec:
    """The misbehaving handler deployed as ``function``, with a short timeout."""
    return FunctionSpec(f"todo-api-test-{function}", HANDLER, ROOT, timeout_s=TIMEOUT)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Misbehave as ``?do=`` says, else answer this process's id."""
    action = (event.get("queryStringParameters") or {}).get("do")
    print(json.dumps({"message": "invoked", "pid": os.getpid(), "do": action}))
    if action == "exit":
        os._exit(3)
    if action == "raise":
        raise RuntimeError("asked to raise")
    if action == "hang":
        time.sleep(60)
    return {"statusCode": 200, "body": json.dumps({"pid": os.getpid()})}
