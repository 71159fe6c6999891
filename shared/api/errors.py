"""The exception handlers: every error becomes a ``shared.api.problems`` response here.

No response or log line carries a stack trace, SQL text or a credential: driver errors
are logged by class and SQLSTATE only.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.api.problems import error_body, error_response, first_problem
from shared.core.errors import (
    AppError,
    BodyNotReadable,
    DatabaseUnavailable,
    InternalError,
    MalformedRequest,
    MethodNotAllowed,
    RouteNotFound,
    UnsupportedMediaType,
    ValidationFailed,
)
from shared.core.observability import logger
from shared.db.failures import is_unavailable, refusal, sqlstate

# What Starlette and FastAPI raise themselves: an unknown path or method, an unreadable body.
_HTTP_ERRORS: dict[int, type[AppError]] = {
    400: BodyNotReadable,
    404: RouteNotFound,
    405: MethodNotAllowed,
}


async def app_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    level = logger.warning if exc.status_code >= 500 else logger.info
    level("request failed", extra={"error": type(exc).__name__, "status": exc.status_code})
    return error_response(exc)


async def database_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DBAPIError)
    state = sqlstate(exc)
    if is_unavailable(exc):
        logger.warning("database unavailable", extra={"sqlstate": state})
        return error_response(DatabaseUnavailable())
    kind = refusal(exc)
    if kind is not None:
        # 507s need an operator (no ids or no room left), 503s may pass, 4xx are the input's.
        level = {507: logger.error}.get(kind.status_code, logger.warning)
        level("database refused the statement", extra={"sqlstate": state, "error": kind.code})
        return error_response(kind())
    logger.error("database error", extra={"error": type(exc.orig).__name__, "sqlstate": state})
    return internal_error_response()


async def validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    if any(_unparsed_body(e) for e in exc.errors()):
        return error_response(UnsupportedMediaType())
    # Echoing the input back could reflect megabytes or secrets: keep where and why only.
    errors = [{k: e[k] for k in ("loc", "msg", "type") if k in e} for e in exc.errors()]
    return error_response(ValidationFailed(), detail=errors, message=first_problem(errors))


def _unparsed_body(error: Any) -> bool:
    """FastAPI hands a body route the raw bytes when the Content-Type is not JSON."""
    return tuple(error.get("loc", ())) == ("body",) and isinstance(error.get("input"), bytes)


async def http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    kind = _HTTP_ERRORS.get(exc.status_code)
    if kind is None:  # nothing in the contract raises another status this way
        logger.error("unexpected HTTP error", extra={"status": exc.status_code})
        return internal_error_response()
    response = error_response(kind(str(exc.detail)))
    response.headers.update(exc.headers or {})
    return response


def internal_error_response() -> JSONResponse:
    return error_response(InternalError())


# How Mangum fails on an event it cannot read: a bad port in Host or X-Forwarded-Port
# (int()), a body that is not base64 (binascii.Error), a missing or mistyped field.
UNREADABLE_EVENT = (ValueError, KeyError, TypeError)


def unreadable_event(exc: Exception, *, client_sent_it: bool) -> dict[str, Any]:
    """The Lambda response for an event Mangum could not turn into a request.

    When the event was at fault (``shared.api.handler`` tells), the client sent it: a 400;
    anything else failed on our side, a 500. Both in a shape both API Gateway payloads
    accept.
    """
    extra = {"error": type(exc).__name__, **_origin(exc)}
    if not client_sent_it:
        logger.error("unhandled error", extra=extra)
        return _lambda_response(InternalError())
    logger.warning("unreadable request", extra=extra)
    return _lambda_response(MalformedRequest())


def _lambda_response(error: AppError) -> dict[str, Any]:
    return {
        "statusCode": error.status_code,
        "headers": {"content-type": "application/json"},
        "body": json.dumps(error_body(error)),
        "isBase64Encoded": False,
    }


class CatchAll:
    """Outermost guard: an unexpected exception becomes a bare JSON 500, logged without text."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            logger.error("unhandled error", extra={"error": type(exc).__name__, **_origin(exc)})
            if not started:
                await internal_error_response()(scope, receive, send)


def _origin(exc: BaseException) -> dict[str, Any]:
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is None:
        return {}
    return {"at": f"{tb.tb_frame.f_code.co_filename}:{tb.tb_lineno}"}


def install(app: FastAPI) -> None:
    """Register every handler on the app."""
    app.add_exception_handler(AppError, app_error)
    app.add_exception_handler(DBAPIError, database_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(HTTPException, http_error)
    app.add_middleware(CatchAll)
