"""Value checks that the generated models attach to their fields."""

from __future__ import annotations

from datetime import UTC, datetime


def storable_text(value: str) -> str:
    """Reject what PostgreSQL text cannot hold: NUL characters and lone surrogates."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text") from None
    return value


def as_utc(value: datetime) -> datetime:
    """Present every timestamp in UTC, whatever the session time zone was."""
    return value.astimezone(UTC)
