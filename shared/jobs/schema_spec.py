"""Read specs/schema.toml, the schema's source of truth, into plain dataclasses."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SPEC_PATH = Path(__file__).resolve().parents[2] / "specs" / "schema.toml"

TYPES = ("integer", "string", "text", "boolean", "timestamptz")
INPUTS = ("required", "optional", "update", "none")


class SpecError(ValueError):
    """The spec file does not describe a schema this project can build."""


@dataclass(frozen=True)
class Column:
    """One column of the spec, with the defaults the spec leaves out filled in."""

    name: str
    type: str
    nullable: bool = False
    primary_key: bool = False
    autoincrement: bool = False
    index: bool = False
    input: str = "none"
    public: bool = True
    max_length: int | None = None
    min_length: int | None = None
    default: Any = None
    server_default: str | None = None
    on_update: str | None = None

    @classmethod
    def from_spec(cls, raw: dict[str, Any]) -> Column:
        try:
            column = cls(**raw)
        except TypeError as exc:
            raise SpecError(f"column {raw.get('name')!r}: {exc}") from None
        if column.type not in TYPES or column.input not in INPUTS:
            raise SpecError(f"column {column.name!r}: unknown type or input")
        return column

    @property
    def pg_type(self) -> str:
        """The type as PostgreSQL's format_type() spells it."""
        if self.type == "string":
            return f"character varying({self.max_length})"
        return {"timestamptz": "timestamp with time zone"}.get(self.type, self.type)


@dataclass(frozen=True)
class Table:
    """One table of the spec."""

    name: str
    model: str
    doc: str
    columns: tuple[Column, ...]

    def inputs(self, *kinds: str) -> list[Column]:
        """The columns a client may send, of the given input kinds."""
        return [c for c in self.columns if c.input in kinds]


def load_spec(path: Path = SPEC_PATH) -> list[Table]:
    """The spec's tables, in file order."""
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    return [
        Table(name, t["model"], t["doc"], tuple(Column.from_spec(c) for c in t["columns"]))
        for name, t in raw["tables"].items()
    ]
