"""``make run``: serve the API on 127.0.0.1 and print how to call it.

``--check`` only reads the configuration the gateway would serve with (today: the CORS
origins, ``FRONTEND_ORIGIN``) and exits: ``make run`` runs it first, so a mistake there
stops it before the database is started, naming the variable.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket

from infra.local.gateway.auth import DEV_USER, TOKEN_HOURS
from infra.local.gateway.cors import cors_config
from infra.local.gateway.server import GatewayServer, bind
from infra.local.gateway.setup import LocalApi, configure
from infra.local.runtime.fleet import Fleet
from infra.local.runtime.invoker import MODES, packaged_fleet
from infra.serverless.function_env import variables
from infra.serverless.origins import VARIABLE, OriginError

__all__ = ["DEFAULT_PORT", "main"]

HOST = "127.0.0.1"
# Not 3000: that is the Next.js dev server's port, the frontend that calls this API.
DEFAULT_PORT = 8000


def main(argv: list[str] | None = None) -> int:
    """Serve until Ctrl-C."""
    parser = argparse.ArgumentParser(description="Serve the Lambda handlers on localhost.")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", DEFAULT_PORT)))
    parser.add_argument("--stage", default="dev", help="serverless.yml stage (params, names)")
    parser.add_argument("--check", action="store_true", help="check the configuration, exit")
    args = parser.parse_args(argv)
    try:
        origins = _origins(args.stage)
    except OriginError as exc:
        parser.exit(1, f"local gateway: {exc}\n")
    if args.check:
        return 0
    try:
        sock = bind(HOST, args.port)
    except OSError as exc:
        parser.exit(1, f"local gateway: cannot listen on {HOST}:{args.port}: {exc.strerror}\n")
    base_url = f"http://{HOST}:{sock.getsockname()[1]}"
    invoker = _invoker(args.stage)
    api = configure(base_url, setenv=os.environ.__setitem__, stage=args.stage, invoker=invoker)
    _announce(base_url, api, origins)
    with contextlib.suppress(KeyboardInterrupt):
        _serve(api, sock)
    return 0


def _origins(stage: str) -> tuple[str, ...]:
    """The browser origins serverless.yml's CORS allows for ``stage`` (none: no CORS)."""
    config = cors_config(variables(stage))
    return () if config is None else config.allowed_origins


def _invoker(stage: str) -> Fleet | None:
    """LAMBDA_RUNTIME=rie: the packaged zips under the Lambda runtime; else worker processes."""
    mode = os.environ.get("LAMBDA_RUNTIME") or MODES[0]
    if mode not in MODES:
        raise SystemExit(f"local gateway: LAMBDA_RUNTIME must be one of {', '.join(MODES)}")
    return packaged_fleet(stage) if mode == "rie" else None


def _serve(api: LocalApi, sock: socket.socket) -> None:
    try:
        GatewayServer(api.gateway, sock).run()
    finally:
        api.close()


def _announce(base_url: str, api: LocalApi, origins: tuple[str, ...]) -> None:
    print(f"\nTodo API on {base_url}  (docs: {base_url}/docs, health: {base_url}/health)")
    print(f"Browsers may call it from: {', '.join(origins) or 'nowhere (no CORS)'} ({VARIABLE})")
    for name, why in api.environment.skipped.items():
        print(f"  not set locally: {name} ({why})")
    if api.token is None:
        print("Auth: using the configured BETTER_AUTH_URL / AUTH_JWKS_URL / BETTER_AUTH_SECRET")
        return
    print(f"Development token for user '{DEV_USER}' (valid {TOKEN_HOURS} h):")
    print(f"  export TOKEN={api.token}")
    print("Try:")
    print(
        f'  curl -s -X POST {base_url}/api/{DEV_USER}/tasks -H "Authorization: Bearer $TOKEN" '
        "-H 'content-type: application/json' -d '{\"title\": \"Buy milk\"}'"
    )
    print(
        f'  curl -s {base_url}/api/{DEV_USER}/tasks -H "Authorization: Bearer $TOKEN"\n', flush=True
    )
