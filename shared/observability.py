"""Powertools singletons: one logger and one metrics object per process.

Service name, log level and metrics namespace come from the POWERTOOLS_* environment
variables that serverless.yml sets in one place. Tracing is Lambda's active tracing
(set in serverless.yml): the X-Ray SDK behind Powertools' Tracer would cost every cold
start its import, and locally there is nothing to trace to.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics

logger = Logger(service="todo-api")
metrics = Metrics(namespace="TodoApi", service="todo-api")
