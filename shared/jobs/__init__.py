"""The one-shot jobs: migrate and verify, the schema spec reader and the Alembic revisions."""
