"""The functions and HTTP routes serverless.yml declares, read once for every other consumer.

serverless.yml is what operators read and deploy; the local gateway, the packaging checks,
the tests' events and the bench take their functions and routes from here instead of
restating them. Only the template's contract test keeps an independent copy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from infra import ROOT

SERVERLESS = ROOT / "serverless.yml"
_PARAM = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class HttpRoute:
    """One httpApi event: a method and a path template, served by one function's handler."""

    method: str
    template: str
    function: str
    handler: str  # as serverless.yml writes it: functions/list_tasks.handler

    @property
    def key(self) -> str:
        """API Gateway's route key, e.g. ``GET /api/{user_id}/tasks``."""
        return f"{self.method} {self.template}"

    @property
    def module(self) -> str:
        """The handler's module, e.g. ``functions.list_tasks``."""
        return _module(self.handler)

    @property
    def params(self) -> tuple[str, ...]:
        """The template's path parameters, in order."""
        return tuple(_PARAM.findall(self.template))

    def match(self, path: str) -> dict[str, str] | None:
        """The (still percent-encoded) path parameters when ``path`` fits the template."""
        found = _pattern(self.template).fullmatch(path)
        return None if found is None else found.groupdict()

    def path(self, **params: object) -> str:
        """The template with its parameters filled in."""
        return self.template.format(**params)


@dataclass(frozen=True)
class ServerlessFunction:
    """One function of serverless.yml: its handler and its routes (none for a job)."""

    name: str
    handler: str
    routes: tuple[HttpRoute, ...]

    @property
    def module(self) -> str:
        """The handler's module, e.g. ``functions.migrate``."""
        return _module(self.handler)

    @property
    def is_job(self) -> bool:
        """A one-shot job (migrate, verify): invoked directly, never by HTTP."""
        return not self.routes


@cache
def document(config: Path = SERVERLESS) -> dict[str, Any]:
    """``config`` as YAML reads it (merge keys applied, ``${...}`` variables left as written)."""
    loaded: dict[str, Any] = yaml.safe_load(config.read_text(encoding="utf-8"))
    return loaded


@cache
def functions(config: Path = SERVERLESS) -> tuple[ServerlessFunction, ...]:
    """Every function of ``config``, in the order it declares them."""
    declared: dict[str, Any] = document(config)["functions"]
    return tuple(_function(name, spec) for name, spec in declared.items())


def function(name: str) -> ServerlessFunction:
    """The function called ``name``."""
    found = [fn for fn in functions() if fn.name == name]
    if not found:
        raise LookupError(f"serverless.yml has no function {name!r}")
    return found[0]


def routes() -> tuple[HttpRoute, ...]:
    """Every httpApi route, in the order serverless.yml declares them."""
    return tuple(route for fn in functions() for route in fn.routes)


def route_for(method: str, path: str) -> HttpRoute | None:
    """The route API Gateway would pick for ``method`` and a concrete ``path``, if any."""
    return next((r for r in routes() if r.method == method and r.match(path) is not None), None)


def _function(name: str, spec: dict[str, Any]) -> ServerlessFunction:
    handler = str(spec["handler"])
    events = [event["httpApi"] for event in spec.get("events") or [] if "httpApi" in event]
    found = tuple(HttpRoute(*_method_and_path(api), name, handler) for api in events)
    return ServerlessFunction(name, handler, found)


def _method_and_path(api: str | dict[str, str]) -> tuple[str, str]:
    # serverless.yml allows "GET /path" or {method: GET, path: /path}.
    if isinstance(api, str):
        method, path = api.split(" ", 1)
        return method.upper(), path.strip()
    return api["method"].upper(), api["path"]


def _module(handler: str) -> str:
    return handler.rsplit(".", 1)[0].replace("/", ".")


@cache
def _pattern(template: str) -> re.Pattern[str]:
    return re.compile(re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template)))
