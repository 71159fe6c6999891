"""Data functions for tasks: one SQL statement each, ownership enforced in the statement."""

from __future__ import annotations

from typing import Any, Literal

from sqlalchemy import ColumnElement, func, not_
from sqlmodel import Session, col, delete, insert, select, update

from shared.models import Task, TaskCreate


Status = Literal["all", "pending", "completed"]
SortKey = Literal["created_at", "updated_at", "title"]
Order = Literal["asc", "desc"]


def list_tasks(
    session: Session,
    *,
    user_id: str,
    status: Status = "all",
    sort: SortKey = "created_at",
    order: Order = "desc",
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[Task], int]:
    """A page of the user's tasks and the user's total count, in one statement."""
    key, tiebreak = col(getattr(Task, sort)), col(Task.id)
    by = (key.asc(), tiebreak.asc()) if order == "asc" else (key.desc(), tiebreak.desc())
    total = func.count().over().label("total")
    stmt = select(Task, total).where(*_owned(user_id, status))
    rows = session.exec(stmt.order_by(*by).limit(limit).offset(offset)).all()
    if rows or offset == 0:
        return [task for task, _ in rows], (rows[0][1] if rows else 0)
    # Past the last page the window function has no row to ride on: count separately.
    counted = select(func.count()).select_from(Task).where(*_owned(user_id, status))
    return [], session.exec(counted).one()


def _owned(user_id: str, status: Status) -> list[ColumnElement[bool]]:
    """The WHERE clauses that keep a listing to one user's tasks of one status."""
    clauses = [col(Task.user_id) == user_id]
    if status != "all":
        clauses.append(col(Task.completed).is_(status == "completed"))
    return clauses


def create_task(session: Session, *, user_id: str, data: TaskCreate) -> Task:
    """Insert a task and return it as stored (id and timestamps from the database)."""
    stmt = insert(Task).values(user_id=user_id, **data.model_dump()).returning(Task)
    return session.scalars(stmt).one()


def get_task(session: Session, *, user_id: str, task_id: int) -> Task | None:
    """The task, or None if it does not exist or belongs to someone else."""
    stmt = select(Task).where(col(Task.id) == task_id, col(Task.user_id) == user_id)
    return session.exec(stmt).one_or_none()


def update_task(
    session: Session, *, user_id: str, task_id: int, values: dict[str, Any]
) -> Task | None:
    """Apply ``values`` to the user's task and return it; None if it is not theirs."""
    if not values:
        return get_task(session, user_id=user_id, task_id=task_id)
    stmt = (
        update(Task)
        .where(col(Task.id) == task_id, col(Task.user_id) == user_id)
        .values(**values)
        .returning(Task)
        # The returned row is the truth: refresh any copy this session already holds.
        .execution_options(synchronize_session=False, populate_existing=True)
    )
    return session.scalars(stmt).one_or_none()


def toggle_task(session: Session, *, user_id: str, task_id: int) -> Task | None:
    """Flip the task's completed flag in the database (no read-modify-write race)."""
    return update_task(
        session, user_id=user_id, task_id=task_id, values={"completed": not_(col(Task.completed))}
    )


def delete_task(session: Session, *, user_id: str, task_id: int) -> bool:
    """Delete the user's task; False when there was no such task of theirs."""
    stmt = (
        delete(Task)
        .where(col(Task.id) == task_id, col(Task.user_id) == user_id)
        .returning(col(Task.id))
        .execution_options(synchronize_session=False)
    )
    return session.scalars(stmt).one_or_none() is not None
