"""The one shape of every error response, and its OpenAPI entries, from shared.core.errors.

A body is ``{"detail": ..., "code": "<STABLE_CODE>", "message": "..."}``: ``detail`` is
what it always was (a sentence, or FastAPI's list of validation issues), ``code`` is what
clients match on, ``message`` a sentence a frontend can show a person as it is (its class's,
or a 422's first issue).
Every 503 says when to come back (``Retry-After``), every 401 names its scheme, and is
counted: one ``ServiceUnavailable`` metric and one named after its cause's class
(``DatabaseUnavailable``, ``DatabaseBusy``, ``KeySetUnavailable``; docs/operations.md: Metrics).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from shared.core.errors import AppError, AuthenticationError, ServiceUnavailable, ValidationFailed
from shared.core.observability import metrics

__all__ = [
    "ErrorBody",
    "ValidationIssue",
    "error_body",
    "error_response",
    "first_problem",
    "openapi_responses",
]

Responses = dict[int | str, dict[str, Any]]


class ValidationIssue(BaseModel):
    """Where a value was refused and why (FastAPI's shape, without echoing the input)."""

    loc: list[str | int]
    msg: str
    type: str


class ErrorBody(BaseModel):
    """Every error response's body."""

    detail: str | list[ValidationIssue] = Field(
        description="What went wrong, for developers: a sentence, or where and why each value "
        "was refused"
    )
    code: str = Field(description="The stable code to branch on", examples=["TASK_NOT_FOUND"])
    message: str = Field(
        description="A plain sentence to show the person using the app; for a 422 the first "
        "refused value and why",
        examples=["title: String should have at most 255 characters"],
    )


def error_body(error: AppError, detail: Any = None, message: str | None = None) -> dict[str, Any]:
    """The JSON body for ``error``; ``detail`` and ``message`` replace its own (a 422's)."""
    return {
        "detail": str(error) if detail is None else detail,
        "code": error.code,
        "message": error.message if message is None else message,
    }


def first_problem(issues: list[dict[str, Any]]) -> str:
    """A 422's message: its first issue as ``field: problem``.

    ``loc`` starts with where the value was (body, query, path) and then names the field;
    an int in it is a list index, or where JSON that does not parse went wrong: left out.
    """
    if not issues:
        return ValidationFailed.message
    issue = issues[0]
    where = [part for part in issue.get("loc", ()) if isinstance(part, str)] or ["request"]
    field = ".".join(where[1:]) or where[0]
    # A validator's ValueError comes back as "Value error, must not be null".
    return f"{field}: {str(issue.get('msg')).removeprefix('Value error, ')}"


def error_response(
    error: AppError,
    *,
    detail: Any = None,
    message: str | None = None,
    extra: dict[str, Any] | None = None,
) -> JSONResponse:
    """The response for ``error``; ``extra`` adds fields a route has always sent (health)."""
    headers = {}
    if isinstance(error, ServiceUnavailable):
        headers["Retry-After"] = str(error.retry_after_seconds)
        _count_unavailable(error)
    if isinstance(error, AuthenticationError):
        headers["WWW-Authenticate"] = "Bearer"  # RFC 9110: every 401 names its scheme
    body = error_body(error, detail, message) | (extra or {})
    return JSONResponse(body, status_code=error.status_code, headers=headers)


def _count_unavailable(error: ServiceUnavailable) -> None:
    # Published with the invocation's other metrics when the handler returns.
    for name in dict.fromkeys((ServiceUnavailable.__name__, type(error).__name__)):
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)


def openapi_responses(kinds: Iterable[type[AppError]]) -> Responses:
    """OpenAPI ``responses`` for the errors a route can answer, one entry per status."""
    by_status: dict[int, list[type[AppError]]] = {}
    for kind in kinds:
        by_status.setdefault(kind.status_code, []).append(kind)
    return {status: _entry(found) for status, found in sorted(by_status.items())}


def _entry(kinds: list[type[AppError]]) -> dict[str, Any]:
    lines = [f"`{kind.code}`: {_first_line(kind)}" for kind in kinds]
    entry: dict[str, Any] = {"model": ErrorBody, "description": "<br>".join(lines)}
    if any(issubclass(kind, ServiceUnavailable) for kind in kinds):
        entry["headers"] = {
            "Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}
        }
    return entry


def _first_line(kind: type[AppError]) -> str:
    return (kind.__doc__ or kind.detail).strip().splitlines()[0]
