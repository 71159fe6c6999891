"""Reset the stack role's password as a Neon password reset does: at once, everywhere.

PostgreSQL gets the new SCRAM secret (the plaintext never reaches its logs), and so does
PgBouncer's auth file, which it reads again on SIGHUP: it checks a client's login against
that file and logs in to PostgreSQL with the client's proof, so the two must agree.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time

from infra.local import neon_local
from infra.local.neon_local.commands import clean_env
from infra.local.neon_local.config import saved_config
from infra.local.neon_local.files import Layout
from infra.local.neon_local.packages import pg_bin
from infra.local.neon_local.pooler import configure_pooler, pooler_pid
from infra.local.neon_local.scram import scram_secret

__all__ = ["reset_password", "url_with_password"]

_RELOAD_SECONDS = 5.0


def url_with_password(url: str, stack: neon_local.Stack, password: str) -> str:
    """One of the stack's URLs with another password in it."""
    return url.replace(f":{stack.password}@", f":{password}@")


def reset_password(stack: neon_local.Stack, password: str) -> None:
    """Give the stack's role ``password``; return once the pooler accepts it too."""
    layout = Layout(stack.state_dir)
    config = saved_config(layout)
    pid = pooler_pid(layout)
    assert config is not None and pid is not None, "the stack is not running"
    secret = scram_secret(password)
    stack.admin_psql(f"ALTER ROLE {stack.user} PASSWORD '{secret}'")
    before = layout.userlist.stat().st_mtime
    configure_pooler(layout, config, secret)
    # PgBouncer skips an auth file whose modification time (in whole seconds) and size are
    # unchanged, and every secret has the same length: two resets within a second would
    # leave it on the first one's.
    later = max(time.time(), before + 1)
    os.utime(layout.userlist, (later, later))
    os.kill(pid, signal.SIGHUP)
    _wait_for_pooler(stack, password)


def _wait_for_pooler(stack: neon_local.Stack, password: str) -> None:
    """Until the pooler lets ``password`` in (psql: nothing in the test's own logs)."""
    target = f"host=127.0.0.1 port={stack.pooler_port} dbname={stack.database} user={stack.user}"
    command = [
        pg_bin("psql"),
        "-X",
        "-q",
        "-A",
        "-t",
        "-c",
        "SELECT 1",
        f"{target} sslmode=require",
    ]
    env = {**clean_env(), "PGPASSWORD": password}
    deadline = time.monotonic() + _RELOAD_SECONDS
    while subprocess.run(command, env=env, capture_output=True, check=False).returncode != 0:
        assert time.monotonic() < deadline, "the pooler did not take the new password"
        time.sleep(0.05)
