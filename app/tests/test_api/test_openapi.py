"""The OpenAPI schema is accurate: every route lists its errors with the error model."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

EXPECTED_ERRORS = {
    ("post", "/extract-user"): {"400", "401", "413", "415", "422", "429", "500", "502", "503"},
    ("post", "/extract-user-async"): {
        "400",
        "401",
        "409",
        "413",
        "415",
        "422",
        "429",
        "500",
        "503",
    },
    ("post", "/jobs"): {"400", "401", "409", "413", "415", "422", "429", "500", "503"},
    ("post", "/jobs/batch"): {"400", "401", "409", "413", "415", "422", "429", "500", "503"},
    # 429: TENANT_RPM_LIMIT; 503: also `auth_not_configured` (no keys, not anonymous)
    ("get", "/jobs/{job_id}"): {"401", "404", "422", "429", "500", "503"},
    ("post", "/jobs/{job_id}/cancel"): {"401", "404", "409", "422", "429", "500", "503"},
    ("get", "/tasks"): {"401", "429", "500", "503"},
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


@pytest.mark.parametrize("path", ["/extract-user-async", "/jobs"])
def test_submissions_document_202_and_location(schema: dict[str, Any], path: str) -> None:
    accepted = schema["paths"][path]["post"]["responses"]["202"]

    assert {"Location", "Idempotent-Replayed"} <= set(accepted["headers"])
    assert accepted["content"]["application/json"]["schema"]["$ref"].endswith("/JobCreated")


@pytest.mark.parametrize("path", ["/extract-user-async", "/jobs", "/jobs/batch"])
def test_submissions_document_the_idempotency_key_header(schema: dict[str, Any], path: str) -> None:
    [header] = [p for p in schema["paths"][path]["post"]["parameters"] if p["in"] == "header"]

    assert header["name"] == "Idempotency-Key"
    assert header["required"] is False
    assert header["schema"] == {
        "type": "string",
        "minLength": 1,
        "maxLength": 255,
        "pattern": "^[ -~]+$",
        "title": "Idempotency-Key",
    }
    assert "invalid_idempotency_key" in header["description"]


@pytest.mark.parametrize("path", ["/extract-user-async", "/jobs"])
def test_submissions_document_the_callback_url(schema: dict[str, Any], path: str) -> None:
    ref = schema["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]
    model = schema["components"]["schemas"][ref["$ref"].rsplit("/", 1)[1]]

    assert "callback_url" in model["properties"]
    assert "callback_url" not in model.get("required", [])


def test_batch_documents_202_207_and_its_items(schema: dict[str, Any]) -> None:
    operation = schema["paths"]["/jobs/batch"]["post"]
    batch = schema["components"]["schemas"]["JobBatchCreate"]["properties"]["jobs"]

    for status in ("202", "207"):
        content = operation["responses"][status]["content"]["application/json"]["schema"]
        assert content == {"$ref": "#/components/schemas/JobBatchResult"}
    assert (batch["minItems"], batch["maxItems"]) == (1, 100)
    assert batch["items"]["title"] == "JobCreate"
    assert batch["items"]["required"] == ["task", "input"]


def test_cancel_answers_the_job(schema: dict[str, Any]) -> None:
    ok = schema["paths"]["/jobs/{job_id}/cancel"]["post"]["responses"]["200"]

    assert ok["content"]["application/json"]["schema"]["$ref"].endswith("/JobPublic")


def test_job_submission_documents_its_body_with_examples(schema: dict[str, Any]) -> None:
    body = schema["paths"]["/jobs"]["post"]["requestBody"]["content"]["application/json"]
    job_create = schema["components"]["schemas"]["JobCreate"]

    assert body["schema"]["$ref"].endswith("/JobCreate")
    assert job_create["required"] == ["task", "input"]
    assert job_create["additionalProperties"] is False
    assert {example["task"] for example in job_create["examples"]} == {"complete", "extract_user"}


def test_job_view_documents_model_usage_and_cost(schema: dict[str, Any]) -> None:
    job = schema["components"]["schemas"]["JobPublic"]["properties"]

    assert {"model", "usage", "cost_usd", "callback"} <= set(job)
    assert "cancelled" in job["status"]["enum"]


# The API key scheme is documented when keys are configured, and absent when the API is open
# (this schema): test_openapi_auth.py covers both modes.


def test_docs_page_is_served(offline_client: TestClient) -> None:
    response = offline_client.get("/docs")

    assert response.status_code == 200
    assert "swagger-ui" in response.text


@pytest.mark.parametrize("model", ["JobCreate", "ExtractUserAsyncRequest", "JobBatchCreate"])
def test_submissions_document_the_priority_lanes(schema: dict[str, Any], model: str) -> None:
    properties = schema["components"]["schemas"][model]["properties"]
    priority = properties["priority"]

    assert priority["enum"] == ["high", "normal", "low"]
    assert priority["default"] == "normal"
    assert priority["description"]
    assert "priority" not in schema["components"]["schemas"][model].get("required", [])


def test_batch_items_document_their_own_priority(schema: dict[str, Any]) -> None:
    items = schema["components"]["schemas"]["JobBatchCreate"]["properties"]["jobs"]["items"]

    assert items["properties"]["priority"]["enum"] == ["high", "normal", "low"]


def test_job_view_documents_priority_and_last_error(schema: dict[str, Any]) -> None:
    job = schema["components"]["schemas"]["JobPublic"]["properties"]

    assert job["priority"]["enum"] == ["high", "normal", "low"]
    assert "last_error" in job
    assert "tenant" not in job
