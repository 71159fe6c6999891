"""A private Neon-like stack for one bench run: temp dir, free ports, pool of 5, migrated."""

from __future__ import annotations

import contextlib
import io
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from infra.local import neon_local

ROOT = Path(__file__).resolve().parent.parent

POOL_SIZE = 5


@contextmanager
def private_stack() -> Iterator[neon_local.Stack]:
    """Start PostgreSQL + PgBouncer (transaction mode, server pool 5), migrate, stop after."""
    state = Path(tempfile.mkdtemp(prefix="bench-neon-"))
    try:
        stack = neon_local.start(
            state, neon_local.free_port(), neon_local.free_port(), pool_size=POOL_SIZE
        )
    except BaseException:  # start() stops what it started; the directory is ours
        shutil.rmtree(state, ignore_errors=True)
        raise
    try:
        _migrate(stack)
        yield stack
    finally:
        neon_local.stop(state)
        shutil.rmtree(stack.state_dir, ignore_errors=True)
        shutil.rmtree(state, ignore_errors=True)


def _migrate(stack: neon_local.Stack) -> None:
    from shared.jobs.migrate import migrate
    from tests.support.tokens import settings  # from the stack's URLs, never from a .env

    urls = settings(database_url=stack.database_url, database_url_direct=stack.direct_url)
    # migrate() logs through the app's logger; keep the bench's output to its table.
    with contextlib.redirect_stdout(io.StringIO()):
        migrate(urls)
