"""Generate shared/tasks/models.py from specs/schema.toml (the schema's source of truth).

    python -m infra.codegen.schemagen           # rewrite shared/tasks/models.py
    python -m infra.codegen.schemagen --check   # exit 1 when the committed file is stale

For each table it writes the model family the API uses: ``<M>Base`` (fields clients
send), ``<M>Create``, ``<M>Replace`` (PUT), ``<M>Update`` (PATCH), the table model
``<M>`` and ``<M>Public`` (what responses carry); a table with ``api = false`` gets the
table model only.
"""

from __future__ import annotations

import argparse
import sys

from infra import ROOT
from shared.jobs.schema_spec import Column, Table, load_spec

TARGET = ROOT / "shared" / "tasks" / "models.py"

_PY_TYPES = {"integer": "int", "string": "str", "text": "str", "boolean": "bool"}
HEADER = '''"""GENERATED from specs/schema.toml by infra/codegen/schemagen.py.

Do not edit: change the spec, then run `make schema`.
"""

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, Strict, StringConstraints, field_validator
from sqlalchemy import Boolean, DateTime, Integer, String, Text, text
from sqlmodel import Field, SQLModel

from shared.tasks.validation import NullMeansOmitted, as_utc, storable_text
'''


def py_type(col: Column) -> str:
    return _PY_TYPES.get(col.type, "datetime")


def input_type(col: Column) -> str:
    """The annotated type that validates what a client sends for this column."""
    if col.type in ("string", "text"):
        limits = f"strip_whitespace={col.min_length is not None}"
        limits += f", min_length={col.min_length}" if col.min_length else ""
        limits += f", max_length={col.max_length}" if col.max_length else ""
        return f"Annotated[str, StringConstraints({limits}), AfterValidator(storable_text)]"
    if col.type == "boolean":
        return "Annotated[bool, Strict()]"
    return py_type(col)


def optional_input(col: Column) -> str:
    """A field the client may omit; documented as nullable only if its column is."""
    if col.nullable:
        return f"{input_type(col)} | None = None"
    # None here only means "not sent": an explicit null is refused (_not_null).
    return f"Annotated[{input_type(col)} | None, NullMeansOmitted()] = None"


def public_type(col: Column) -> str:
    base = py_type(col)
    if col.type == "timestamptz":
        base = "Annotated[datetime, AfterValidator(as_utc)]"
    return f"{base} | None" if col.nullable else base


def table_field(col: Column) -> str:
    args = [f"default={col.default!r}", f"sa_type={col.sa_type!r}", f"nullable={col.nullable}"]
    args += ["primary_key=True"] if col.primary_key else []
    args += ["index=True"] if col.index else []
    if col.server_default is not None:
        args.append(f'sa_column_kwargs={{"server_default": text("{col.server_default}")}}')
    # Values the database fills in are None until the row has been written.
    filled_by_db = col.nullable or col.primary_key or col.server_default is not None
    annotation = f"{py_type(col)} | None" if filled_by_db and col.default is None else py_type(col)
    return f"    {col.name}: {annotation} = Field({', '.join(args)})"


def not_null_validator(cols: list[Column]) -> list[str]:
    names = ", ".join(f'"{c.name}"' for c in cols if not c.nullable)
    return [
        f"    @field_validator({names})",
        "    @classmethod",
        "    def _not_null(cls, value: object) -> object:",
        '        """An explicit null cannot be stored in a NOT NULL column."""',
        "        if value is None:",
        '            raise ValueError("must not be null")',
        "        return value",
    ]


def model_family(table: Table) -> list[list[str]]:
    """The classes of one table, each as a list of lines."""
    m, sent = table.model, table.inputs("required", "optional")
    base = [
        f"class {m}Base(SQLModel):",
        f'    """Fields a client sends for a {table.name} row."""',
        "",
    ]
    base += [
        f"    {c.name}: {input_type(c)}{' | None' if c.nullable else ''}"
        f"{'' if c.input == 'required' else ' = None'}"
        for c in sent
    ]
    create = [f"class {m}Create({m}Base):", '    """Body of a create request."""']
    replace = [
        f"class {m}Replace({m}Base):",
        '    """Body of a full update (PUT): omitted optional fields keep their values."""',
        "",
    ]
    replace += [f"    {c.name}: {optional_input(c)}" for c in table.inputs("update")]
    replace += ["", *not_null_validator(table.inputs("update"))]
    editable = table.inputs("required", "optional", "update")
    update = [
        f"class {m}Update(SQLModel):",
        '    """Body of a partial update (PATCH): every field optional."""',
        "",
    ]
    update += [f"    {c.name}: {optional_input(c)}" for c in editable]
    update += ["", *not_null_validator(editable)]
    row = [
        f"class {m}(SQLModel, table=True):",
        f'    """{table.doc}"""',
        "",
        f'    __tablename__ = "{table.name}"',
        "",
    ]
    row += [table_field(c) for c in table.columns]
    public = [
        f"class {m}Public(SQLModel):",
        f'    """A {table.name} row as API responses show it."""',
        "",
    ]
    public += [f"    {c.name}: {public_type(c)}" for c in table.columns if c.public]
    return [base, create, replace, update, row, public] if table.api else [row]


def render(tables: list[Table]) -> str:
    """The full text of shared/tasks/models.py."""
    constants = [
        f"{t.name.upper()}_{c.name.upper()}_MAX_LENGTH = {c.max_length}"
        for t in tables
        for c in t.columns
        if c.max_length
    ]
    classes = ["\n".join(lines) for t in tables for lines in model_family(t)]
    return HEADER + "\n" + "\n".join(constants) + "\n\n\n" + "\n\n\n".join(classes) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate shared/tasks/models.py from the spec.")
    parser.add_argument(
        "--check", action="store_true", help="fail if shared/tasks/models.py is stale"
    )
    args = parser.parse_args(argv)
    text = render(load_spec())
    if not args.check:
        TARGET.write_text(text, encoding="utf-8")
    elif TARGET.read_text(encoding="utf-8") != text:
        print("shared/tasks/models.py is stale: run `make schema`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
