"""The project's exception hierarchy: each error knows what the client is told.

Every condition a client can meet is one class here, with its HTTP status, its stable
``code`` (what clients match on; never renamed), a default ``detail`` (what happened, in
the API's terms, for the developer; a raise may say more) and its ``message`` (a plain
sentence for the person using the app, which a frontend shows as it is; may be reworded).
A class inherits its parent's message when it has nothing else to tell that person.
``shared.api.problems`` turns them into responses and into the OpenAPI document, so a
status, a code or a message is written here and nowhere else.
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "AppError",
    "AuthenticationError",
    "BodyNotReadable",
    "ConfigurationError",
    "DatabaseBusy",
    "DatabaseFull",
    "DatabaseMisconfigured",
    "DatabaseUnavailable",
    "IdempotencyKeyInUse",
    "IdempotencyKeyInvalid",
    "IdempotencyKeyReused",
    "InternalError",
    "KeySetRefreshing",
    "KeySetUnavailable",
    "MalformedRequest",
    "MethodNotAllowed",
    "MissingToken",
    "NotFound",
    "PermissionDenied",
    "RouteNotFound",
    "SchemaNotMigrated",
    "ServiceUnavailable",
    "TaskIdsExhausted",
    "TokenExpired",
    "UnsupportedMediaType",
    "ValidationFailed",
    "ValueNotStorable",
    "client_errors",
]


class AppError(Exception):
    """Base class; ``str(error)`` (the detail) is safe to show a client or write to a log."""

    status_code: ClassVar[int] = 500
    code: ClassVar[str] = "INTERNAL_ERROR"
    detail: ClassVar[str] = "internal error"
    message: ClassVar[str] = "Something went wrong on our side. Please try again later."

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(self.detail if detail is None else detail)


class InternalError(AppError):
    """Something failed that the client could not have caused; nothing about it is shown."""


class ConfigurationError(AppError):
    """The environment is missing or malformed; raised at start-up, never per request."""

    code = "CONFIGURATION_ERROR"
    detail = "the service is not configured correctly"


class ServiceUnavailable(AppError):
    """A dependency cannot serve the request now; the client may retry after a while."""

    status_code = 503
    code = "SERVICE_UNAVAILABLE"
    detail = "the service is unavailable; try again shortly"
    message = "The service is temporarily unavailable. Please try again in a moment."
    retry_after_seconds: ClassVar[int] = 5


class DatabaseUnavailable(ServiceUnavailable):
    """The database could not be reached, or stopped answering, in time."""

    code = "DATABASE_UNAVAILABLE"
    detail = "the database is unavailable; try again shortly"


class DatabaseMisconfigured(ServiceUnavailable):
    """The database refused the login, or its name or host is wrong: an operator must fix them."""

    code = "DATABASE_MISCONFIGURED"
    detail = "the service's database settings are wrong; an operator must correct them"
    message = "The service cannot reach its data: a setup problem. Please try again later."
    # Asking again in seconds cannot help; the same request succeeds once they are fixed.
    retry_after_seconds = 60


class SchemaNotMigrated(ServiceUnavailable):
    """The database lacks this release's tables or columns: its migrate function has not run."""

    code = "SCHEMA_NOT_MIGRATED"
    detail = (
        "the database is not migrated to this release: run its migrate function "
        "(make deploy-jobs STAGE=<stage>, or invoke the stage's migrate function)"
    )
    message = "The service is being updated. Please try again later."
    retry_after_seconds = 60


class DatabaseBusy(ServiceUnavailable):
    """The database gave up on the statement (deadlock, timeout, conflict); nothing was written."""

    code = "DATABASE_BUSY"
    detail = "the database could not complete the request; nothing was written, try again"
    message = "The service was too busy to finish your request. Nothing was changed; try again."
    retry_after_seconds = 1


class KeySetUnavailable(ServiceUnavailable):
    """The auth server's key set could not be fetched or read: our dependency failed."""

    code = "AUTH_KEYS_UNAVAILABLE"
    detail = "signing key set unavailable"
    message = "Your sign-in cannot be checked right now. Please try again in a moment."


class KeySetRefreshing(ServiceUnavailable):
    """The token's key is not among those held, and no refetch is allowed for a few seconds."""

    code = "AUTH_KEYS_REFRESHING"
    detail = "signing keys are being refreshed; try again shortly"
    message = "Your sign-in cannot be checked right now. Please try again in a few seconds."
    # Also the pace at which key refetches come back (shared/api/auth.py derives it).
    retry_after_seconds = 10


class AuthenticationError(AppError):
    """The bearer token is malformed or not signed by a trusted key."""

    status_code = 401
    code = "INVALID_TOKEN"
    detail = "invalid token"
    message = "Your session is not valid. Please sign in again."


class MissingToken(AuthenticationError):
    """The request carries no bearer token."""

    code = "MISSING_TOKEN"
    detail = "missing bearer token"
    message = "You are not signed in. Please sign in first."


class TokenExpired(AuthenticationError):
    """The token was valid once; the client should refresh its session."""

    code = "TOKEN_EXPIRED"
    detail = "token expired"
    message = "Your session has expired. Please sign in again."


class PermissionDenied(AppError):
    """The token is valid but does not grant access to the requested user's data."""

    status_code = 403
    code = "FORBIDDEN"
    detail = "not allowed to access another user's data"
    message = "You do not have access to these tasks."


class NotFound(AppError):
    """The task does not exist, or belongs to someone else."""

    status_code = 404
    code = "TASK_NOT_FOUND"
    detail = "task not found"
    message = "This task does not exist, or it has been deleted."


class RouteNotFound(AppError):
    """No route of this function matches the path."""

    status_code = 404
    code = "ROUTE_NOT_FOUND"
    detail = "Not Found"
    message = "Not Found"  # what API Gateway itself answers for a path it has no route for


class MethodNotAllowed(AppError):
    """The path exists, but not with this method."""

    status_code = 405
    code = "METHOD_NOT_ALLOWED"
    detail = "Method Not Allowed"
    message = "Method Not Allowed"


class MalformedRequest(AppError):
    """The request itself could not be read (a bad header, a body that is not base64)."""

    status_code = 400
    code = "MALFORMED_REQUEST"
    detail = "malformed request"
    message = "The request could not be read."


class BodyNotReadable(AppError):
    """The body is not text FastAPI can decode (not UTF-8, nested too deep, ...)."""

    status_code = 400
    code = "BODY_NOT_READABLE"
    detail = "There was an error parsing the body"
    message = "The request's content could not be read."


class UnsupportedMediaType(AppError):
    """A body was sent, but not as JSON."""

    status_code = 415
    code = "UNSUPPORTED_MEDIA_TYPE"
    detail = "the request body must be JSON sent with Content-Type: application/json"
    message = "The request's content must be sent as JSON."


class ValidationFailed(AppError):
    """A path, query or body value is not acceptable; ``detail`` lists where and why.

    A response's message is the first of those problems (``shared.api.problems``); this
    class's own is for a list that names none.
    """

    status_code = 422
    code = "VALIDATION_FAILED"
    detail = "the request is not valid"
    message = "Some of the values sent are not valid."


class IdempotencyKeyInvalid(AppError):
    """The Idempotency-Key header is empty, over 255 characters, or not visible ASCII."""

    status_code = 400
    code = "IDEMPOTENCY_KEY_INVALID"
    detail = "Idempotency-Key must be 1 to 255 visible ASCII characters (a UUID, for instance)"
    message = "The request's Idempotency-Key is not valid."


class IdempotencyKeyInUse(AppError):
    """A request with this Idempotency-Key was being processed; retry to get its answer."""

    status_code = 409
    code = "IDEMPOTENCY_KEY_IN_USE"
    detail = "a request with this Idempotency-Key was in progress; retry to get its answer"
    message = "This change is still being saved. Please try again in a moment."


class IdempotencyKeyReused(AppError):
    """The Idempotency-Key was used before with another request (method, path or body)."""

    status_code = 422
    code = "IDEMPOTENCY_KEY_REUSED"
    detail = "this Idempotency-Key was used with a different request; use a new key"
    message = "This change reuses the key of a different change, so it was not applied."


class ValueNotStorable(AppError):
    """The database refused a value: too long, out of range, or against one of its rules."""

    status_code = 422
    code = "VALUE_NOT_STORABLE"
    detail = "the database refused a value of the request"
    message = "A value you sent could not be saved, and nothing was changed."


class TaskIdsExhausted(AppError):
    """No task id is left (the id sequence reached its end); no task can be created."""

    status_code = 507
    code = "TASK_IDS_EXHAUSTED"
    detail = "no task can be created: the service has run out of task ids"
    message = "No new tasks can be created: the service has run out of task numbers."


class DatabaseFull(AppError):
    """The database has no room left (disk full, or the Neon project's size limit)."""

    status_code = 507
    code = "DATABASE_FULL"
    detail = "the database is full; nothing was written"
    message = "The service has run out of storage, so nothing was saved."


def client_errors() -> list[type[AppError]]:
    """Every error class a client can receive (of those imported), as docs/api.md lists them."""
    never_answered = (AppError, ServiceUnavailable, ConfigurationError)  # bases; start-up only
    found: dict[str, type[AppError]] = {}
    pending: list[type[AppError]] = [AppError]
    while pending:
        kind = pending.pop(0)
        if kind not in never_answered:
            found.setdefault(kind.code, kind)
        pending.extend(kind.__subclasses__())
    return sorted(found.values(), key=lambda kind: (kind.status_code, kind.code))
