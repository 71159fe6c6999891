"""Dependencies the routes declare: a database session and the authenticated user.

They, and the endpoints, are ``async def`` although they block: FastAPI runs a plain
``def`` in a worker thread, and a Lambda container serves one request at a time, so
each hop (six per task request) would cost CPU and buy no concurrency.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Header, Path, Query, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BeforeValidator
from sqlmodel import Session

from shared.core.settings import get_settings
from shared.db.engine import get_engine
from shared.db.failures import translate_errors
from shared.tasks.models import TASKS_USER_ID_MAX_LENGTH

MAX_INT = 2**31 - 1  # PostgreSQL integer: task ids, and bound for offsets
_DECIMAL = re.compile(r"[0-9]+")


async def get_session() -> AsyncIterator[Session]:
    """One session (one connection, opened on first use) for the whole request."""
    with translate_errors(), Session(get_engine(), expire_on_commit=False) as session:
        yield session


# Declares the scheme in the OpenAPI document (and the docs page's Authorize button);
# the header itself is parsed and verified by shared.auth alone.
_BEARER = HTTPBearer(
    auto_error=False, bearerFormat="JWT", description="A Better Auth JWT: the user's session token"
)


async def get_current_user(
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
    _documented: Annotated[HTTPAuthorizationCredentials | None, Security(_BEARER)] = None,
) -> str:
    """The user id proven by the request's bearer token."""
    from shared.api.auth import authenticate

    return authenticate(authorization, get_settings())


async def get_owner(
    user_id: Annotated[str, Path(min_length=1, max_length=TASKS_USER_ID_MAX_LENGTH)],
    current_user: Annotated[str, Depends(get_current_user)],
) -> str:
    """The path's user id, once the token has shown it is the caller's own."""
    from shared.api.auth import authorize

    authorize(current_user, user_id)
    return user_id


def _decimal(value: object) -> object:
    """Only plain decimal digits name a number here: not "1.0", "+1", " 1" or "1_0"."""
    if isinstance(value, str) and not _DECIMAL.fullmatch(value):
        raise ValueError("must be a whole number written in decimal digits")
    return value


SessionDep = Annotated[Session, Depends(get_session)]
CurrentUser = Annotated[str, Depends(get_current_user)]
OwnerId = Annotated[str, Depends(get_owner)]
# The validator goes after Path/Query, or the bounds leak into the OpenAPI schema as ge/le.
TaskId = Annotated[
    int, Path(ge=1, le=MAX_INT, description="The task's id"), BeforeValidator(_decimal)
]
Limit = Annotated[int, Query(ge=1, le=100, description="Page size"), BeforeValidator(_decimal)]
Offset = Annotated[
    int, Query(ge=0, le=MAX_INT, description="Tasks to skip"), BeforeValidator(_decimal)
]
