"""Create, read, update and delete through the SQLModel layer, against the real stack."""

from __future__ import annotations

import time

from sqlalchemy import text
from sqlmodel import Session

from infra.local import neon_local
from shared.db.engine import get_engine
from shared.tasks import crud
from shared.tasks.crud import TaskQuery
from shared.tasks.models import TaskCreate


def test_create_then_read_returns_the_stored_task(stack: neon_local.Stack, user_id: str) -> None:
    # GIVEN a session on the pooled endpoint
    with Session(get_engine()) as session:
        # WHEN a task is created
        created = crud.insert_task_row(
            session, user_id=user_id, data=TaskCreate(title=" Buy milk ")
        )
        # THEN the database assigned id and timestamps, and a read returns the same row
        fetched = crud.select_task_row(session, user_id=user_id, task_id=created.id or 0)
    assert created.id is not None and created.id > 0
    assert created.title == "Buy milk" and created.completed is False
    assert created.created_at == created.updated_at
    assert fetched is not None and fetched.model_dump() == created.model_dump()


def test_update_changes_fields_and_moves_updated_at(stack: neon_local.Stack, user_id: str) -> None:
    # GIVEN a stored task
    with Session(get_engine()) as session:
        task = crud.insert_task_row(session, user_id=user_id, data=TaskCreate(title="a"))
        created_at, updated_at = task.created_at, task.updated_at
        # WHEN it is updated
        updated = crud.update_task_row(
            session, user_id=user_id, task_id=task.id or 0, values={"title": "b", "completed": True}
        )
    # THEN the new values are stored, updated_at moved and created_at did not
    assert updated is not None
    assert (updated.title, updated.completed) == ("b", True)
    assert updated.created_at == created_at
    assert updated.updated_at is not None and updated_at is not None
    assert updated.updated_at > updated_at


def test_plain_sql_update_moves_updated_at_but_not_created_at(
    stack: neon_local.Stack, user_id: str
) -> None:
    # GIVEN a stored task
    with Session(get_engine()) as session:
        task = crud.insert_task_row(session, user_id=user_id, data=TaskCreate(title="a"))
    time.sleep(0.01)
    # WHEN someone edits it with plain SQL, as the Neon console's SQL editor would
    stack.admin_psql(
        f"UPDATE tasks SET title = 'edited', updated_at = '2000-01-01' WHERE id = {task.id:d}"  # noqa: S608
    )
    # THEN the trigger set updated_at to the time of the edit; created_at kept its value
    with Session(get_engine()) as session:
        row = session.exec(  # type: ignore[call-overload]
            text("SELECT title, created_at, updated_at FROM tasks WHERE id = :id"),
            params={"id": task.id},
        ).one()
    assert row.title == "edited"
    assert row.created_at == task.created_at
    assert task.updated_at is not None and row.updated_at > task.updated_at


def test_delete_removes_only_the_owners_task(stack: neon_local.Stack, user_id: str) -> None:
    # GIVEN a task of one user
    with Session(get_engine()) as session:
        task = crud.insert_task_row(session, user_id=user_id, data=TaskCreate(title="mine"))
        task_id = task.id or 0
        # WHEN another user tries to delete it, and then the owner does
        stranger = crud.delete_task_row(session, user_id=user_id + "-other", task_id=task_id)
        owner = crud.delete_task_row(session, user_id=user_id, task_id=task_id)
        # THEN only the owner's delete removed it
        gone = crud.select_task_row(session, user_id=user_id, task_id=task_id)
    assert (stranger, owner, gone) == (False, True, None)


def test_list_counts_and_filters_in_one_statement(stack: neon_local.Stack, user_id: str) -> None:
    # GIVEN three tasks, one completed
    with Session(get_engine()) as session:
        ids = [
            crud.insert_task_row(session, user_id=user_id, data=TaskCreate(title=t)).id
            for t in "abc"
        ]
        crud.update_task_row(
            session, user_id=user_id, task_id=ids[0] or 0, values={"completed": True}
        )
        # WHEN listing pages and filters
        query = TaskQuery(limit=2, sort="title", order="asc")
        page, total = crud.select_task_page(session, user_id=user_id, query=query)
        done_query = TaskQuery(status="completed")
        done, done_total = crud.select_task_page(session, user_id=user_id, query=done_query)
        past, past_total = crud.select_task_page(
            session, user_id=user_id, query=TaskQuery(offset=10)
        )
    # THEN pages are ordered and totals count the whole filtered set
    assert [t.title for t in page] == ["a", "b"] and total == 3
    assert [t.id for t in done] == [ids[0]] and done_total == 1
    assert past == [] and past_total == 3
