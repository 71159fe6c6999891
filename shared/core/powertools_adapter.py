"""Powertools' per-invocation state, held per thread: the metrics and the log keys.

Powertools keeps what the invocation in progress accumulates on shared objects: its
unpublished metrics on the EMF provider (``log_metrics`` publishes and clears them when
the handler returns) and its log keys (request id, function name, correlation id, cold
start) on the log formatter. Lambda runs one invocation at a time per process, so on
Lambda that state is the invocation's. Where invocations run side by side in one process
(the local gateway's worker threads, which call different functions at once, and the
tests that hold many requests in flight), one shared metric set mixes their metrics into
each other's EMF line and fails the flush with "dictionary changed size during
iteration" when another thread adds a metric meanwhile (the invocation then fails), and
one shared set of log keys labels one request's log lines with another's request id.
Here each thread sees its own; one thread, as on Lambda, sees exactly the stock
behaviour.

This is the one place that relies on those attribute names; Powertools is pinned and
``tests/api/test_powertools_adapter.py`` fails when its version changes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import (
    AmazonCloudWatchEMFProvider,
)

__all__ = ["PER_INVOCATION", "POWERTOOLS_VERSION", "PerThreadEMFProvider", "PerThreadFormatter"]

POWERTOOLS_VERSION = "3.37.0"  # what the attribute names below were read from
_UNSET = object()


class _PerThread:
    """An attribute each thread holds its own value of, made by ``fresh`` on first use."""

    def __init__(self, fresh: Callable[[Any], Any]) -> None:
        self._fresh = fresh
        self._name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name

    def __get__(self, holder: Any, owner: type | None = None) -> Any:
        value = getattr(holder.thread_state, self._name, _UNSET)  # one lookup once made
        if value is _UNSET:
            value = self._fresh(holder)
            setattr(holder.thread_state, self._name, value)
        return value

    def __set__(self, holder: Any, value: Any) -> None:
        setattr(holder.thread_state, self._name, value)


def _default_dimensions(provider: PerThreadEMFProvider) -> dict[str, str]:
    """A new thread's dimensions: the defaults, as the provider's ``__init__`` sets them."""
    return {name: str(value) for name, value in provider.default_dimensions.items()}


class PerThreadEMFProvider(AmazonCloudWatchEMFProvider):
    """The stock CloudWatch EMF provider; what one invocation accumulates is per thread."""

    metric_set = _PerThread(lambda _: {})
    dimension_set = _PerThread(_default_dimensions)
    dimension_sets = _PerThread(lambda _: [])
    metadata_set = _PerThread(lambda _: {})
    timestamp = _PerThread(lambda _: None)

    def __init__(self, **options: Any) -> None:
        self.thread_state = threading.local()
        super().__init__(**options)


class PerThreadFormatter(LambdaPowertoolsFormatter):
    """The stock JSON log formatter; the keys an invocation appends are per thread.

    A new thread starts from the keys of the thread that configured the logger (service,
    sampling rate); ``inject_lambda_context`` sets every per-invocation key at the start
    of each invocation, before its first log line.
    """

    log_format = _PerThread(lambda formatter: dict(formatter.configured_keys))

    def __init__(self, **options: Any) -> None:
        self.thread_state = threading.local()
        super().__init__(**options)
        self.configured_keys: dict[str, Any] = self.log_format  # this thread's, kept live


def _held_per_thread(cls: type) -> frozenset[str]:
    """The names of the attributes ``cls`` holds per thread."""
    return frozenset(name for name, value in vars(cls).items() if isinstance(value, _PerThread))


# The attributes that hold one invocation's state (the rest is configuration).
PER_INVOCATION: dict[type, frozenset[str]] = {
    AmazonCloudWatchEMFProvider: _held_per_thread(PerThreadEMFProvider),
    LambdaPowertoolsFormatter: _held_per_thread(PerThreadFormatter),
}
