"""Invocations side by side in one process publish only their own metrics."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import (
    AmazonCloudWatchEMFProvider,
)
from aws_lambda_powertools.shared.version import VERSION

from shared.core import powertools_adapter
from shared.core.observability import metrics
from tests.support.output import Output

# What the stock provider's __init__ sets that is configuration, the same for every invocation.
CONFIGURATION = {
    "default_dimensions",
    "namespace",
    "service",
    "function_name",
    "_metric_units",
    "_metric_unit_valid_options",
    "_metric_resolutions",
}


def test_the_pinned_version_is_the_one_the_adapter_was_read_from() -> None:
    # GIVEN the adapter's record of the Powertools it relies on
    # THEN it is the installed one (an upgrade re-reads the provider's attributes first)
    assert VERSION == powertools_adapter.POWERTOOLS_VERSION


def test_every_attribute_of_an_invocation_is_per_thread() -> None:
    # GIVEN the stock provider's attributes once built
    stock = set(vars(AmazonCloudWatchEMFProvider()))
    # THEN each one is configuration or held per thread by the adapter, none forgotten
    assert stock - CONFIGURATION == powertools_adapter.PER_INVOCATION


def test_a_flush_publishes_only_its_own_threads_metrics(output: Output) -> None:
    # GIVEN another thread (another invocation) that added a metric and has not flushed yet
    added, flush = threading.Event(), threading.Event()

    def other_invocation() -> None:
        metrics.add_metric(name="OtherCount", unit=MetricUnit.Count, value=1)
        added.set()
        flush.wait(10)
        metrics.flush_metrics()

    with ThreadPoolExecutor(1) as pool:
        other = pool.submit(other_invocation)
        assert added.wait(10)
        # WHEN this thread adds its own and flushes
        metrics.add_metric(name="OwnCount", unit=MetricUnit.Count, value=2)
        metrics.flush_metrics()
        mine = [blob for blob in output.metrics() if "OwnCount" in blob]
        flush.set()
        other.result(10)
    # THEN each EMF line carries its own invocation's metric and not the other's
    assert [blob.get("OtherCount") for blob in mine] == [None]
    [theirs] = [blob for blob in output.metrics() if "OtherCount" in blob]
    assert (theirs["OtherCount"], "OwnCount" in theirs) == ([1.0], False)
