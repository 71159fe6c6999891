"""Putting a gateway together: auth, the functions' environment, CORS, the invoker."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from infra.local.gateway.app import Gateway
from infra.local.gateway.auth import AUTH_ENV, DEV_USER, development_auth
from infra.local.gateway.cors import cors_config
from infra.local.gateway.invokers import Invoker
from infra.local.runtime.fleet import Fleet
from infra.local.runtime.workers import Workers, serverless_workers
from infra.serverless.function_env import Environment, shared_environment, variables
from infra.serverless.routes import functions

__all__ = ["LocalApi", "configure"]


@dataclass(frozen=True)
class LocalApi:
    """A configured gateway, the development token (when it plays Better Auth) and the
    environment its functions were given."""

    gateway: Gateway
    invoker: Invoker
    token: str | None
    environment: Environment

    def close(self) -> None:
        """Let running invocations finish, then stop the gateway's threads and the
        functions' processes."""
        self.gateway.close()
        if isinstance(self.invoker, Workers | Fleet):
            self.invoker.close()


def configure(
    base_url: str,
    *,
    setenv: Callable[[str, str], None],
    stage: str = "dev",
    invoker: Invoker | None = None,
    user: str = DEV_USER,
    **options: Any,
) -> LocalApi:
    """A gateway for the API at ``base_url``; environment changes go through ``setenv``.

    With no auth configured it issues a development token for ``user`` and serves its
    JWKS (so the functions' ``BETTER_AUTH_URL`` is ``base_url``). Then the HTTP functions'
    environment from serverless.yml is applied to this process's, which their worker
    processes start from. The default invoker runs each function in up to its reserved
    concurrency of processes. ``options`` go to :class:`Gateway` (time-outs, logging).
    """
    jwks = token = None
    if not any(os.environ.get(name) for name in AUTH_ENV):
        jwks, token = development_auth(base_url, user)
        setenv("BETTER_AUTH_URL", base_url)
    resolver = variables(stage)
    served = shared_environment((f.name for f in functions() if not f.is_job), resolver)
    for name, value in served.values.items():
        setenv(name, value)
    if invoker is None:
        invoker = serverless_workers(stage)
    gateway = Gateway(invoker, cors=cors_config(resolver), jwks=jwks, **options)
    return LocalApi(gateway, invoker, token, served)
