"""GET /openapi.json and GET /docs: the whole API's document and a docs page, without auth."""

from __future__ import annotations

from typing import Any

import pytest

from functions import docs, list_tasks
from tests.support.client import Client
from tests.support.events import HTTP_API, REST_API
from tests.support.routes import api_routes, task_routes


def _deployed_operations() -> dict[str, set[str]]:
    """What serverless.yml routes to the API's functions, as OpenAPI paths and methods."""
    operations: dict[str, set[str]] = {}
    for route in api_routes():
        operations.setdefault(route.template, set()).add(route.method.lower())
    return operations


@pytest.fixture
def document(client: Client) -> dict[str, Any]:
    """The OpenAPI document as the docs function serves it."""
    reply = client(docs.handler, "GET", "/openapi.json")
    assert reply.status == 200
    assert reply.headers["content-type"] == "application/json"
    body: dict[str, Any] = reply.json()
    return body


def test_the_document_describes_every_route_of_the_api(document: dict[str, Any]) -> None:
    # GIVEN / WHEN the OpenAPI document is fetched without a token
    # THEN it is OpenAPI 3 and lists exactly the routes and methods that are deployed
    assert document["openapi"].startswith("3.")
    assert document["info"]["title"] == "Todo tasks API"
    operations = {path: set(item) for path, item in document["paths"].items()}
    assert operations == _deployed_operations()
    assert "/api/{user_id}/tasks/{task_id}/complete" in operations


def test_task_operations_declare_bearer_auth_and_their_errors(document: dict[str, Any]) -> None:
    # GIVEN the document
    schemes = document["components"]["securitySchemes"]
    [(name, scheme)] = schemes.items()
    # WHEN each task operation is inspected
    task_operations = [
        (path, method, operation)
        for path, item in document["paths"].items()
        if path.startswith("/api/")
        for method, operation in item.items()
    ]
    # THEN the bearer JWT scheme is declared and every task operation requires it
    assert (scheme["type"], scheme["scheme"], scheme["bearerFormat"]) == ("http", "bearer", "JWT")
    assert len(task_operations) == len(task_routes())
    for path, method, operation in task_operations:
        assert operation["security"] == [{name: []}], (path, method)
        assert {"401", "403", "422"} <= set(operation["responses"]), (path, method)
        if "{task_id}" in path:
            assert "404" in operation["responses"], (path, method)
    # AND the health check requires nothing
    assert "security" not in document["paths"]["/health"]["get"]
    assert "503" in document["paths"]["/health"]["get"]["responses"]


def test_the_task_schema_is_the_contracts(document: dict[str, Any]) -> None:
    # GIVEN the document's schemas
    schemas = document["components"]["schemas"]
    # WHEN the task and its bodies are read
    public = schemas["TaskPublic"]
    create = schemas["TaskCreate"]
    # THEN the task has the contract's fields and the create body its limits
    assert set(public["properties"]) == {
        "id",
        "user_id",
        "title",
        "description",
        "completed",
        "created_at",
        "updated_at",
    }
    assert public["properties"]["created_at"]["format"] == "date-time"
    assert create["required"] == ["title"]
    assert (
        create["properties"]["title"]["minLength"],
        create["properties"]["title"]["maxLength"],
    ) == (1, 255)


def test_the_list_parameters_are_documented(document: dict[str, Any]) -> None:
    # GIVEN the list operation
    operation = document["paths"]["/api/{user_id}/tasks"]["get"]
    # WHEN its query parameters are read
    params = {p["name"]: p["schema"] for p in operation["parameters"] if p["in"] == "query"}
    # THEN they are the contract's, with their values and bounds
    assert set(params) == {"status", "sort", "order", "limit", "offset"}
    assert set(params["status"]["enum"]) == {"all", "pending", "completed"}
    assert set(params["sort"]["enum"]) == {"created_at", "updated_at", "title"}
    assert set(params["order"]["enum"]) == {"asc", "desc"}
    assert (params["limit"]["minimum"], params["limit"]["maximum"]) == (1, 100)
    assert (params["offset"]["minimum"], params["offset"]["maximum"]) == (0, 2**31 - 1)
    assert "authorization" not in {p["name"].lower() for p in operation["parameters"]}


def test_the_task_id_is_documented_as_a_positive_32_bit_integer(document: dict[str, Any]) -> None:
    # GIVEN an item operation
    operation = document["paths"]["/api/{user_id}/tasks/{task_id}"]["get"]
    # WHEN its task_id parameter is read
    [schema] = [p["schema"] for p in operation["parameters"] if p["name"] == "task_id"]
    # THEN it is an integer within PostgreSQL's integer range
    assert (schema["type"], schema["minimum"], schema["maximum"]) == ("integer", 1, 2**31 - 1)


@pytest.mark.parametrize("version", [HTTP_API, REST_API])
def test_the_docs_page_is_html_that_loads_the_document(client: Client, version: str) -> None:
    # GIVEN / WHEN the docs page is fetched without a token
    reply = client(docs.handler, "GET", "/docs", version=version)
    # THEN it is an HTML page pointing at /openapi.json
    assert reply.status == 200
    assert reply.headers["content-type"].startswith("text/html")
    assert "<html" in reply.text.lower() and "/openapi.json" in reply.text


def test_task_functions_do_not_serve_the_document(client: Client) -> None:
    # GIVEN a task function
    # WHEN /openapi.json is asked of it
    reply = client(list_tasks.handler, "GET", "/openapi.json")
    # THEN only the docs function serves it
    assert reply.status == 404
