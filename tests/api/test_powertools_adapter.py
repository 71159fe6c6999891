"""Invocations side by side in one process publish only their own metrics and log keys."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import (
    AmazonCloudWatchEMFProvider,
)
from aws_lambda_powertools.shared.version import VERSION

from shared.core import powertools_adapter
from shared.core.observability import logger, metrics
from tests.support.output import Output

# What the stock classes' __init__ set that is configuration, the same for every invocation.
CONFIGURATION: dict[type, set[str]] = {
    AmazonCloudWatchEMFProvider: {
        "default_dimensions",
        "namespace",
        "service",
        "function_name",
        "_metric_units",
        "_metric_unit_valid_options",
        "_metric_resolutions",
    },
    LambdaPowertoolsFormatter: {
        "_fmt",
        "_style",
        "converter",
        "datefmt",
        "json_default",
        "json_deserializer",
        "json_indent",
        "json_serializer",
        "keys_combined",
        "log_record_order",
        "serialize_stacktrace",
        "update_formatter",
        "use_datetime_directive",
        "use_rfc3339_iso8601",
        "utc",
    },
}


def test_the_pinned_version_is_the_one_the_adapter_was_read_from() -> None:
    # GIVEN the adapter's record of the Powertools it relies on
    # THEN it is the installed one (an upgrade re-reads the provider's attributes first)
    assert VERSION == powertools_adapter.POWERTOOLS_VERSION


@pytest.mark.parametrize("stock", list(CONFIGURATION), ids=lambda cls: cls.__name__)
def test_every_attribute_of_an_invocation_is_per_thread(stock: type) -> None:
    # GIVEN a stock Powertools object's attributes once built
    built = set(vars(stock()))
    # THEN each one is configuration or held per thread by the adapter, none forgotten
    assert built - CONFIGURATION[stock] == powertools_adapter.PER_INVOCATION[stock]


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


def test_a_log_line_carries_its_own_threads_request_id(output: Output) -> None:
    # GIVEN another thread (another invocation) whose request id was set, still running
    started, log = threading.Event(), threading.Event()

    def other_invocation() -> None:
        logger.append_keys(function_request_id="other-request")
        started.set()
        log.wait(10)
        logger.info("other's line")

    with ThreadPoolExecutor(1) as pool:
        other = pool.submit(other_invocation)
        assert started.wait(10)
        # WHEN this thread's invocation sets its own and logs, and then the other logs
        logger.append_keys(function_request_id="own-request")
        try:
            logger.info("own line")
        finally:
            logger.remove_keys(["function_request_id"])  # later tests log from this thread
        log.set()
        other.result(10)
    # THEN each line names its own request, and the service is on both
    lines = {r["message"]: r for r in output.logs() if r["message"] in ("own line", "other's line")}
    assert lines["own line"]["function_request_id"] == "own-request"
    assert lines["other's line"]["function_request_id"] == "other-request"
    assert {line["service"] for line in lines.values()} == {"todo-api"}
