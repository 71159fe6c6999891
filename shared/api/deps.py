"""Dependencies the routes declare: a database session and the authenticated user."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Header, Path
from sqlmodel import Session

from shared.db import get_engine, translate_errors
from shared.models import TASKS_USER_ID_MAX_LENGTH
from shared.settings import get_settings


def get_session() -> Iterator[Session]:
    """One session (one connection, opened on first use) for the whole request."""
    with translate_errors(), Session(get_engine(), expire_on_commit=False) as session:
        yield session


def get_current_user(authorization: Annotated[str | None, Header()] = None) -> str:
    """The user id proven by the request's bearer token."""
    from shared.auth import authenticate

    return authenticate(authorization, get_settings())


def get_owner(
    user_id: Annotated[str, Path(min_length=1, max_length=TASKS_USER_ID_MAX_LENGTH)],
    current_user: Annotated[str, Depends(get_current_user)],
) -> str:
    """The path's user id, once the token has shown it is the caller's own."""
    from shared.auth import authorize

    authorize(current_user, user_id)
    return user_id


SessionDep = Annotated[Session, Depends(get_session)]
CurrentUser = Annotated[str, Depends(get_current_user)]
OwnerId = Annotated[str, Depends(get_owner)]
TaskId = Annotated[int, Path(ge=1, le=2**31 - 1, description="The task's id")]
