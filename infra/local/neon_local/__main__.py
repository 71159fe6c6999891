"""The command line: ``python -m infra.local.neon_local start|stop|status|env|restart-...``."""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import infra.local.neon_local
from infra.local.neon_local.commands import NeonLocalError, say, scrub
from infra.local.neon_local.files import Layout
from infra.local.neon_local.pooler import pooler_pid
from infra.local.neon_local.ports import accepting
from infra.local.neon_local.postgres import postgres_pid
from infra.local.neon_local.stack import existing_stack, start_configured, stop


def _cmd_start(args: argparse.Namespace) -> int:
    say("starting PostgreSQL and PgBouncer")
    began = time.monotonic()
    stack = start_configured(args.dir, args.pg_port, args.pooler_port, args.pool_size)
    say(f"up in {time.monotonic() - began:.1f}s; state in {stack.state_dir}")
    # The password stays off the screen (and out of terminal logs and screen shares): the
    # whole URLs are in the env file, readable by this user only, or `... env`.
    print(f"pooled: {scrub(stack.database_url)}\ndirect: {scrub(stack.direct_url)}")
    print(f"CA:     {stack.ca_file}")
    env = Layout(stack.state_dir).env
    print(f"URLs with the password: {env} (mode {env.stat().st_mode & 0o777:04o}; make stack-env)")
    return 0


def _cmd_stop(args: argparse.Namespace) -> int:
    stop(args.dir)
    say("stopped")
    return 0


def _cmd_status(args: argparse.Namespace) -> int:
    try:
        stack = existing_stack(args.dir)
    except NeonLocalError as exc:
        say(str(exc))
        return 3
    layout = Layout(stack.state_dir)
    pg_up = postgres_pid(layout) is not None and accepting(stack.pg_port)
    pooler_up = pooler_pid(layout) is not None and accepting(stack.pooler_port)
    say(
        f"postgres {'up' if pg_up else 'down'} on 127.0.0.1:{stack.pg_port}, pgbouncer "
        f"{'up' if pooler_up else 'down'} on 127.0.0.1:{stack.pooler_port} ({layout.root})"
    )
    return 0 if pg_up and pooler_up else 3


def _cmd_env(args: argparse.Namespace) -> int:
    stack = existing_stack(args.dir)
    sys.stdout.write(Layout(stack.state_dir).env.read_text())
    return 0


def _cmd_restart(args: argparse.Namespace) -> int:
    stack = existing_stack(args.dir)
    if args.command == "restart-postgres":
        stack.stop_postgres()
        stack.start_postgres()
    else:
        stack.stop_pooler()
        stack.start_pooler()
    say(f"{args.command} done")
    return 0


_COMMANDS = {
    "start": _cmd_start,
    "stop": _cmd_stop,
    "status": _cmd_status,
    "env": _cmd_env,
    "restart-postgres": _cmd_restart,
    "restart-pooler": _cmd_restart,
}


def _parser() -> argparse.ArgumentParser:
    summary = (infra.local.neon_local.__doc__ or "").splitlines()[0]
    parser = argparse.ArgumentParser(prog="python -m infra.local.neon_local", description=summary)
    parser.add_argument("command", choices=list(_COMMANDS))
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--pg-port", type=int, default=None)
    parser.add_argument("--pooler-port", type=int, default=None)
    parser.add_argument("--pool-size", type=int, default=None)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return _COMMANDS[args.command](args)
    except (NeonLocalError, subprocess.CalledProcessError) as exc:
        say(f"error: {exc}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
