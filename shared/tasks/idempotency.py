"""Writes remembered under an Idempotency-Key: write, record and replay in one statement.

One statement, so one round trip and one transaction (autocommit, through a
transaction-mode pooler):

* ``prior``: the user's unexpired record of this key, as the statement's snapshot shows it.
* ``purged``: deletes this key's expired record and up to ``PURGE_BATCH`` other expired ones
  (SKIP LOCKED: never waits for them), so the table drains without a scheduler.
* ``written``: the task write, done only when there is no ``prior`` (after ``purged``).
* ``remembered``: a plain INSERT of the key, fingerprint and response built from
  ``written``. A duplicate that is in flight, or committed after this statement's
  snapshot, is invisible to ``prior``; this INSERT then waits for it on the primary key
  and fails with 23505, which aborts the whole statement, write included: a second
  write can never commit. The client is told 409 and its retry replays.

The statement answers one row (written, replayed or reused, with the stored status and
body) or none: an update that matched no task of the user's (nothing is remembered).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    CTE,
    ColumnElement,
    Connection,
    Integer,
    and_,
    case,
    delete,
    exists,
    func,
    insert,
    literal,
    literal_column,
    or_,
    select,
    tuple_,
    union_all,
    update,
)
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

from shared.core.errors import IdempotencyKeyInUse, IdempotencyKeyReused
from shared.db.failures import sqlstate, table_named
from shared.tasks.models import IdempotencyKey, Task, TaskCreate, TaskPublic

__all__ = [
    "PURGE_BATCH",
    "Claim",
    "Outcome",
    "insert_task_row_once",
    "purge_expired",
    "update_task_row_once",
]

# Expired records each keyed write deletes besides its own: more than the one it adds, so
# the table shrinks back to the keys of the last TTL whatever the traffic was before.
PURGE_BATCH = 16
_KEYS = IdempotencyKey.__table__  # type: ignore[attr-defined]
_TASKS = Task.__table__  # type: ignore[attr-defined]
_PUBLIC = tuple(TaskPublic.model_fields)


@dataclass(frozen=True)
class Claim:
    """A user's key for one request: what the statement checks and stores.

    ``status_code`` is what the API answers when the write succeeds (its decision), kept
    with the key so that a retry is answered the same.
    """

    user_id: str
    key: str
    fingerprint: str
    ttl_seconds: int
    status_code: int


@dataclass(frozen=True)
class Outcome:
    """What to answer: the stored status and task, and whether it is a replay."""

    status_code: int
    task: TaskPublic
    replayed: bool


def insert_task_row_once(session: Session, claim: Claim, data: TaskCreate) -> Outcome:
    """Create the task once per key; a repeat replays the first answer."""
    values = {"user_id": claim.user_id, **data.model_dump()}
    parts = _parts(claim)
    rows = select(*(literal(v, _TASKS.c[k].type) for k, v in values.items())).where(parts.fresh)
    write = insert(_TASKS).from_select(list(values), rows, include_defaults=False)
    write = write.returning(*_TASKS.c)
    outcome = _run(session, claim, parts, write)
    assert outcome is not None  # an insert always writes or replays
    return outcome


def update_task_row_once(
    session: Session, claim: Claim, task_id: int, values: dict[str, Any]
) -> Outcome | None:
    """Apply ``values`` once per key; None when the task is not the user's."""
    parts = _parts(claim)
    owned = and_(_TASKS.c.id == task_id, _TASKS.c.user_id == claim.user_id)
    write = update(_TASKS).where(owned, parts.fresh).values(**values).returning(*_TASKS.c)
    return _run(session, claim, parts, write)


def purge_expired(conn: Connection, ttl_seconds: int) -> int:
    """Delete every expired record (the migrate job's sweep); returns how many."""
    return conn.execute(delete(_KEYS).where(_KEYS.c.created_at < _cutoff(ttl_seconds))).rowcount


@dataclass(frozen=True)
class _Parts:
    prior: CTE
    fresh: ColumnElement[bool]


def _cutoff(ttl_seconds: int) -> ColumnElement[Any]:
    return func.now() - literal(ttl_seconds, Integer) * literal_column("interval '1 second'")


def _parts(claim: Claim) -> _Parts:
    """``prior`` and the condition the write must meet: no prior, expired ones purged."""
    cutoff = _cutoff(claim.ttl_seconds)
    mine = and_(_KEYS.c.user_id == claim.user_id, _KEYS.c.key == claim.key)
    prior = select(_KEYS.c.fingerprint, _KEYS.c.status_code, _KEYS.c.response)
    prior_cte = prior.where(mine, _KEYS.c.created_at >= cutoff).cte("prior")
    stale = (
        select(_KEYS.c.user_id, _KEYS.c.key)
        .where(_KEYS.c.created_at < cutoff)
        .order_by(_KEYS.c.created_at)
        .limit(PURGE_BATCH)
        .with_for_update(skip_locked=True)
    )
    own_expired = and_(mine, _KEYS.c.created_at < cutoff)
    purged = delete(_KEYS).where(or_(own_expired, tuple_(_KEYS.c.user_id, _KEYS.c.key).in_(stale)))
    purged_cte = purged.returning(_KEYS.c.key).cte("purged")
    # Reading every purged row first means the key's own expired record is gone before
    # ``remembered`` inserts it again.
    drained = select(func.count()).select_from(purged_cte).scalar_subquery() >= 0
    return _Parts(prior_cte, and_(~exists(select(prior_cte.c.status_code)), drained))


def _response_json(written: CTE) -> ColumnElement[Any]:
    """The public fields of the written row as a JSON object, as text."""
    pairs = [item for name in _PUBLIC for item in (literal_column(f"'{name}'"), written.c[name])]
    return func.json_build_object(*pairs).cast(_KEYS.c.response.type)


def _run(session: Session, claim: Claim, parts: _Parts, write: Any) -> Outcome | None:
    written = write.cte("written")
    record = select(
        literal(claim.user_id),
        literal(claim.key),
        literal(claim.fingerprint),
        literal(claim.status_code, Integer),
        _response_json(written),
    ).select_from(written)
    columns = ["user_id", "key", "fingerprint", "status_code", "response"]
    remembered = insert(_KEYS).from_select(columns, record).returning(*_KEYS.c).cte("remembered")
    answer = union_all(
        select(literal("written"), remembered.c.status_code, remembered.c.response),
        select(
            case((parts.prior.c.fingerprint == claim.fingerprint, "replayed"), else_="reused"),
            parts.prior.c.status_code,
            parts.prior.c.response,
        ),
    )
    try:
        row = session.execute(answer).one_or_none()
    except DBAPIError as exc:
        if sqlstate(exc) == "23505" and table_named(exc) == _KEYS.name:
            raise IdempotencyKeyInUse from None
        raise
    return None if row is None else _outcome(*row)


def _outcome(kind: str, status_code: int, response: str) -> Outcome:
    if kind == "reused":
        raise IdempotencyKeyReused
    return Outcome(status_code, TaskPublic.model_validate_json(response), kind == "replayed")
