"""The task routes, one per operation; ``ALL`` lists them for the docs app.

An operation has one stem: the route is ``create_task``, its statement
``crud.insert_task_row``, its keyed write ``idempotency.insert_task_row_once``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Body, Depends, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field, Strict
from sqlmodel import Session

from shared.api.deps import OwnerId, SessionDep, TaskId, TaskQueryDep
from shared.api.idempotency import IdempotencyDep, KeyedRequest, answer
from shared.api.owner import OwnerRoute
from shared.api.paging import LINK, PAGE_HEADERS, TOTAL_COUNT, link_header
from shared.api.problems import openapi_responses
from shared.api.route import route
from shared.core.errors import (
    AppError,
    AuthenticationError,
    BodyNotReadable,
    DatabaseBusy,
    DatabaseFull,
    DatabaseMisconfigured,
    DatabaseUnavailable,
    IdempotencyKeyInUse,
    IdempotencyKeyInvalid,
    IdempotencyKeyReused,
    KeySetRefreshing,
    KeySetUnavailable,
    MissingToken,
    NotFound,
    PermissionDenied,
    SchemaNotMigrated,
    TaskIdsExhausted,
    TokenExpired,
    UnsupportedMediaType,
    ValidationFailed,
    ValueNotStorable,
)
from shared.tasks import crud, idempotency
from shared.tasks.models import Task, TaskCreate, TaskPublic, TaskReplace, TaskUpdate

TAG = "tasks"
PATH = "/api/{user_id}/tasks"
ITEM = PATH + "/{task_id}"
# What every task route can answer besides its success, and what body routes add.
_COMMON: tuple[type[AppError], ...] = (
    MissingToken,
    AuthenticationError,
    TokenExpired,
    PermissionDenied,
    ValidationFailed,
    DatabaseUnavailable,
    DatabaseMisconfigured,
    SchemaNotMigrated,
    KeySetUnavailable,
    KeySetRefreshing,
)
_BODY = (BodyNotReadable, UnsupportedMediaType)
# What a write (the routes that take an Idempotency-Key) can answer besides.
_WRITE = (
    IdempotencyKeyInvalid,
    IdempotencyKeyInUse,
    IdempotencyKeyReused,
    ValueNotStorable,
    DatabaseBusy,
    DatabaseFull,
)
_MISSING = (NotFound,)


def _errors(*kinds: type[AppError]) -> dict[int | str, dict[str, Any]]:
    return openapi_responses(_COMMON + kinds)


# Every task route answers 401/403 before its body is read (shared.api.owner).
_TASKS = {"tags": [TAG], "route_class_override": OwnerRoute}
_ONE = {"response_model": TaskPublic, **_TASKS}
_PAGE = {200: {"description": "A page of the user's tasks", "headers": PAGE_HEADERS}}
_EDIT = _errors(*_MISSING, *_BODY, *_WRITE)
# What a successful write answers, and what its key's record answers a retry with.
_CREATED, _CHANGED = status.HTTP_201_CREATED, status.HTTP_200_OK


class TaskCompletion(BaseModel):
    """Body of PATCH .../complete: ``{}`` toggles, ``{"completed": true|false}`` sets.

    ``{}`` is what a frontend sends for ``body: JSON.stringify({})``, so it toggles like
    no body at all; anything else (``null`` for the flag, an unknown field) is a 422.
    """

    model_config = ConfigDict(extra="forbid")

    # Pydantic never validates a default: an omitted flag is None (toggle) while an explicit
    # null is refused, and the schema says boolean only (``bool | None`` would allow null).
    completed: Annotated[bool, Strict()] = Field(  # type: ignore[assignment]
        default=None, description="Set the flag to this value; omit it to toggle"
    )


def _found(task: Task | TaskPublic | None) -> TaskPublic:
    if task is None:
        raise NotFound
    return TaskPublic.model_validate(task)


@dataclass(frozen=True, slots=True)
class TaskEdit:
    """What every change to one task needs: the session, whose task, which, and the key."""

    session: Session
    user_id: str
    task_id: int
    response: Response
    keyed: KeyedRequest | None

    def apply(self, values: dict[str, Any], body: BaseModel | None) -> TaskPublic:
        """Apply ``values``; with a key, once (a repeat replays), and only if there is a change."""
        if self.keyed is None or not values:
            task = crud.update_task_row(
                self.session, user_id=self.user_id, task_id=self.task_id, values=values
            )
            return _found(task)
        claim = self.keyed.claim(self.user_id, body, _CHANGED)
        outcome = idempotency.update_task_row_once(self.session, claim, self.task_id, values)
        return _found(None if outcome is None else answer(self.response, outcome))


async def read_task_edit(
    session: SessionDep,
    user_id: OwnerId,
    task_id: TaskId,
    response: Response,
    keyed: IdempotencyDep,
) -> TaskEdit:
    return TaskEdit(session, user_id, task_id, response, keyed)


TaskEditDep = Annotated[TaskEdit, Depends(read_task_edit)]


@route("GET", PATH, response_model=list[TaskPublic], **_TASKS, responses=_PAGE | _errors())
async def list_tasks(
    session: SessionDep,
    user_id: OwnerId,
    request: Request,
    response: Response,
    query: TaskQueryDep,
) -> list[TaskPublic]:
    """List the user's tasks: the total is in X-Total-Count, the next and previous pages in Link."""
    tasks, total = crud.select_task_page(session, user_id=user_id, query=query)
    response.headers[TOTAL_COUNT] = str(total)
    path, sent = PATH.format(user_id=quote(user_id, safe="")), request.query_params.multi_items()
    link = link_header(path, sent, limit=query.limit, offset=query.offset, total=total)
    if link is not None:
        response.headers[LINK] = link
    return [TaskPublic.model_validate(t) for t in tasks]


@route(
    "POST",
    PATH,
    **_ONE,
    status_code=_CREATED,
    responses=_errors(*_BODY, *_WRITE, TaskIdsExhausted),
)
async def create_task(
    session: SessionDep,
    user_id: OwnerId,
    body: TaskCreate,
    response: Response,
    keyed: IdempotencyDep,
) -> TaskPublic:
    """Create a task for the user (once per Idempotency-Key)."""
    if keyed is None:
        task = TaskPublic.model_validate(crud.insert_task_row(session, user_id=user_id, data=body))
    else:
        claim = keyed.claim(user_id, body, _CREATED)
        outcome = idempotency.insert_task_row_once(session, claim, body)
        task = answer(response, outcome)
    response.headers["Location"] = f"/api/{quote(user_id, safe='')}/tasks/{task.id}"
    return task


@route("GET", ITEM, **_ONE, responses=_errors(*_MISSING))
async def get_task(session: SessionDep, user_id: OwnerId, task_id: TaskId) -> TaskPublic:
    """Fetch one of the user's tasks."""
    return _found(crud.select_task_row(session, user_id=user_id, task_id=task_id))


@route("PUT", ITEM, **_ONE, status_code=_CHANGED, responses=_EDIT)
async def replace_task(edit: TaskEditDep, body: TaskReplace) -> TaskPublic:
    """Update a task: title required; omitted optional fields keep their values."""
    return edit.apply(body.model_dump(exclude_unset=True), body)


@route("PATCH", ITEM, **_ONE, status_code=_CHANGED, responses=_EDIT)
async def update_task(edit: TaskEditDep, body: TaskUpdate) -> TaskPublic:
    """Change only the fields sent."""
    return edit.apply(body.model_dump(exclude_unset=True), body)


@route("PATCH", ITEM + "/complete", **_ONE, status_code=_CHANGED, responses=_EDIT)
async def complete_task(
    edit: TaskEditDep, body: Annotated[TaskCompletion | None, Body()] = None
) -> TaskPublic:
    """Toggle completed (no body, or {}), or set it when the body says {"completed": true|false}."""
    if body is None or body.completed is None:
        return edit.apply(crud.toggled(), body)
    return edit.apply({"completed": body.completed}, body)


@route(
    "DELETE",
    ITEM,
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    **_TASKS,
    responses=_errors(*_MISSING),
)
async def delete_task(session: SessionDep, user_id: OwnerId, task_id: TaskId) -> None:
    """Delete one of the user's tasks."""
    if not crud.delete_task_row(session, user_id=user_id, task_id=task_id):
        raise NotFound


ALL = (list_tasks, create_task, get_task, replace_task, update_task, complete_task, delete_task)
