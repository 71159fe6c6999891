"""What a test printed and logged: Powertools JSON log lines, EMF metrics, stdlib records."""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from shared.core.observability import logger


class Output:
    """Everything the test printed so far; ``records`` parses the JSON lines."""

    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self._capsys = capsys
        self.text = ""

    def read(self) -> str:
        """Collect what was printed since the last read and return everything so far."""
        out, err = self._capsys.readouterr()
        self.text += out + err
        return self.text

    def records(self) -> list[dict[str, Any]]:
        """Every JSON object printed so far (log records and EMF metric blobs)."""
        return [json.loads(line) for line in self.read().splitlines() if line.startswith("{")]

    def logs(self) -> list[dict[str, Any]]:
        """The Powertools log records printed so far."""
        return [r for r in self.records() if "level" in r and "message" in r]

    def metrics(self) -> list[dict[str, Any]]:
        """The CloudWatch EMF blobs printed so far."""
        return [r for r in self.records() if "_aws" in r]


class LiveStdout(io.TextIOBase):
    """Writes to whatever sys.stdout is now, as Lambda's stdout is, so capsys sees log lines.

    Powertools binds its handler to the sys.stdout of import time, and pytest swaps
    sys.stdout between test phases.
    """

    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()


@contextmanager
def captured(capsys: pytest.CaptureFixture[str]) -> Iterator[Output]:
    """Point Powertools' log handler at the live stdout while the block runs."""
    handler = logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    previous = handler.setStream(LiveStdout())
    try:
        yield Output(capsys)
    finally:
        handler.setStream(previous)


def logged_records(caplog: pytest.LogCaptureFixture) -> str:
    """Every stdlib log record of the test so far (set-up and call), with its extra fields."""
    records = [*caplog.get_records("setup"), *caplog.get_records("call")]
    return "\n".join(json.dumps(vars(record), default=str) for record in records)
