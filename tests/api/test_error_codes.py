"""Stable error codes: every code a client can meet is documented, in the README and OpenAPI."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from functions import docs  # noqa: F401  (imports every route, so every error class exists)
from shared.api.app import create_app
from shared.api.routes.health import health
from shared.api.routes.tasks import ALL
from shared.core.errors import client_errors

README = Path(__file__).resolve().parents[2] / "README.md"
_ROW = re.compile(r"^\| (\d{3}) \| `([A-Z_]+)` \|", re.M)


def _openapi() -> dict[str, Any]:
    return create_app([health, *ALL], docs=True).openapi()


def test_the_readme_lists_exactly_the_codes_a_client_can_receive() -> None:
    # GIVEN the error classes and the README's table
    defined = {(str(kind.status_code), kind.code) for kind in client_errors()}
    # WHEN the table's rows are read
    listed = set(_ROW.findall(README.read_text(encoding="utf-8")))
    # THEN each code is listed once, under its status, and nothing else is
    assert listed == defined


def test_codes_are_unique_upper_snake_case() -> None:
    codes = [kind.code for kind in client_errors()]
    assert len(codes) == len(set(codes))
    assert all(re.fullmatch(r"[A-Z]+(_[A-Z]+)*", code) for code in codes)


def test_every_operation_documents_its_error_codes_and_body() -> None:
    # GIVEN the whole API's OpenAPI document
    document = _openapi()
    ref = "#/components/schemas/ErrorBody"
    # WHEN each operation's error responses are read
    for path, item in document["paths"].items():
        for method, operation in item.items():
            errors = {s: r for s, r in operation["responses"].items() if s >= "400"}
            # THEN each names its codes and uses the one error body
            assert errors, (path, method)
            for status, response in errors.items():
                assert re.search(r"`[A-Z_]+`", response["description"]), (path, method, status)
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": ref}, (path, method, status)
    body = document["components"]["schemas"]["ErrorBody"]
    assert set(body["required"]) == {"detail", "code", "message"}
    assert body["properties"]["message"]["type"] == "string"
    assert "person" in body["properties"]["message"]["description"]


def test_task_routes_document_auth_and_availability_codes() -> None:
    # GIVEN a task operation that takes a body and addresses one task
    operation = _openapi()["paths"]["/api/{user_id}/tasks/{task_id}"]["put"]
    described = " ".join(r["description"] for r in operation["responses"].values())
    # THEN the codes a frontend branches on are all there
    for code in ("MISSING_TOKEN", "TOKEN_EXPIRED", "FORBIDDEN", "TASK_NOT_FOUND"):
        assert f"`{code}`" in described
    for code in ("VALIDATION_FAILED", "UNSUPPORTED_MEDIA_TYPE", "DATABASE_UNAVAILABLE"):
        assert f"`{code}`" in described
    assert "Retry-After" in operation["responses"]["503"]["headers"]
