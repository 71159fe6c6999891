"""The one table of library versions the wing was written against.

Each adapter relies on insides a library does not promise to keep. A version here is
the one the adapter was read against and tested with; ``tests/adapters/test_versions.py``
fails when another one is installed. Upgrading a library means reading the adapter
against the new version's source, running its tests, then changing the version here.
"""

from __future__ import annotations

__all__ = ["WRITTEN_AGAINST"]

# Distribution name (as ``importlib.metadata`` knows it) -> version, and what relies on it.
WRITTEN_AGAINST: dict[str, str] = {
    # pg8000_driver: pg8000.core's message helpers, the connection's socket and state.
    "pg8000": "1.31.6",
    # scramp_client: scramp.core's key derivation and message helpers.
    "scramp": "1.5.0",
    # sqlalchemy_dialect: the hooks DefaultDialect.initialize and PGDialect.initialize call.
    "sqlalchemy": "2.1.9",
    # fastapi_v1_check: FastAPI's import of pydantic.v1 to recognise v1 models...
    "fastapi": "0.165.0",
    # ...and the name of pydantic's v1 package.
    "pydantic": "2.14.4",
}
