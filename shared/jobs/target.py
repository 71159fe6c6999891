"""Which endpoint the jobs talk to: Neon's direct one when known, else the pooled one.

Kept apart from migrate.py so that verify, which needs only this, never loads Alembic.
"""

from __future__ import annotations

from shared.core.settings import Settings
from shared.db.url import ConnectParams, parse_database_url


def migration_target(settings: Settings) -> tuple[ConnectParams, str]:
    """Where to migrate: the direct endpoint when configured or derivable, else the pooled one."""
    if settings.database_url_direct is not None:
        direct = settings.database_url_direct.get_secret_value()
        return parse_database_url(direct, name="DATABASE_URL_DIRECT"), "direct"
    url = settings.database_url.get_secret_value() if settings.database_url else None
    pooled = parse_database_url(url)
    if pooled.is_neon_pooler:
        return pooled.direct(), "direct (derived from DATABASE_URL)"
    return pooled, "pooled"
