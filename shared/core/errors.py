"""The project's exception hierarchy: each error knows what the client is told."""

from __future__ import annotations


class AppError(Exception):
    """Base class; ``str(error)`` is safe to show a client or write to a log."""

    status_code: int = 500


class ConfigurationError(AppError):
    """The environment is missing or malformed; raised at start-up, never per request."""

    status_code = 500


class DatabaseUnavailable(AppError):
    """The database could not be reached, or stopped answering, in time."""

    status_code = 503
    retry_after_seconds = 5


class AuthenticationError(AppError):
    """The bearer token is missing, malformed, expired or not signed by a trusted key."""

    status_code = 401


class PermissionDenied(AppError):
    """The token is valid but does not grant access to the requested user's data."""

    status_code = 403


class NotFound(AppError):
    """The resource does not exist, or belongs to someone else."""

    status_code = 404
