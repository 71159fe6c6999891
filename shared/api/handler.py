"""Build a Lambda handler from routers: FastAPI behind Mangum, wrapped by Powertools."""

from __future__ import annotations

import asyncio
from typing import Any, Protocol, cast

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from mangum import Mangum

from shared.api import errors
from shared.api.app import create_app
from shared.api.route import Route
from shared.core.boot import resume_collector
from shared.core.observability import logger, metrics


class LambdaHandler(Protocol):
    """A function's entry point; ``operation`` names the metric its successes count."""

    operation: str

    def __call__(self, event: dict[str, Any], context: Any, /) -> dict[str, Any]: ...


_loop: asyncio.AbstractEventLoop | None = None  # the process's event loop, once made


def _event_loop() -> None:
    """Make the process's loop current: Mangum runs each request on the current loop.

    Mangum 0.22 takes it from ``asyncio.get_event_loop()``, which is deprecated where it
    would make one (the runtime's main thread at the first invocation) and raises after
    an ``asyncio.run()`` has closed and unset the thread's loop. One loop serves every
    invocation of the process, one at a time, as Lambda hands them over.
    """
    global _loop
    if _loop is None or _loop.is_closed():
        _loop = asyncio.new_event_loop()
    asyncio.set_event_loop(_loop)


def _unreadable(asgi: Mangum, event: Any, context: Any, exc: Exception) -> bool:
    """Whether a failure before the app ran was the event's: what Mangum raises reading a
    malformed one, or an event it cannot place at all (its public ``infer`` says)."""
    if isinstance(exc, errors.UNREADABLE_EVENT):
        return True
    try:
        asgi.infer(event, context)
    except Exception:  # RuntimeError: no Mangum handler takes this event
        return True
    return False


def build_handler(operation: str, *routes: Route, docs: bool = False) -> LambdaHandler:
    """One Lambda handler serving ``routes``; ``operation`` names its metric."""
    asgi = Mangum(create_app(routes, docs=docs), lifespan="off")

    # log_event=False overrides POWERTOOLS_LOGGER_LOG_EVENT: events carry bearer tokens.
    @logger.inject_lambda_context(
        correlation_id_path=correlation_paths.API_GATEWAY_HTTP, log_event=False
    )
    @metrics.log_metrics(capture_cold_start_metric=True)
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        _event_loop()
        try:
            response: dict[str, Any] = asgi(event, context)
        except Exception as exc:  # the app catches its own errors: this is the event's
            response = errors.unreadable_event(
                exc, client_sent_it=_unreadable(asgi, event, context, exc)
            )
        status = int(response.get("statusCode", 500))
        logger.info("request handled", extra={"operation": operation, "status": status})
        if status < 400:
            metrics.add_metric(name=operation, unit=MetricUnit.Count, value=1)
        return response

    built = cast(LambdaHandler, handler)
    built.operation = operation
    resume_collector()
    return built
