"""Every error is `{error, code, request_id, details}` with the right status."""

from __future__ import annotations

import json
from uuid import uuid4

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from gen_ai_contracts.tasks.extract_user import MAX_TEXT_CHARS
from gen_ai_on_aws.api.deps import get_jobs_repository
from gen_ai_on_aws.api.middleware import MAX_BODY_BYTES

JSON = {"Content-Type": "application/json"}


class BrokenRepository:
    """A repository with a bug: raises something no handler expects."""

    def get_job(self, *, job_id: str, now: object) -> None:
        raise RuntimeError("boom: internal detail that must stay private")


def assert_error_body(response: object, status: int, code: str) -> None:
    assert response.status_code == status  # type: ignore[attr-defined]
    body = response.json()  # type: ignore[attr-defined]
    assert set(body) == {"error", "code", "request_id", "details"}
    assert body["code"] == code
    assert body["error"]
    assert body["request_id"] == response.headers["X-Request-ID"]  # type: ignore[attr-defined]
    assert response.headers["Content-Type"] == "application/json"  # type: ignore[attr-defined]


def test_unknown_route_returns_404_not_found(offline_client: TestClient) -> None:
    assert_error_body(offline_client.get("/no-such-thing"), 404, "not_found")


def test_wrong_method_returns_405_with_allow(offline_client: TestClient) -> None:
    response = offline_client.delete("/extract-user")

    assert_error_body(response, 405, "method_not_allowed")
    assert response.headers["Allow"] == "POST"


def test_malformed_json_returns_400_invalid_json(offline_client: TestClient) -> None:
    response = offline_client.post("/extract-user", content=b'{"text": "Jason', headers=JSON)

    assert_error_body(response, 400, "invalid_json")


@pytest.mark.parametrize(
    "content_type", [None, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data"]
)
@pytest.mark.parametrize("path", ["/extract-user", "/extract-user-async", "/jobs"])
def test_non_json_content_type_returns_415(
    offline_client: TestClient, path: str, content_type: str | None
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}

    response = offline_client.post(path, content=b'{"text": "Jason is 25"}', headers=headers)

    assert_error_body(response, 415, "unsupported_media_type")


def test_json_content_type_with_charset_or_suffix_is_accepted(client: TestClient) -> None:
    for content_type in ("application/json; charset=utf-8", "application/vnd.api+json"):
        response = client.post(
            "/extract-user-async",
            content=b'{"text": "Jason is 25"}',
            headers={"Content-Type": content_type},
        )

        assert response.status_code == 202, content_type


def test_declared_oversized_body_returns_413(offline_client: TestClient) -> None:
    response = offline_client.post(
        "/extract-user", content=b"x" * (MAX_BODY_BYTES + 1), headers=JSON
    )

    assert_error_body(response, 413, "payload_too_large")


def test_streamed_oversized_body_returns_413(offline_client: TestClient) -> None:
    # A chunked body has no Content-Length: the limit applies while it streams.
    chunks = iter([b'{"text": "', b"x" * MAX_BODY_BYTES, b'"}'])

    response = offline_client.post("/extract-user", content=chunks, headers=JSON)

    assert_error_body(response, 413, "payload_too_large")


def test_body_at_the_limit_reaches_validation(offline_client: TestClient) -> None:
    body = b'{"text": "' + b"x" * (MAX_BODY_BYTES - 12) + b'"}'

    response = offline_client.post("/extract-user", content=body, headers=JSON)

    assert len(body) == MAX_BODY_BYTES
    assert_error_body(response, 422, "validation_error")


def test_largest_valid_request_fits_under_the_body_limit(client: TestClient) -> None:
    # Each emoji is one character but 12 bytes as a JSON escape: the worst case per character.
    body = json.dumps({"text": "\U0001f600" * MAX_TEXT_CHARS}, ensure_ascii=True).encode()

    response = client.post("/extract-user-async", content=body, headers=JSON)

    assert len(body) <= MAX_BODY_BYTES
    assert response.status_code == 202


def test_unexpected_error_returns_500_without_internals(
    offline_app: FastAPI, offline_client: TestClient
) -> None:
    offline_app.dependency_overrides[get_jobs_repository] = BrokenRepository

    response = offline_client.get(f"/jobs/{uuid4()}")

    assert_error_body(response, 500, "internal_error")
    assert "boom" not in response.text
    assert "Traceback" not in response.text


def test_missing_body_returns_422_naming_the_body(offline_client: TestClient) -> None:
    response = offline_client.post("/extract-user", headers=JSON)

    assert_error_body(response, 422, "validation_error")
    assert response.json()["details"][0]["location"] == "body"
