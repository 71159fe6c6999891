"""The one-shot jobs (migrate, verify): Lambda handlers and the same code as commands."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

from shared.core.boot import resume_collector
from shared.core.errors import AppError
from shared.core.observability import logger
from shared.core.settings import get_settings


class SchemaMismatch(AppError):
    """The live database differs from specs/schema.toml."""


def migrate_job() -> dict[str, Any]:
    """Upgrade the database to the spec; returns the migration report."""
    from shared.jobs.migrate import migrate

    report = migrate(get_settings()).to_dict()
    logger.info("migrate finished", extra={"report": report})
    return report


def verify_job() -> dict[str, Any]:
    """Check the database against the spec; raises SchemaMismatch on any difference."""
    from shared.jobs.verify import verify

    report = verify(get_settings())
    logger.info("verify finished", extra={"report": report.to_dict()})
    if not report.ok:
        raise SchemaMismatch("schema differs from spec: " + "; ".join(report.problems))
    return report.to_dict()


def lambda_handler(job: Callable[[], dict[str, Any]]) -> Callable[[dict[str, Any], Any], Any]:
    """Wrap a job as a Lambda handler; a failure is raised, so the invocation fails."""

    @logger.inject_lambda_context
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return job()

    resume_collector()
    return handler


def cli(job: Callable[[], dict[str, Any]]) -> int:
    """Run a job from the command line: JSON on stdout, a one-line error on stderr."""
    try:
        print(json.dumps(job(), indent=2, default=str))
    except AppError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0
