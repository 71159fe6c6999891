"""Value checks that the generated models attach to their fields."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema


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


class NullMeansOmitted:
    """Document an optional field as not nullable; validation is unchanged.

    Its None default only stands for "not sent" (a validator refuses an explicit null),
    so the OpenAPI document must not offer null as a value.
    """

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        found = handler(schema)
        branches = found.get("anyOf", [])
        kept = [branch for branch in branches if branch != {"type": "null"}]
        if len(branches) == 2 and len(kept) == 1:
            del found["anyOf"]
            found.update(kept[0])
        return found
