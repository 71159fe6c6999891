"""What a stage reserves of the account's Lambda concurrency, and whether the account has it.

Each API function reserves ``apiConcurrency`` (serverless.yml) out of the account's
"Concurrent executions" quota, and Lambda refuses any reservation that would leave less
than its minimum unreserved: 100 (AWS: "You can reserve up to the Unreserved account
concurrency value minus 100"), or the whole quota when that is below 100 (an account
with a quota of 50 is told its minimum is [50]). New accounts may start with a quota of
10: nothing can be reserved until it is raised, and CloudFormation fails on the first
function, half-way through the stack. Redeploying reserves nothing new for functions
that already hold their share, so those are counted as held.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from botocore.exceptions import ClientError

from infra.deploy.stage import Problem, function_name
from infra.serverless.routes import document
from infra.serverless.serverless_vars import Variables

MIN_UNRESERVED = 100
QUOTA = "Service Quotas > AWS Lambda > Concurrent executions (L-B99A9384)"


def cli_params(cli_args: Sequence[str]) -> dict[str, str]:
    """The ``--param name=value`` pairs of a deploy's extra arguments (osls's precedence)."""
    found: dict[str, str] = {}
    words = list(cli_args)
    for index, word in enumerate(words):
        value = words[index + 1] if word == "--param" and index + 1 < len(words) else None
        if word.startswith("--param="):
            value = word.removeprefix("--param=")
        if value is not None and "=" in value:
            name, _, setting = value.partition("=")
            found[name] = setting
    return found


def reserved(stage: str, env: Mapping[str, str], cli_args: Sequence[str] = ()) -> dict[str, int]:
    """serverless.yml's function name -> the concurrency it reserves on ``stage``."""
    template = document()
    params = dict(template.get("params") or {})
    params[stage] = {**(params.get(stage) or {}), **cli_params(cli_args)}
    resolver = Variables({**template, "params": params}, stage, env)
    return {
        name: int(resolver.resolve(spec["reservedConcurrency"]))
        for name, spec in template["functions"].items()
        if "reservedConcurrency" in spec
    }


def held(client: Any, stage: str, wanted: Mapping[str, int]) -> dict[str, int]:
    """What the stage's deployed functions reserve now (a missing function holds nothing)."""
    found: dict[str, int] = {}
    for name in wanted:
        try:
            reply = client.get_function_concurrency(FunctionName=function_name(stage, name))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
                raise
            continue
        found[name] = int(reply.get("ReservedConcurrentExecutions") or 0)
    return found


def minimum_unreserved(quota: int) -> int:
    """What Lambda keeps unreserved in an account with this quota."""
    return min(MIN_UNRESERVED, quota)


def check(
    settings: Mapping[str, Any], wanted: Mapping[str, int], holding: Mapping[str, int]
) -> tuple[str | None, list[Problem]]:
    """A passing line, or the problem: the reservation leaves Lambda less than its minimum."""
    limit = settings["AccountLimit"]
    quota, unreserved = (
        int(limit["ConcurrentExecutions"]),
        int(limit["UnreservedConcurrentExecutions"]),
    )
    floor = minimum_unreserved(quota)
    extra = sum(wanted.values()) - sum(holding.values())
    summary = (
        f"the stage reserves {sum(wanted.values())} ({_shares(wanted)}), {max(extra, 0)} more "
        f"than it holds; the account has {unreserved} unreserved of a quota of {quota}, "
        f"and Lambda keeps {floor} unreserved"
    )
    if unreserved - extra >= floor:
        return f"concurrency: {summary}", []
    return None, [
        Problem(
            f"not enough Lambda concurrency: {summary}",
            _fix(wanted, unreserved + sum(holding.values()) - floor),
        )
    ]


def _shares(wanted: Mapping[str, int]) -> str:
    counts: dict[int, int] = {}
    for value in wanted.values():
        counts[value] = counts.get(value, 0) + 1
    return " + ".join(f"{n} functions x {value}" for value, n in sorted(counts.items()))


def _fix(wanted: Mapping[str, int], available: int) -> str:
    ask = f"ask for a higher quota: {QUOTA}"
    each = available // max(len(wanted), 1)
    if each < 1:
        return f"{ask}; with this quota no function can reserve any"
    return f"{ask}, or reserve less: DEPLOY_ARGS='--param apiConcurrency={each}'"
