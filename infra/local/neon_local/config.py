"""What the stack is called and which ports it uses: chosen, saved and read back."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

from infra.local.neon_local.files import Layout, write

USER = "neondb_owner"
DATABASE = "neondb"
DEFAULT_PG_PORT = 55432
DEFAULT_POOLER_PORT = 56432
DEFAULT_POOL_SIZE = 5


@dataclass(frozen=True)
class Config:
    pg_port: int
    pooler_port: int
    pool_size: int


def load_config(layout: Layout) -> dict[str, int]:
    """What ``<state>/stack.json`` says (empty when it is missing or unreadable)."""
    try:
        data = json.loads(layout.config.read_text())
    except (OSError, ValueError):
        return {}
    return {k: int(v) for k, v in data.items() if isinstance(v, int)}


def resolve_config(
    layout: Layout, pg_port: int | None, pooler_port: int | None, pool_size: int | None
) -> Config:
    """Arguments first, then NEON_LOCAL_* variables, then the ports last used, then defaults."""
    saved = load_config(layout)

    def pick(given: int | None, env: str, key: str, default: int) -> int:
        if given is not None:
            return given
        return int(os.environ.get(env) or saved.get(key, default))

    return Config(
        pick(pg_port, "NEON_LOCAL_PG_PORT", "pg_port", DEFAULT_PG_PORT),
        pick(pooler_port, "NEON_LOCAL_POOLER_PORT", "pooler_port", DEFAULT_POOLER_PORT),
        pool_size or saved.get("pool_size", DEFAULT_POOL_SIZE),
    )


def saved_config(layout: Layout) -> Config | None:
    """The configuration a started stack recorded, or None before its first start."""
    saved = load_config(layout)
    if "pg_port" not in saved:
        return None
    return Config(saved["pg_port"], saved["pooler_port"], saved.get("pool_size", DEFAULT_POOL_SIZE))


def save_config(layout: Layout, config: Config) -> None:
    write(layout.config, json.dumps(config.__dict__) + "\n", 0o644)
