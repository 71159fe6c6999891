"""The project's exception hierarchy: each error knows what the client is told.

Every condition a client can meet is one class here, with its HTTP status, its stable
``code`` (what clients match on; never renamed) and a default ``detail`` (what people
read; may be reworded). ``shared.api.problems`` turns them into responses and into the
OpenAPI document, so a status or a code is written here and nowhere else.
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "AppError",
    "AuthenticationError",
    "BodyNotReadable",
    "ConfigurationError",
    "DatabaseUnavailable",
    "InternalError",
    "KeySetUnavailable",
    "MalformedRequest",
    "MethodNotAllowed",
    "MissingToken",
    "NotFound",
    "PermissionDenied",
    "RouteNotFound",
    "ServiceUnavailable",
    "TokenExpired",
    "UnsupportedMediaType",
    "ValidationFailed",
    "client_errors",
]


class AppError(Exception):
    """Base class; ``str(error)`` is safe to show a client or write to a log."""

    status_code: ClassVar[int] = 500
    code: ClassVar[str] = "INTERNAL_ERROR"
    detail: ClassVar[str] = "internal error"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(self.detail if message is None else message)


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
    retry_after_seconds: ClassVar[int] = 5


class DatabaseUnavailable(ServiceUnavailable):
    """The database could not be reached, or stopped answering, in time."""

    code = "DATABASE_UNAVAILABLE"
    detail = "the database is unavailable; try again shortly"


class KeySetUnavailable(ServiceUnavailable):
    """The auth server's key set could not be fetched or read: our dependency failed."""

    code = "AUTH_KEYS_UNAVAILABLE"
    detail = "signing key set unavailable"


class AuthenticationError(AppError):
    """The bearer token is malformed or not signed by a trusted key."""

    status_code = 401
    code = "INVALID_TOKEN"
    detail = "invalid token"


class MissingToken(AuthenticationError):
    """The request carries no bearer token."""

    code = "MISSING_TOKEN"
    detail = "missing bearer token"


class TokenExpired(AuthenticationError):
    """The token was valid once; the client should refresh its session."""

    code = "TOKEN_EXPIRED"
    detail = "token expired"


class PermissionDenied(AppError):
    """The token is valid but does not grant access to the requested user's data."""

    status_code = 403
    code = "FORBIDDEN"
    detail = "not allowed to access another user's data"


class NotFound(AppError):
    """The task does not exist, or belongs to someone else."""

    status_code = 404
    code = "TASK_NOT_FOUND"
    detail = "task not found"


class RouteNotFound(AppError):
    """No route of this function matches the path."""

    status_code = 404
    code = "ROUTE_NOT_FOUND"
    detail = "Not Found"


class MethodNotAllowed(AppError):
    """The path exists, but not with this method."""

    status_code = 405
    code = "METHOD_NOT_ALLOWED"
    detail = "Method Not Allowed"


class MalformedRequest(AppError):
    """The request itself could not be read (a bad header, a body that is not base64)."""

    status_code = 400
    code = "MALFORMED_REQUEST"
    detail = "malformed request"


class BodyNotReadable(AppError):
    """The body is not text FastAPI can decode (not UTF-8, nested too deep, ...)."""

    status_code = 400
    code = "BODY_NOT_READABLE"
    detail = "There was an error parsing the body"


class UnsupportedMediaType(AppError):
    """A body was sent, but not as JSON."""

    status_code = 415
    code = "UNSUPPORTED_MEDIA_TYPE"
    detail = "the request body must be JSON sent with Content-Type: application/json"


class ValidationFailed(AppError):
    """A path, query or body value is not acceptable; ``detail`` lists where and why."""

    status_code = 422
    code = "VALIDATION_FAILED"
    detail = "the request is not valid"


def client_errors() -> list[type[AppError]]:
    """Every error class a client can receive (of those imported), as the README lists them."""
    never_answered = (AppError, ServiceUnavailable, ConfigurationError)  # bases; start-up only
    found: dict[str, type[AppError]] = {}
    pending: list[type[AppError]] = [AppError]
    while pending:
        kind = pending.pop(0)
        if kind not in never_answered:
            found.setdefault(kind.code, kind)
        pending.extend(kind.__subclasses__())
    return sorted(found.values(), key=lambda kind: (kind.status_code, kind.code))
