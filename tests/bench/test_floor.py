"""The cold-start floor: a real handler with nothing of ours, reported beside the handlers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bench.report import INFO, MISS, OK, cold_start_rows
from bench.results import ColdStartResult, Measured, ModuleImport, Role

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


def _imported(floor_ratio: float, role: Role = "api") -> ModuleImport:
    seconds = 0.36 * floor_ratio
    return {
        "median_s": seconds,
        "bare_ratio": seconds / 0.35,
        "floor_ratio": floor_ratio,
        "runs_s": [seconds],
        "role": role,
    }


def _cold_start(modules: dict[str, ModuleImport]) -> Measured:
    cold: ColdStartResult = {
        "runs": 1,
        "bare_modules": "fastapi, mangum, sqlmodel, pg8000",
        "bare_s": 0.35,
        "bare_runs_s": [0.35],
        "floor": _imported(1.0),
        "modules": modules,
        "extra_imports": {
            "module": "functions.list_tasks",
            "extra_self_ms": 30.0,
            "bare_self_ms": 300.0,
            "by_package_ms": {"shared": 20.0},
            "top_modules_ms": {"shared.tasks.models": 10.0},
        },
    }
    return {"cold_start": cold}


def test_each_api_handler_is_judged_against_the_floor_imported_in_the_same_rounds() -> None:
    # GIVEN a floor at 360 ms (1.03× the bare import), one handler at 1.04× the floor
    # and one at 1.07×
    fast, slow = _imported(1.04), _imported(1.07)
    results = _cold_start({"functions.list_tasks": fast, "functions.get_task": slow})
    # WHEN the table is made
    rows = {row.figure: row for row in cold_start_rows(results)}
    floor = next(row for figure, row in rows.items() if figure.startswith("floor:"))
    # THEN the floor is a figure without a verdict, the handler within 1.05× of it passes,
    # the other misses, and each shows both ratios
    assert (floor.verdict, floor.measured) == (INFO, "360.0 (1.03× bare)")
    assert rows["functions.list_tasks"].verdict == OK
    assert rows["functions.get_task"].verdict == MISS
    assert rows["functions.get_task"].measured == "385.2 (1.07× the floor, 1.10× bare)"
    assert rows["functions.get_task"].budget == "≤ 1.05× the floor (≈ 378.0)"


def test_the_docs_function_and_the_jobs_are_reported_apart_without_a_verdict() -> None:
    # GIVEN the docs function and a job, both well over the handlers' budget
    docs, job = _imported(1.2, "docs"), _imported(0.5, "job")
    results = _cold_start({"functions.docs": docs, "functions.migrate": job})
    # WHEN the table is made
    named = ("functions.docs", "functions.migrate")
    rows = [row for row in cold_start_rows(results) if row.figure.startswith(named)]
    # THEN neither has a verdict, and each says what it is
    assert [(row.figure, row.verdict) for row in rows] == [
        ("functions.docs (developers' docs, not the API's path)", INFO),
        ("functions.migrate (one-shot job)", INFO),
    ]
