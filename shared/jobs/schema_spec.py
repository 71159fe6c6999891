"""Read specs/schema.toml, the schema's source of truth, into plain dataclasses."""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Boolean, DateTime, Integer, MetaData, String, Text, text
from sqlalchemy import Column as SAColumn
from sqlalchemy import Table as SATable
from sqlalchemy.types import TypeEngine

SPEC_PATH = Path(__file__).resolve().parents[2] / "specs" / "schema.toml"

TYPES = ("integer", "string", "text", "boolean", "timestamptz")
INPUTS = ("required", "optional", "update", "none")
_SA_TYPES: dict[str, Callable[[], TypeEngine[Any]]] = {
    "integer": Integer,
    "text": Text,
    "boolean": Boolean,
    "timestamptz": lambda: DateTime(timezone=True),
}


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
    def sa_type(self) -> TypeEngine[Any]:
        """The column's SQLAlchemy type (the generated models spell it as its repr)."""
        if self.type == "string":
            return String(self.max_length)
        return _SA_TYPES[self.type]()

    def sa_column(self) -> SAColumn[Any]:
        """The column as SQLAlchemy metadata, for comparing a database with the spec."""
        default = None if self.server_default is None else text(self.server_default)
        return SAColumn(
            self.name,
            self.sa_type,
            primary_key=self.primary_key,
            autoincrement=self.autoincrement,
            nullable=self.nullable,
            index=self.index or None,
            server_default=default,
        )

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
    api: bool = True  # False: only the table model is generated, no request/response models

    @property
    def primary_key(self) -> tuple[str, ...]:
        """The primary key's column names, in spec order."""
        return tuple(c.name for c in self.columns if c.primary_key)

    def inputs(self, *kinds: str) -> list[Column]:
        """The columns a client may send, of the given input kinds."""
        return [c for c in self.columns if c.input in kinds]


def spec_metadata(tables: list[Table]) -> MetaData:
    """The spec's tables as SQLAlchemy metadata (what Alembic's autogenerate compares)."""
    metadata = MetaData()
    for spec in tables:
        SATable(spec.name, metadata, *(c.sa_column() for c in spec.columns))
    return metadata


def load_spec(path: Path = SPEC_PATH) -> list[Table]:
    """The spec's tables, in file order."""
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    return [
        Table(
            name,
            t["model"],
            t["doc"],
            tuple(Column.from_spec(c) for c in t["columns"]),
            api=t.get("api", True),
        )
        for name, t in raw["tables"].items()
    ]
