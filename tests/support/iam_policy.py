"""IAM as far as the deployer policy needs it, from AWS's own data as cfn-lint ships it.

* ``iam_action(name)``: the Service Authorization Reference entry of an action (which
  resource types it can be scoped to; none means only ``"*"``), or None when IAM has no
  such action (a typo, or a name a CloudFormation schema lists that IAM never checks).
* ``handler_permissions(type)``: what CloudFormation's resource handlers for a type call
  with the deployer's credentials (the registry schema's create/read/update/delete lists,
  and its tagging list).
* ``Policy.allows(action, resource, context)``: IAM's evaluation of one identity policy:
  an explicit Deny wins, else any Allow whose Action, Resource and Condition match.
  Wildcards ``*`` and ``?`` as IAM reads them (actions case-insensitively).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

HANDLERS = ("create", "read", "update", "delete")


@cache
def _service_reference() -> dict[str, Any]:
    data = resources.files("cfnlint.data.AdditionalSpecs").joinpath("Policies.json")
    loaded: dict[str, Any] = json.loads(data.read_text(encoding="utf-8"))
    return loaded


def iam_action(action: str) -> dict[str, Any] | None:
    """The reference's entry for ``service:Action``, or None when IAM has no such action."""
    service, _, name = action.partition(":")
    entry = _service_reference().get(service.lower(), {}).get("Actions", {}).get(name.lower())
    return None if entry is None else dict(entry)


def scopable(action: str) -> bool:
    """Whether a policy can name resources for ``action`` (else only ``"*"`` grants it)."""
    entry = iam_action(action)
    return bool(entry and entry.get("Resources"))


@cache
def resource_schema(resource_type: str, region: str = "us-east-1") -> dict[str, Any]:
    """CloudFormation's registry schema of a resource type, as cfn-lint ships it."""
    schemas = resources.files("cfnlint.data.schemas")
    index = json.loads(schemas.joinpath("providers", f"{region}.json").read_text("utf-8"))
    text = schemas.joinpath("resources", f"{index[resource_type]}.json").read_text("utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def handler_permissions(resource_type: str, region: str = "us-east-1") -> dict[str, list[str]]:
    """The registry schema's permissions per handler (create, read, update, delete) and
    for tagging (CloudFormation tags what it creates with the stack's own tags)."""
    schema = resource_schema(resource_type, region)
    handlers = schema.get("handlers") or {}
    found = {name: list(handlers.get(name, {}).get("permissions", [])) for name in HANDLERS}
    found["tagging"] = list((schema.get("tagging") or {}).get("permissions", []))
    return found


def _pattern(text: str, flags: int = 0) -> re.Pattern[str]:
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in text)
    return re.compile(body, flags | re.DOTALL)


def _listed(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _equals(want: str, got: str) -> bool:
    return want == got


def _like(want: str, got: str) -> bool:
    return _pattern(want).fullmatch(got) is not None


_CONDITIONS: dict[str, Callable[[str, str], bool]] = {
    "StringEquals": _equals,
    "StringLike": _like,
    "ArnEquals": _equals,
    "ArnLike": _like,
}


@dataclass(frozen=True)
class Statement:
    """One statement of an identity policy (no NotAction / NotResource: not used here)."""

    sid: str
    effect: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    condition: Mapping[str, Mapping[str, str | list[str]]]

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> Statement:
        unknown = set(raw) - {"Sid", "Effect", "Action", "Resource", "Condition"}
        assert not unknown, f"statement {raw.get('Sid')}: {sorted(unknown)} not supported here"
        return cls(
            sid=str(raw.get("Sid", "")),
            effect=str(raw["Effect"]),
            actions=tuple(_listed(raw["Action"])),
            resources=tuple(_listed(raw["Resource"])),
            condition=raw.get("Condition", {}),
        )

    def matches(self, action: str, resource: str, context: Mapping[str, str]) -> bool:
        return (
            any(_pattern(a, re.IGNORECASE).fullmatch(action) for a in self.actions)
            and any(_pattern(r).fullmatch(resource) for r in self.resources)
            and self._conditions_hold(context)
        )

    def _conditions_hold(self, context: Mapping[str, str]) -> bool:
        for operator, pairs in self.condition.items():
            test = _CONDITIONS[operator]  # KeyError: an operator this model does not know
            for key, wanted in pairs.items():
                got = context.get(key)
                if got is None or not any(test(w, got) for w in _listed(wanted)):
                    return False
        return True


@dataclass(frozen=True)
class Policy:
    """An identity policy document, as IAM evaluates it for one principal."""

    statements: tuple[Statement, ...]

    @classmethod
    def parse(cls, document: Mapping[str, Any]) -> Policy:
        assert document.get("Version") == "2012-10-17", "policy variables need Version 2012-10-17"
        return cls(tuple(Statement.parse(raw) for raw in document["Statement"]))

    def allows(self, action: str, resource: str, context: Mapping[str, str] | None = None) -> bool:
        found = [s for s in self.statements if s.matches(action, resource, context or {})]
        return any(s.effect == "Allow" for s in found) and not any(
            s.effect == "Deny" for s in found
        )

    def actions(self) -> Iterator[tuple[Statement, str]]:
        """Every (statement, action) pair the policy names."""
        for statement in self.statements:
            for action in statement.actions:
                yield statement, action
