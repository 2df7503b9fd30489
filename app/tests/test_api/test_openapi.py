"""The OpenAPI schema is accurate: every route lists its errors with the error model."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

EXPECTED_ERRORS = {
    ("post", "/extract-user"): {"400", "401", "413", "415", "422", "429", "500", "502", "503"},
    ("post", "/extract-user-async"): {"400", "401", "413", "415", "422", "500", "503"},
    ("get", "/jobs/{job_id}"): {"401", "404", "422", "500", "503"},
}


@pytest.fixture
def schema(offline_client: TestClient) -> dict[str, Any]:
    response = offline_client.get("/openapi.json")
    assert response.status_code == 200
    return dict(response.json())


@pytest.mark.parametrize(("method", "path"), sorted(EXPECTED_ERRORS))
def test_routes_declare_their_error_responses_with_the_error_body(
    schema: dict[str, Any], method: str, path: str
) -> None:
    responses = schema["paths"][path][method]["responses"]

    errors = {status for status in responses if status >= "400"}
    assert errors == EXPECTED_ERRORS[(method, path)]
    for status in errors:
        content = responses[status]["content"]["application/json"]["schema"]
        assert content == {"$ref": "#/components/schemas/ErrorBody"}, status


def test_fastapis_default_validation_schema_is_not_advertised(schema: dict[str, Any]) -> None:
    assert "HTTPValidationError" not in schema["components"]["schemas"]


def test_submission_documents_202_and_location(schema: dict[str, Any]) -> None:
    accepted = schema["paths"]["/extract-user-async"]["post"]["responses"]["202"]

    assert "Location" in accepted["headers"]
    assert accepted["content"]["application/json"]["schema"]["$ref"].endswith("/JobCreated")


def test_api_key_scheme_is_documented(schema: dict[str, Any]) -> None:
    scheme = schema["components"]["securitySchemes"]["APIKeyHeader"]

    assert (scheme["type"], scheme["in"], scheme["name"]) == ("apiKey", "header", "X-API-Key")
    assert "security" not in schema["paths"]["/health"]["get"]


def test_docs_page_is_served(offline_client: TestClient) -> None:
    response = offline_client.get("/docs")

    assert response.status_code == 200
    assert "swagger-ui" in response.text
