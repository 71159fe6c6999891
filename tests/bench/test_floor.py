"""The cold-start floor: a real handler with nothing of ours, reported beside the handlers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bench.report import INFO, MISS, cold_start_rows
from bench.results import ColdStartResult, Measured, ModuleImport

ROOT = Path(__file__).resolve().parents[2]

# A fresh interpreter, as a cold container: the floor's table must not join this
# process's SQLModel metadata, which migrate and verify compare with the database.
_INVOKE = """
import json, sys
from bench.floor import PATH, handler
loaded = list(sys.modules)
from tests.support.events import LambdaContext, http_api_event
response = handler(http_api_event("GET", PATH.replace("{user_id}", "u1")), LambdaContext())
adapter = {"shared", "shared.adapters", "shared.adapters.fastapi_v1_check"}
theirs = ("aws_lambda_powertools", "pydantic_settings", "jwt", "functions")
ours = sorted(n for n in loaded if n.startswith("shared") and n not in adapter
              or n.split(".")[0] in theirs)
print(json.dumps({"response": response, "ours": ours}))
"""


def test_the_floor_is_a_handler_that_answers_with_nothing_of_ours_loaded() -> None:
    # GIVEN the floor module in a fresh interpreter
    # WHEN it is invoked with an API Gateway HTTP API event for its route
    done = subprocess.run(
        [sys.executable, "-c", _INVOKE], cwd=ROOT, capture_output=True, text=True, check=True
    )
    result = json.loads(done.stdout)
    # THEN it answers as a handler does, having loaded none of the service's own code
    assert result["response"]["statusCode"] == 200
    assert json.loads(result["response"]["body"]) == []
    assert result["ours"] == []


def _imported(ratio: float) -> ModuleImport:
    return {"median_s": 0.35 * ratio, "ratio": ratio, "runs_s": [0.35 * ratio], "job": False}


def test_the_floor_is_reported_beside_handlers_judged_against_the_budget() -> None:
    # GIVEN a floor at 1.02× the bare import and a handler just under it
    cold: ColdStartResult = {
        "runs": 1,
        "bare_modules": "fastapi, mangum, sqlmodel, pg8000",
        "bare_s": 0.35,
        "bare_runs_s": [0.35],
        "floor": _imported(1.02),
        "modules": {"functions.list_tasks": _imported(1.01)},
        "extra_imports": {
            "module": "functions.list_tasks",
            "extra_self_ms": 30.0,
            "bare_self_ms": 300.0,
            "by_package_ms": {"shared": 20.0},
            "top_modules_ms": {"shared.tasks.models": 10.0},
        },
    }
    results: Measured = {"cold_start": cold}
    # WHEN the table is made
    rows = cold_start_rows(results)
    floor = next(row for row in rows if row.figure.startswith("floor:"))
    handler = next(row for row in rows if row.figure == "functions.list_tasks")
    # THEN the floor is a figure without a verdict, and the handler still misses 0.90×
    assert (floor.verdict, floor.measured) == (INFO, "357.0 (1.02×)")
    assert handler.verdict == MISS
