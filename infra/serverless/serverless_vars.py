"""serverless.yml's ``${...}`` variables, resolved as far as a local machine can.

The Serverless Framework resolves ``${source:address, fallback, ...}`` at deploy time.
Locally, ``env:`` (this process's environment), ``opt:stage``, ``sls:stage``, ``param:``
(the stage's params, then ``default``) and ``self:`` (the template itself) resolve as the
framework resolves them; every other source (``ssm:``, ``cf:``, ``aws:``, ``s3:``,
functions such as ``strToBool(...)``) exists only at deploy time and raises
:class:`Unresolved`, so a caller can skip that value instead of inventing one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Unresolved", "Variables"]

# The innermost ${...}: resolved first, as the framework resolves nested references.
_INNERMOST = re.compile(r"\$\{([^${}]*)\}")
_QUOTED = re.compile(r"""^(['"])(.*)\1$""", re.DOTALL)
_LOCAL_SOURCES = ("env", "opt", "sls", "param", "self")


class Unresolved(LookupError):
    """A reference that only the deploy can resolve, or one with no value and no fallback."""


@dataclass(frozen=True)
class Variables:
    """What the references of one template resolve against on this machine."""

    template: Mapping[str, Any]
    stage: str
    env: Mapping[str, str]

    def resolve(self, value: object) -> str:
        """``value`` with every ``${...}`` replaced; :class:`Unresolved` when one cannot be."""
        text = str(value).lower() if isinstance(value, bool) else str(value)
        while (found := _INNERMOST.search(text)) is not None:
            text = text[: found.start()] + self._reference(found.group(1)) + text[found.end() :]
        return text

    def _reference(self, body: str) -> str:
        # ${env:A, env:B, 'fallback'}: the first alternative that has a value.
        for alternative in _split(body):
            literal = _QUOTED.match(alternative)
            if literal is not None:
                return literal.group(2)
            found = self._lookup(alternative)
            if found is not None:
                return found
        raise Unresolved(f"${{{body}}} has no value here and no fallback")

    def _lookup(self, reference: str) -> str | None:
        source, _, address = reference.partition(":")
        if source not in _LOCAL_SOURCES or not address:
            raise Unresolved(f"${{{reference}}} is resolved at deploy time")
        if source == "env":
            return self.env.get(address)
        if source in ("opt", "sls"):
            return self.stage if address == "stage" else None
        if source == "param":
            return self._param(address)
        found = _walk(self.template, address)
        return None if found is None else self.resolve(found)

    def _param(self, name: str) -> str | None:
        params = self.template.get("params") or {}
        for scope in (self.stage, "default"):
            if name in (params.get(scope) or {}):
                return self.resolve(params[scope][name])
        return None


def _split(body: str) -> list[str]:
    """``a, 'b, c', d`` → ``a``, ``'b, c'``, ``d``: commas inside quotes do not split."""
    parts, current, quote = [], "", ""
    for char in body:
        if char == "," and not quote:
            parts.append(current.strip())
            current = ""
            continue
        if char in "'\"" and (not quote or quote == char):
            quote = "" if quote else char
        current += char
    return [*parts, current.strip()]


def _walk(template: Mapping[str, Any], address: str) -> object:
    node: object = template
    for key in address.split("."):
        if not isinstance(node, Mapping) or key not in node:
            return None
        node = node[key]
    return node
