"""Powertools singletons: one logger and one metrics object per process.

Service name, log level and metrics namespace come from the POWERTOOLS_* environment
variables that serverless.yml sets in one place. Tracing is Lambda's active tracing
(set in serverless.yml): the X-Ray SDK behind Powertools' Tracer would cost every cold
start its import, and locally there is nothing to trace to. What an invocation adds
(metrics, log keys) is the process's until the invocation ends: Lambda, and the local
gateway's worker processes (infra/local/runtime/workers.py), give a process one
invocation at a time.
"""

from __future__ import annotations

import os
import warnings

from aws_lambda_powertools import Logger, Metrics

# Powertools reads these itself; the defaults only spare local runs its "undefined" names.
SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME") or "todo-api"
NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "TodoApi"

# A failed request publishes no business metric on purpose; Powertools would warn each time.
warnings.filterwarnings("ignore", message="No application metrics to publish")

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)
