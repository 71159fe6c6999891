"""The HTTP API's CORS configuration (serverless.yml ``provider.httpApi.cors``), answered as
API Gateway answers it.

The configuration is read the way the framework compiles it into the API's
``CorsConfiguration`` (osls ``package/compile/events/http-api.js``): ``cors: true`` or a
missing list takes its defaults, and ``allowedMethods``, when not given, is ``OPTIONS``
plus every route's method. API Gateway then:

* answers a preflight (``OPTIONS`` with ``Origin`` and ``Access-Control-Request-Method``)
  itself, ``204`` with no body, whether or not a route has that method; the
  ``Access-Control-Allow-*`` and ``Max-Age`` headers only when the origin, the method
  and every requested header are allowed (API Gateway says nothing more; the local
  gateway logs which of them was refused: :meth:`CorsConfig.refusal`);
* adds ``Access-Control-Allow-Origin`` (and ``Expose-Headers``, ``Allow-Credentials``)
  to a cross-origin request's response only for an allowed origin, and ignores the CORS
  headers a function returns.

``allowedOrigins`` comes from ``FRONTEND_ORIGIN`` (comma-separated, normalised and checked
by infra/serverless/origins.py, as the osls plugin does before a deploy): a value that is
not a list of origins stops ``make run`` at start, naming the variable.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from infra.serverless.origins import origins_of
from infra.serverless.routes import routes
from infra.serverless.serverless_vars import Variables

__all__ = ["PREFLIGHT_STATUS", "CorsConfig", "cors_config", "is_preflight"]

PREFLIGHT_STATUS = 204
ALL_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
# The framework's defaults for `cors: true` (and for a cors object without allowedHeaders).
DEFAULT_ORIGINS = ("*",)
DEFAULT_HEADERS = (
    "Content-Type",
    "X-Amz-Date",
    "Authorization",
    "X-Api-Key",
    "X-Amz-Security-Token",
    "X-Amz-User-Agent",
    "X-Amzn-Trace-Id",
)
Headers = list[tuple[str, str]]


@dataclass(frozen=True)
class CorsConfig:
    """One HTTP API's CORS configuration, as deployed."""

    allowed_origins: tuple[str, ...]
    allowed_headers: tuple[str, ...]
    allowed_methods: tuple[str, ...]
    exposed_headers: tuple[str, ...] = ()
    allow_credentials: bool = False
    max_age: int | None = None

    def allows_origin(self, origin: str) -> bool:
        """Whether ``origin`` is configured (``*`` and ``https://*``-style wildcards too)."""
        return any(_origin_pattern(allowed).fullmatch(origin) for allowed in self.allowed_origins)

    def refusal(self, request: Mapping[str, str]) -> str | None:
        """Why a preflight with these (lower-case) headers gets no grant; None: granted."""
        origin = request["origin"]
        method = request["access-control-request-method"].strip().upper()
        wanted = _tokens(request.get("access-control-request-headers", ""))
        allowed = {name.lower() for name in self.allowed_headers}
        if not self.allows_origin(origin):
            return f"origin {_shown(origin)} not allowed ({', '.join(self.allowed_origins)})"
        if "*" not in self.allowed_methods and method not in self.allowed_methods:
            return f"method {_shown(method)} not allowed ({', '.join(self.allowed_methods)})"
        if "*" not in allowed and not wanted <= allowed:
            refused = ", ".join(_shown(name) for name in sorted(wanted - allowed))
            return f"header {refused} not allowed ({', '.join(self.allowed_headers)})"
        return None

    def preflight(self, request: Mapping[str, str]) -> Headers:
        """The headers of the 204 that answers a preflight with these (lower-case) headers."""
        origin = request["origin"]
        if self.refusal(request) is not None:
            return [("vary", "Origin")]
        found = [
            *self._origin(origin),
            ("access-control-allow-methods", ",".join(self.allowed_methods)),
            ("access-control-allow-headers", ",".join(self.allowed_headers)),
        ]
        if self.max_age is not None:
            found.append(("access-control-max-age", str(self.max_age)))
        return found

    def actual(self, origin: str | None) -> Headers:
        """The CORS headers added to a response to a request from ``origin``."""
        if origin is None or not self.allows_origin(origin):
            return [("vary", "Origin")]
        found = self._origin(origin)
        if self.exposed_headers:
            found.append(("access-control-expose-headers", ",".join(self.exposed_headers)))
        return found

    def _origin(self, origin: str) -> Headers:
        wildcard = self.allowed_origins == ("*",) and not self.allow_credentials
        found = [("access-control-allow-origin", "*" if wildcard else origin), ("vary", "Origin")]
        if self.allow_credentials:
            found.append(("access-control-allow-credentials", "true"))
        return found


def is_preflight(method: str, headers: Mapping[str, str]) -> bool:
    """A CORS preflight: OPTIONS with an Origin and the method it asks for."""
    asked = "access-control-request-method" in headers
    return method == "OPTIONS" and "origin" in headers and asked


def cors_config(
    resolver: Variables, route_methods: Iterable[str] | None = None
) -> CorsConfig | None:
    """``provider.httpApi.cors`` compiled as the framework compiles it; None when not set.

    ``route_methods``: the methods of the template's routes (default: serverless.yml's).
    """
    declared = (resolver.template.get("provider", {}).get("httpApi") or {}).get("cors")
    if not declared:
        return None
    spec: dict[str, Any] = {} if declared is True else declared

    def listed(key: str, default: Iterable[str]) -> tuple[str, ...]:
        return _unique(resolver.resolve(item) for item in spec.get(key) or default)

    return CorsConfig(
        # Raises OriginError (naming FRONTEND_ORIGIN) for a value that is not origins.
        allowed_origins=origins_of(listed("allowedOrigins", DEFAULT_ORIGINS)),
        allowed_headers=listed("allowedHeaders", DEFAULT_HEADERS),
        allowed_methods=listed("allowedMethods", _with_options(route_methods)),
        exposed_headers=listed("exposedResponseHeaders", ()),
        allow_credentials=bool(spec.get("allowCredentials")),
        max_age=None if spec.get("maxAge") is None else int(spec["maxAge"]),
    )


def _with_options(route_methods: Iterable[str] | None) -> list[str]:
    methods = ["OPTIONS"]
    for method in (r.method for r in routes()) if route_methods is None else route_methods:
        methods += [m for m in ALL_METHODS if m != "OPTIONS"] if method == "ANY" else [method]
    return methods


def _unique(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


def _shown(value: str) -> str:
    """A request's value as a log line may show it: printable ASCII, at most 80 characters."""
    printable = "".join(char if " " <= char <= "~" else "?" for char in value[:80])
    return repr(printable + ("..." if len(value) > 80 else ""))


def _tokens(value: str) -> set[str]:
    return {token.strip().lower() for token in value.split(",") if token.strip()}


@cache
def _origin_pattern(allowed: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(part) for part in allowed.split("*")), re.IGNORECASE)
