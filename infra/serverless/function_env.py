"""Each function's environment as Lambda would set it: serverless.yml's, resolved locally.

A function gets ``provider.environment`` with its own ``environment`` over it. Values
are resolved by :mod:`infra.serverless.serverless_vars` against this process's environment (so
``${env:DATABASE_URL, ''}`` is the local stack's URL under ``make run``); a value that
only a deploy can resolve (``${ssm:...}``, or an ``${env:...}`` with no value and no
fallback) is left out, named in ``skipped``, rather than set to something made up.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from infra.serverless.routes import SERVERLESS, document
from infra.serverless.serverless_vars import Unresolved, Variables

__all__ = ["Environment", "environment", "shared_environment", "variables"]


@dataclass(frozen=True)
class Environment:
    """The variables a function's container starts with, and those left to the deploy."""

    values: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)  # name → why


def variables(
    stage: str = "dev", env: Mapping[str, str] | None = None, config: Path = SERVERLESS
) -> Variables:
    """The template's variables for ``stage``, against ``env`` (default: this process's)."""
    return Variables(document(config), stage, os.environ if env is None else env)


def environment(function: str, resolver: Variables) -> Environment:
    """``function``'s environment: the provider's, then its own, each value resolved."""
    template = resolver.template
    declared = {
        **(template.get("provider", {}).get("environment") or {}),
        **(template["functions"][function].get("environment") or {}),
    }
    found = Environment()
    for name, value in declared.items():
        try:
            found.values[name] = resolver.resolve(value)
        except Unresolved as exc:
            found.skipped[name] = str(exc)
    return found


def shared_environment(names: Iterable[str], resolver: Variables) -> Environment:
    """The one environment functions share when they run in one process.

    Raises ValueError naming the variables they set differently: one process has one
    environment, so such functions need a runtime of their own each.
    """
    found = [environment(name, resolver) for name in names]
    values: dict[str, str] = {}
    skipped: dict[str, str] = {}
    for each in found:
        values |= each.values
        skipped |= each.skipped
    differ = sorted(k for k in values if any(e.values.get(k) != values[k] for e in found))
    if differ:
        raise ValueError(f"functions set {', '.join(differ)} differently; one process cannot")
    return Environment(values, skipped)
