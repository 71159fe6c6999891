"""Powertools singletons: one logger and one metrics object per process.

Service name, log level and metrics namespace come from the POWERTOOLS_* environment
variables that serverless.yml sets in one place. Tracing is Lambda's active tracing
(set in serverless.yml): the X-Ray SDK behind Powertools' Tracer would cost every cold
start its import, and locally there is nothing to trace to.
"""

from __future__ import annotations

import os
import warnings

from aws_lambda_powertools import Logger, Metrics

from shared.core.powertools_adapter import PerThreadEMFProvider, PerThreadFormatter

# Powertools reads these itself; the defaults only spare local runs its "undefined" names.
SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME") or "todo-api"
NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "TodoApi"

# A failed request publishes no business metric on purpose; Powertools would warn each time.
warnings.filterwarnings("ignore", message="No application metrics to publish")

# Per thread: the local gateway and the tests run invocations side by side (see the adapter).
logger = Logger(service=SERVICE, logger_formatter=PerThreadFormatter())
metrics = Metrics(provider=PerThreadEMFProvider(namespace=NAMESPACE, service=SERVICE))
