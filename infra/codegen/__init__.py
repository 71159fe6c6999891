"""Code generated from specs/schema.toml: the SQLModel models and the next Alembic revision."""
