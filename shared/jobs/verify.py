"""Report what the Neon dashboard's Tables view shows, and check it against the spec."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, func, select, table, text

from shared.core.settings import Settings
from shared.db.engine import create_db_engine
from shared.db.failures import translate_errors
from shared.jobs.schema_spec import SPEC_PATH, Column, Table, load_spec
from shared.jobs.target import migration_target

_COLUMNS = text("""
    SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull,
           coalesce(pg_get_expr(d.adbin, d.adrelid), ''), a.attidentity <> ''
    FROM pg_attribute a
    JOIN pg_class c ON c.oid = a.attrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
    WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND a.attnum > 0
      AND NOT a.attisdropped
    ORDER BY c.relname, a.attnum""")
_INDEXES = text(
    "SELECT tablename, indexname, indexdef FROM pg_indexes "
    "WHERE schemaname = 'public' ORDER BY tablename, indexname"
)
_TRIGGERS = text("""
    SELECT c.relname, t.tgname FROM pg_trigger t
    JOIN pg_class c ON c.oid = t.tgrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public' AND NOT t.tgisinternal AND t.tgenabled <> 'D'""")
# How many values the sequence behind an auto-incrementing column has handed out, of how many.
_ID_SPACE = text("""
    SELECT coalesce(s.last_value, s.start_value - 1) - s.min_value + 1,
           s.max_value - s.min_value + 1
    FROM pg_sequences s
    WHERE format('%I.%I', s.schemaname, s.sequencename)::regclass
        = pg_get_serial_sequence(:table_name, :column)::regclass""")
# Past this share of its id space a table gets a warning: at 80 % of 2^31 ids, a service
# creating a million tasks a day still has over a year to widen the column or archive.
ID_SPACE_WARNING = 0.8


@dataclass
class ColumnInfo:
    name: str
    type: str
    nullable: bool
    default: str
    identity: bool


@dataclass
class TableInfo:
    """One table as the dashboard lists it."""

    name: str
    columns: list[ColumnInfo] = field(default_factory=list)
    indexes: dict[str, str] = field(default_factory=dict)
    triggers: list[str] = field(default_factory=list)
    row_count: int = 0


@dataclass
class IdSpace:
    """How much of an auto-incrementing column's sequence is used."""

    column: str
    used: int
    capacity: int

    @property
    def share(self) -> float:
        return self.used / self.capacity


@dataclass
class VerifyReport:
    """Tables found, every way they differ from the spec, and what is running out."""

    database: str
    tables: list[TableInfo]
    problems: list[str]
    id_space: list[IdSpace] = field(default_factory=list)

    @property
    def warnings(self) -> list[str]:
        """Conditions that do not fail verify but need an operator soon."""
        return [
            f"{s.column}: {s.share:.1%} of its ids are used ({s.used} of {s.capacity})"
            for s in self.id_space
            if s.share >= ID_SPACE_WARNING
        ]

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, **asdict(self), "warnings": self.warnings}


def verify(settings: Settings, spec_path: Path = SPEC_PATH) -> VerifyReport:
    """Inspect the live database and compare it with the spec (specs/schema.toml)."""
    params, _ = migration_target(settings)
    engine = create_db_engine(params, settings, autocommit=False)
    spec = load_spec(spec_path)
    with translate_errors(), engine.begin() as conn:
        tables = inspect_tables(conn)
        found = {t.name: t for t in tables}
        id_space = [s for table in spec if table.name in found for s in id_spaces(conn, table)]
    engine.dispose()
    problems = [p for table in spec for p in check_table(table, found.get(table.name))]
    return VerifyReport(params.redacted(), tables, problems, id_space)


def id_spaces(conn: Connection, spec: Table) -> list[IdSpace]:
    """The used share of each auto-incrementing column's sequence (none: not reported)."""
    found = []
    for col in spec.columns:
        if col.autoincrement:
            values = {"table_name": spec.name, "column": col.name}
            row = conn.execute(_ID_SPACE, values).one_or_none()
            if row is not None:
                found.append(IdSpace(f"{spec.name}.{col.name}", *row))
    return found


def inspect_tables(conn: Connection) -> list[TableInfo]:
    """Tables of the public schema with columns, indexes, triggers and row counts."""
    tables: dict[str, TableInfo] = {}
    for relname, *column in conn.execute(_COLUMNS):
        tables.setdefault(relname, TableInfo(relname)).columns.append(ColumnInfo(*column))
    for relname, index, definition in conn.execute(_INDEXES):
        tables[relname].indexes[index] = definition
    for relname, trigger in conn.execute(_TRIGGERS):
        tables[relname].triggers.append(trigger)
    for info in tables.values():
        info.row_count = conn.execute(
            select(func.count()).select_from(table(info.name))
        ).scalar_one()
    return list(tables.values())


def check_table(spec: Table, found: TableInfo | None) -> list[str]:
    """Every difference between one spec table and what the database holds."""
    if found is None:
        return [f"table {spec.name} is missing"]
    columns = {c.name: c for c in found.columns}
    problems = [
        p for col in spec.columns for p in _check_column(spec.name, col, columns.get(col.name))
    ]
    problems += [
        f"{spec.name}.{name}: not in the spec"
        for name in columns.keys() - {c.name for c in spec.columns}
    ]
    problems += _check_indexes(spec, found)
    problems += [
        f"{spec.name}.{c.name}: no trigger {spec.name}_set_{c.name} keeps it current"
        for c in spec.columns
        if c.on_update and f"{spec.name}_set_{c.name}" not in found.triggers
    ]
    return problems


def _check_column(table_name: str, spec: Column, found: ColumnInfo | None) -> list[str]:
    where = f"{table_name}.{spec.name}"
    if found is None:
        return [f"{where}: missing"]
    problems = []
    if found.type != spec.pg_type:
        problems.append(f"{where}: type is {found.type}, spec says {spec.pg_type}")
    if found.nullable != spec.nullable:
        problems.append(
            f"{where}: {'allows' if found.nullable else 'forbids'} NULL, spec disagrees"
        )
    if spec.autoincrement and not (found.identity or found.default.startswith("nextval(")):
        problems.append(f"{where}: not auto-incrementing")
    if spec.server_default is not None and found.default != spec.server_default:
        problems.append(
            f"{where}: default is {found.default or 'none'}, spec says {spec.server_default}"
        )
    return problems


def _check_indexes(spec: Table, found: TableInfo) -> list[str]:
    definitions = list(found.indexes.values())
    problems = [
        f"{spec.name}.{col.name}: index missing"
        for col in spec.columns
        if col.index and not any(re.search(rf"\({col.name}\)", d) for d in definitions)
    ]
    key = ", ".join(spec.primary_key)
    primary = rf"UNIQUE INDEX \w+ ON \S+ USING btree \({re.escape(key)}\)"
    if key and not any(re.search(primary, d) for d in definitions):
        problems.append(f"{spec.name}.{key.replace(', ', '+')}: primary key missing")
    return problems
