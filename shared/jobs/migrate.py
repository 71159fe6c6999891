"""Bring the database to the spec: Alembic revisions, one transaction, behind a lock."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, func, inspect, select

from shared.core.settings import Settings
from shared.db.engine import create_db_engine
from shared.db.failures import translate_errors
from shared.jobs.target import migration_target
from shared.tasks.idempotency import purge_expired
from shared.tasks.models import IdempotencyKey  # (and registers every table on the metadata)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# Any constant works; it only has to be the same for every concurrent migrate run.
LOCK_KEY = 0x7461736B73  # "tasks"


@dataclass
class MigrationReport:
    """What a migrate run did, as JSON-ready data."""

    database: str
    endpoint: str
    before: str | None = None
    after: str | None = None
    applied: list[str] = field(default_factory=list)
    expired_keys_purged: int = 0

    @property
    def action(self) -> str:
        return "upgraded" if self.applied else "up-to-date"

    def to_dict(self) -> dict[str, Any]:
        return {"action": self.action, **asdict(self)}


def migrate(settings: Settings, migrations_dir: Path = MIGRATIONS_DIR) -> MigrationReport:
    """Upgrade the database to the newest revision, sweep expired keys, say what was done."""
    params, endpoint = migration_target(settings)
    engine = create_db_engine(params, settings, autocommit=False)
    report = MigrationReport(database=params.redacted(), endpoint=endpoint)
    with translate_errors():
        _upgrade(engine, report, migrations_dir)
        with engine.begin() as conn:
            if inspect(conn).has_table(IdempotencyKey.__tablename__):
                ttl = settings.idempotency_key_ttl_seconds
                report.expired_keys_purged = purge_expired(conn, ttl)
    engine.dispose()
    return report


def _upgrade(engine: Engine, report: MigrationReport, migrations_dir: Path) -> None:
    """Run the pending revisions in one transaction (``migrations/env.py`` runs them)."""
    config = Config()
    config.set_main_option("script_location", str(migrations_dir))
    with engine.begin() as conn:
        # Transaction-scoped, so it is safe through a transaction-mode pooler too.
        conn.execute(select(func.pg_advisory_xact_lock(LOCK_KEY)))
        report.before = MigrationContext.configure(conn).get_current_revision()
        config.attributes["connection"] = conn
        config.attributes["on_version_apply"] = lambda step, **_: report.applied.append(
            step.up_revision_id
        )
        command.upgrade(config, "head")
        report.after = MigrationContext.configure(conn).get_current_revision()
