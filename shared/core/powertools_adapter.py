"""Powertools' EMF metrics provider with each thread's unpublished metrics its own.

Powertools keeps the metrics of the invocation in progress on one provider object, and
``log_metrics`` publishes and clears them when the handler returns. Lambda runs one
invocation at a time per process, so on Lambda the state is the invocation's. Where
invocations run side by side in one process (the local gateway's worker threads, which
call different functions at once, and the tests that hold many requests in flight), one
shared set mixes their metrics into each other's EMF line and fails the flush with
"dictionary changed size during iteration" when another thread adds a metric meanwhile:
a 500 for a request that succeeded. Here each thread sees its own set; one thread, as on
Lambda, sees exactly the stock provider's behaviour.

This is the one place that relies on the provider's attribute names; Powertools is
pinned and ``tests/api/test_powertools_adapter.py`` fails when its version changes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import (
    AmazonCloudWatchEMFProvider,
)

__all__ = ["PER_INVOCATION", "POWERTOOLS_VERSION", "PerThreadEMFProvider"]

POWERTOOLS_VERSION = "3.37.0"  # what the attribute names below were read from


class _PerThread:
    """An attribute each thread holds its own value of, made by ``fresh`` on first use."""

    def __init__(self, fresh: Callable[[PerThreadEMFProvider], Any]) -> None:
        self._fresh = fresh
        self._name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name

    def __get__(self, provider: PerThreadEMFProvider, owner: type | None = None) -> Any:
        state = provider.thread_state
        if not hasattr(state, self._name):
            setattr(state, self._name, self._fresh(provider))
        return getattr(state, self._name)

    def __set__(self, provider: PerThreadEMFProvider, value: Any) -> None:
        setattr(provider.thread_state, self._name, value)


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


# The provider's attributes that hold one invocation's metrics (the rest is configuration).
PER_INVOCATION = frozenset(
    name for name, value in vars(PerThreadEMFProvider).items() if isinstance(value, _PerThread)
)
