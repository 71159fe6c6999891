"""Data functions for tasks: one SQL statement each, ownership enforced in the statement.

Each is named for its statement (``select_task_page``, ``insert_task_row``, ...), apart
from the routes named for their operations (``shared.api.routes.tasks``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import ColumnElement, func, not_, true
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, delete, insert, select, update

from shared.tasks.models import Task, TaskCreate

Status = Literal["all", "pending", "completed"]
SortKey = Literal["created_at", "updated_at", "title"]
Order = Literal["asc", "desc"]


@dataclass(frozen=True, slots=True)
class TaskQuery:
    """Which of a user's tasks to list, in which order, and which page of them."""

    status: Status = "all"
    sort: SortKey = "created_at"
    order: Order = "desc"
    limit: int = 100
    offset: int = 0


def select_task_page(
    session: Session, *, user_id: str, query: TaskQuery = TaskQuery()
) -> tuple[list[Task], int]:
    """A page of the user's tasks and the user's total count, in one statement.

    The count is the driving row and the page is outer-joined to it, so a page past
    the end still returns the total (one row with no task) without a second query.
    """
    owned = _owned(user_id, query.status)
    page = (
        select(Task)
        .where(*owned)
        .order_by(*_ordering(Task, query))
        .limit(query.limit)
        .offset(query.offset)
        .subquery("page")
    )
    total = select(func.count().label("total")).select_from(Task).where(*owned).subquery("counted")
    row = aliased(Task, page)
    stmt = (
        select(total.c.total, row)
        .select_from(total)
        .outerjoin(page, true())
        .order_by(*_ordering(row, query))
    )
    rows = session.exec(stmt).all()
    return [task for _, task in rows if task is not None], rows[0][0]


def _ordering(entity: type[Task], query: TaskQuery) -> tuple[Any, Any]:
    """ORDER BY the sort key, then id as a tiebreak, both in the requested direction."""
    key, tiebreak = col(getattr(entity, query.sort)), col(entity.id)
    if query.order == "asc":
        return key.asc(), tiebreak.asc()
    return key.desc(), tiebreak.desc()


def _owned(user_id: str, status: Status) -> list[ColumnElement[bool]]:
    """The WHERE clauses that keep a listing to one user's tasks of one status."""
    clauses = [col(Task.user_id) == user_id]
    if status != "all":
        clauses.append(col(Task.completed).is_(status == "completed"))
    return clauses


def insert_task_row(session: Session, *, user_id: str, data: TaskCreate) -> Task:
    """Insert a task and return it as stored (id and timestamps from the database)."""
    stmt = insert(Task).values(user_id=user_id, **data.model_dump()).returning(Task)
    return session.scalars(stmt).one()


def select_task_row(session: Session, *, user_id: str, task_id: int) -> Task | None:
    """The task, or None if it does not exist or belongs to someone else."""
    stmt = select(Task).where(col(Task.id) == task_id, col(Task.user_id) == user_id)
    return session.exec(stmt).one_or_none()


def update_task_row(
    session: Session, *, user_id: str, task_id: int, values: dict[str, Any]
) -> Task | None:
    """Apply ``values`` to the user's task and return it; None if it is not theirs."""
    if not values:
        return select_task_row(session, user_id=user_id, task_id=task_id)
    stmt = (
        update(Task)
        .where(col(Task.id) == task_id, col(Task.user_id) == user_id)
        .values(**values)
        .returning(Task)
        # The returned row is the truth: refresh any copy this session already holds.
        .execution_options(synchronize_session=False, populate_existing=True)
    )
    return session.scalars(stmt).one_or_none()


def toggled() -> dict[str, Any]:
    """The values that flip the completed flag in the database (no read-modify-write race)."""
    return {"completed": not_(col(Task.completed))}


def delete_task_row(session: Session, *, user_id: str, task_id: int) -> bool:
    """Delete the user's task; False when there was no such task of theirs."""
    stmt = (
        delete(Task)
        .where(col(Task.id) == task_id, col(Task.user_id) == user_id)
        .returning(col(Task.id))
        .execution_options(synchronize_session=False)
    )
    return session.scalars(stmt).one_or_none() is not None
