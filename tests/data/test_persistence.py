"""Data outlives the process that wrote it (a Lambda container, or the whole backend)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from infra.local import neon_local

ROOT = Path(__file__).resolve().parents[2]

_WRITE = """
from sqlmodel import Session
from shared.tasks import crud as tasks
from shared.db.engine import get_engine
from shared.tasks.models import TaskCreate
with Session(get_engine()) as s:
    print(tasks.insert_task_row(s, user_id={user!r}, data=TaskCreate(title="survives")).id)
"""
_READ = """
import json
from sqlmodel import Session
from shared.tasks import crud as tasks
from shared.db.engine import get_engine
with Session(get_engine()) as s:
    task = tasks.select_task_row(s, user_id={user!r}, task_id={task_id})
    print(json.dumps(None if task is None else task.title))
"""


def _python(code: str, stack: neon_local.Stack) -> str:
    env = {**os.environ, "DATABASE_URL": stack.database_url, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.strip()


def test_a_task_written_by_one_process_is_read_by_a_fresh_one(
    stack: neon_local.Stack, user_id: str
) -> None:
    # GIVEN a process that creates a task and exits
    task_id = int(_python(_WRITE.format(user=user_id), stack))
    # WHEN a brand-new process with a new engine looks for it
    title = json.loads(_python(_READ.format(user=user_id, task_id=task_id), stack))
    # THEN the task is there
    assert title == "survives"


def test_tasks_survive_a_database_restart(stack: neon_local.Stack, user_id: str) -> None:
    # GIVEN a stored task
    task_id = int(_python(_WRITE.format(user=user_id), stack))
    # WHEN PostgreSQL itself restarts
    stack.stop_postgres()
    stack.start_postgres()
    # THEN the task is still there, read through the pooler by a new process
    title = json.loads(_python(_READ.format(user=user_id, task_id=task_id), stack))
    assert title == "survives"
