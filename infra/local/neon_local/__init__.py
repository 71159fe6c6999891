"""Run a Neon-like PostgreSQL + PgBouncer stack on loopback (stdlib only).

    python -m infra.local.neon_local start|stop|status|env|restart-postgres|restart-pooler
        [--dir D] [--pg-port N] [--pooler-port N] [--pool-size N]

What runs (all under one state directory, default ``<repo>/.neon-local``):

* PostgreSQL (highest ``/usr/lib/postgresql/<ver>/bin``) on 127.0.0.1:55432 with
  TLS, SCRAM-SHA-256 and its own data dir and unix-socket dir.
* PgBouncer in transaction mode on 127.0.0.1:56432, TLS required from clients
  and towards the server, authenticating with the role's SCRAM secret copied
  from ``pg_authid`` so it can log in to the server with the client's keys.
* Database ``neondb`` owned by the non-superuser role ``neondb_owner`` with a
  random password kept only in ``<state>/password`` (0600).  The superuser
  ``postgres`` is reachable only through the trust socket in ``<state>/run``
  (mode 0700, so only the owning OS user and root can use it).

``<state>/env`` holds ``DATABASE_URL`` (pooled), ``DATABASE_URL_DIRECT`` and
``NEON_LOCAL_CA``.  Values are single-quoted because the URLs contain ``&``,
which would otherwise break ``set -a; . file`` and ``eval``.

Ports and directory: ``--pg-port``/``NEON_LOCAL_PG_PORT``,
``--pooler-port``/``NEON_LOCAL_POOLER_PORT``, ``--dir``/``NEON_LOCAL_DIR``.
The ports last used are remembered in ``<state>/stack.json``.

Running as root: PostgreSQL and PgBouncer refuse root, so initdb, pg_ctl and
pgbouncer run as the existing ``postgres`` OS user via ``runuser``; when that user
cannot reach the state dir the stack lives in a /tmp fallback (see ``state``).
As a non-root user everything runs as that user.

Missing packages (postgresql, pgbouncer, openssl) are installed with apt-get
when root (without Debian's default 5432 cluster); otherwise the command to
run is printed and the program exits non-zero.  Any system PostgreSQL or
PgBouncer that is already running is simply ignored.

Where this differs from Neon (all PgBouncer 1.18 behaviour):

* The pooler offers only SCRAM-SHA-256, never SCRAM-SHA-256-PLUS, so libpq
  clients (psql) refuse the pooled URL's ``channel_binding=require``; the direct
  endpoint does offer -PLUS.
* A wrong password through the pooler fails with 08P01 "SASL authentication
  failed", not PostgreSQL's 28P01.
* While PostgreSQL is down, queries of already connected clients wait (up to
  query_wait_timeout, 120 s) and new logins are refused right away.
  ``Stack.start_postgres`` waits out server_login_retry so pooled logins work
  again as soon as it returns.

Modules, one job each: ``commands`` (running programs, as the service user when
root), ``files`` (the state dir's layout and file modes), ``packages`` (apt),
``ports``, ``config`` (names and ports, saved in stack.json), ``state`` (which dir,
the /tmp fallback), ``tls`` (the CA), ``scram`` (the role's secret), ``postgres``,
``pooler`` (PgBouncer), ``stack`` (the Stack value, start and stop) and
``__main__`` (the command line).
"""

from infra.local.neon_local.commands import NeonLocalError
from infra.local.neon_local.ports import free_port
from infra.local.neon_local.stack import Stack, start, stop

__all__ = ["NeonLocalError", "Stack", "free_port", "start", "stop"]
