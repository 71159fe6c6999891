"""GENERATED from specs/schema.toml by infra/codegen/schemagen.py.

Do not edit: change the spec, then run `make schema`.
"""

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, Strict, StringConstraints, field_validator
from sqlalchemy import Boolean, DateTime, Integer, String, Text, text
from sqlmodel import Field, SQLModel

from shared.tasks.validation import NullMeansOmitted, as_utc, storable_text

TASKS_USER_ID_MAX_LENGTH = 255
TASKS_TITLE_MAX_LENGTH = 255
TASKS_DESCRIPTION_MAX_LENGTH = 10000
IDEMPOTENCY_KEYS_USER_ID_MAX_LENGTH = 255
IDEMPOTENCY_KEYS_KEY_MAX_LENGTH = 255
IDEMPOTENCY_KEYS_FINGERPRINT_MAX_LENGTH = 64


class TaskBase(SQLModel):
    """Fields a client sends for a tasks row."""

    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255), AfterValidator(storable_text)]
    description: Annotated[str, StringConstraints(strip_whitespace=False, max_length=10000), AfterValidator(storable_text)] | None = None


class TaskCreate(TaskBase):
    """Body of a create request."""


class TaskReplace(TaskBase):
    """Body of a full update (PUT): omitted optional fields keep their values."""

    completed: Annotated[Annotated[bool, Strict()] | None, NullMeansOmitted()] = None

    @field_validator("completed")
    @classmethod
    def _not_null(cls, value: object) -> object:
        """An explicit null cannot be stored in a NOT NULL column."""
        if value is None:
            raise ValueError("must not be null")
        return value


class TaskUpdate(SQLModel):
    """Body of a partial update (PATCH): every field optional."""

    title: Annotated[Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255), AfterValidator(storable_text)] | None, NullMeansOmitted()] = None
    description: Annotated[str, StringConstraints(strip_whitespace=False, max_length=10000), AfterValidator(storable_text)] | None = None
    completed: Annotated[Annotated[bool, Strict()] | None, NullMeansOmitted()] = None

    @field_validator("title", "completed")
    @classmethod
    def _not_null(cls, value: object) -> object:
        """An explicit null cannot be stored in a NOT NULL column."""
        if value is None:
            raise ValueError("must not be null")
        return value


class Task(SQLModel, table=True):
    """A user's todo item."""

    __tablename__ = "tasks"

    id: int | None = Field(default=None, sa_type=Integer(), nullable=False, primary_key=True)
    user_id: str = Field(default=None, sa_type=String(length=255), nullable=False, index=True)
    title: str = Field(default=None, sa_type=String(length=255), nullable=False)
    description: str | None = Field(default=None, sa_type=Text(), nullable=True)
    completed: bool = Field(default=False, sa_type=Boolean(), nullable=False, sa_column_kwargs={"server_default": text("false")})
    created_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True), nullable=False, sa_column_kwargs={"server_default": text("now()")})
    updated_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True), nullable=False, sa_column_kwargs={"server_default": text("now()")})


class TaskPublic(SQLModel):
    """A tasks row as API responses show it."""

    id: int
    user_id: str
    title: str
    description: str | None
    completed: bool
    created_at: Annotated[datetime, AfterValidator(as_utc)]
    updated_at: Annotated[datetime, AfterValidator(as_utc)]


class IdempotencyKey(SQLModel, table=True):
    """A write remembered under a client's Idempotency-Key, so a retry replays its answer."""

    __tablename__ = "idempotency_keys"

    user_id: str | None = Field(default=None, sa_type=String(length=255), nullable=False, primary_key=True)
    key: str | None = Field(default=None, sa_type=String(length=255), nullable=False, primary_key=True)
    fingerprint: str = Field(default=None, sa_type=String(length=64), nullable=False)
    status_code: int = Field(default=None, sa_type=Integer(), nullable=False)
    response: str = Field(default=None, sa_type=Text(), nullable=False)
    created_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True), nullable=False, index=True, sa_column_kwargs={"server_default": text("now()")})
