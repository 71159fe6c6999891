"""A local stand-in for API Gateway (HTTP API): the real handlers, real events.

Reads the routes, the CORS configuration and each function's environment from
serverless.yml, turns each HTTP request into an API Gateway payload 2.0 event, invokes
the function (by default in warm worker processes of its own, one invocation per process
at a time, as Lambda runs it; any :data:`Invoker` can take their place) and turns its
result back into HTTP, served by uvicorn. When no auth is configured it plays Better Auth
too: it serves a JWKS at /api/auth/jwks and prints a development token for a sample user.

``python -m infra.local.gateway`` (``make run``) serves it on 127.0.0.1:8000 (``PORT``).
"""

from infra.local.gateway.app import JWKS_PATH, Gateway
from infra.local.gateway.auth import AUTH_ENV, DEV_USER, development_auth
from infra.local.gateway.invokers import Invoker
from infra.local.gateway.server import GatewayServer, bind
from infra.local.gateway.setup import LocalApi, configure

__all__ = [
    "AUTH_ENV",
    "DEV_USER",
    "JWKS_PATH",
    "Gateway",
    "GatewayServer",
    "Invoker",
    "LocalApi",
    "bind",
    "configure",
    "development_auth",
]
