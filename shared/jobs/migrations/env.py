"""Alembic's entry point, run by ``alembic.command.upgrade`` from ``shared.jobs.migrate``.

The revisions run on the connection ``migrate`` hands over in ``config.attributes``
(Alembic's documented way to share one), inside the transaction that holds its lock.
"""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

attributes = context.config.attributes
context.configure(
    connection=attributes["connection"],
    target_metadata=SQLModel.metadata,
    on_version_apply=attributes["on_version_apply"],
)
with context.begin_transaction():
    context.run_migrations()
