"""Handlers load without pydantic.v1, and FastAPI still answers its v1 check."""

from __future__ import annotations

import subprocess
import sys

from functions import health
from tests.support.client import Client

_PROBE = (
    "import sys\n"
    "import functions.list_tasks, functions.create_task, functions.docs\n"
    "print(sys.modules.get('pydantic.v1', 'never imported'))\n"
)


def test_loading_handlers_never_imports_pydantic_v1() -> None:
    # GIVEN a fresh interpreter, as a new Lambda container
    # WHEN it loads handlers (their apps, routes and OpenAPI models built)
    done = subprocess.run(
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, check=True, timeout=120
    )
    # THEN pydantic.v1 was never loaded: it is marked absent, not imported
    assert done.stdout.strip() == "None"


def test_a_handler_built_without_pydantic_v1_serves(client: Client) -> None:
    # GIVEN this process's handlers, built with pydantic.v1 marked absent
    assert sys.modules["pydantic.v1"] is None
    # WHEN one is invoked
    reply = client(health.handler, "GET", "/health")
    # THEN it answers as usual
    assert reply.status == 200
