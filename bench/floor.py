"""The least handler these frameworks allow: what the cold-start budget is measured against.

One SQLModel table, the model a response validates, a FastAPI app with one route and
Mangum over it: what any function of this stack must build before its first request,
with nothing of ours (no settings, auth, logging, metrics, error mapping). Its import
over the bare ``import fastapi, mangum, sqlmodel, pg8000`` is the lowest ratio a task
handler can reach without keeping parts of those packages from loading. It forgoes
``pydantic.v1`` as the handlers do (shared/adapters/fastapi_v1_check.py), so the floor holds
the frameworks' own work only. ``tests/bench/test_floor.py`` invokes it like a handler.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shared.adapters.fastapi_v1_check import forgo_pydantic_v1

forgo_pydantic_v1()

import pg8000  # noqa: E402, F401  # the driver every handler's engine loads
from fastapi import FastAPI  # noqa: E402  # after the adapter, as the handlers import it
from mangum import Mangum  # noqa: E402
from sqlmodel import Field, SQLModel  # noqa: E402

__all__ = ["PATH", "handler"]

PATH = "/api/{user_id}/tasks"


class FloorTask(SQLModel, table=True):
    """A table like the tasks table: what a handler's queries are built from."""

    __tablename__ = "floor_tasks"

    id: int | None = Field(default=None, primary_key=True)
    user_id: str = Field(index=True, max_length=255)
    title: str = Field(max_length=255)
    completed: bool = False
    created_at: datetime | None = None


class FloorTaskPublic(SQLModel):
    """What the route answers: FastAPI builds its validator when the route is added."""

    id: int
    user_id: str
    title: str
    completed: bool
    created_at: datetime


app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)


@app.get(PATH, response_model=list[FloorTaskPublic])
async def list_tasks(user_id: str) -> list[dict[str, Any]]:
    """No database: the floor measures import, and the route only has to answer."""
    return []


handler = Mangum(app, lifespan="off")
