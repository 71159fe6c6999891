"""Dependencies the routes declare: a database session and the path's proven owner.

They, and the endpoints, are ``async def`` although they block: FastAPI runs a plain
``def`` in a worker thread, and a Lambda container serves one request at a time, so
each hop (six per task request) would cost CPU and buy no concurrency.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Path, Query, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BeforeValidator
from sqlmodel import Session

from shared.api.owner import owner
from shared.db.engine import get_engine
from shared.db.failures import translate_errors
from shared.tasks.crud import Order, SortKey, Status, TaskQuery
from shared.tasks.models import TASKS_USER_ID_MAX_LENGTH

MAX_INT = 2**31 - 1  # PostgreSQL integer: task ids, and bound for offsets
_DECIMAL = re.compile(r"[0-9]+")


async def get_session() -> AsyncIterator[Session]:
    """One session (one connection, opened on first use) for the whole request."""
    with translate_errors(), Session(get_engine(), expire_on_commit=False) as session:
        yield session


# Declares the scheme in the OpenAPI document (and the docs page's Authorize button);
# the header itself is verified by shared.api.owner.OwnerRoute before the body is read.
_BEARER = HTTPBearer(
    auto_error=False, bearerFormat="JWT", description="A Better Auth JWT: the user's session token"
)


async def get_owner(
    request: Request,
    user_id: Annotated[str, Path(min_length=1, max_length=TASKS_USER_ID_MAX_LENGTH)],
    _documented: Annotated[HTTPAuthorizationCredentials | None, Security(_BEARER)] = None,
) -> str:
    """The path's user id (``user_id``), which the token has shown is the caller's own."""
    return owner(request)


def _decimal(value: object) -> object:
    """Only plain decimal digits name a number here: not "1.0", "+1", " 1" or "1_0"."""
    if isinstance(value, str) and not _DECIMAL.fullmatch(value):
        raise ValueError("must be a whole number written in decimal digits")
    return value


SessionDep = Annotated[Session, Depends(get_session)]
OwnerId = Annotated[str, Depends(get_owner)]
# The validator goes after Path/Query, or the bounds leak into the OpenAPI schema as ge/le.
TaskId = Annotated[
    int, Path(ge=1, le=MAX_INT, description="The task's id"), BeforeValidator(_decimal)
]
Limit = Annotated[int, Query(ge=1, le=100, description="Page size"), BeforeValidator(_decimal)]
Offset = Annotated[
    int, Query(ge=0, le=MAX_INT, description="Tasks to skip"), BeforeValidator(_decimal)
]


async def read_task_query(
    status: Status = "all",
    sort: SortKey = "created_at",
    order: Order = "desc",
    limit: Limit = 100,
    offset: Offset = 0,
) -> TaskQuery:
    """The list's filter, order and page, from the query string."""
    return TaskQuery(status, sort, order, limit, offset)


TaskQueryDep = Annotated[TaskQuery, Depends(read_task_query)]
