"""Alembic revisions that bring a database to specs/schema.toml, one step at a time."""
