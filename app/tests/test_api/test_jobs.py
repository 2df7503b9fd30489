"""GET /jobs/{job_id}: status, result or error; 404 when unknown or expired."""

from __future__ import annotations

import json
import time
from typing import Any
from uuid import uuid4

import boto3
import pytest
from fastapi.testclient import TestClient

from devstack.resources import StackResources
from gen_ai_on_aws.api.deps import get_dynamodb_client


def put_job(table_name: str, job_id: str, status: str, **extra: dict[str, Any]) -> None:
    item = {
        "job_id": {"S": job_id},
        "status": {"S": status},
        "task": {"S": "extract_user"},
        "created_at": {"S": "2026-11-23T14:45:00.123456Z"},
        "updated_at": {"S": "2026-11-23T14:45:02.5Z"},
        "attempts": {"N": "1"},
        "expires_at": {"N": str(int(time.time()) + 3600)},
        "lease_owner": {"S": "worker-attempt-1"},
        **extra,
    }
    boto3.client("dynamodb", region_name="us-east-1").put_item(TableName=table_name, Item=item)


class ExplodingDynamoDB:
    """Stands in for the client when a test must prove DynamoDB is never called."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"DynamoDB must not be called ({name})")


def test_running_job_shows_status_without_result(
    client: TestClient, api_env: StackResources
) -> None:
    job_id = str(uuid4())
    put_job(api_env.table_name, job_id, "running")

    response = client.get(f"/jobs/{job_id}")

    assert response.status_code == 200
    assert response.json() == {
        "job_id": job_id,
        "status": "running",
        "task": "extract_user",
        "created_at": "2026-11-23T14:45:00.123456Z",
        "updated_at": "2026-11-23T14:45:02.500000Z",
        "attempts": 1,
        "priority": "normal",
        "last_error": None,
        "result": None,
        "error": None,
        "model": None,
        "usage": None,
        "cost_usd": None,
        "callback": None,
    }


def test_succeeded_job_returns_the_parsed_result(
    client: TestClient, api_env: StackResources
) -> None:
    job_id = str(uuid4())
    result = {"name": "Jason", "age": 25, "email": None}
    put_job(api_env.table_name, job_id, "succeeded", result={"S": json.dumps(result)})

    body = client.get(f"/jobs/{job_id}").json()

    assert (body["status"], body["result"], body["error"]) == ("succeeded", result, None)


def test_failed_job_returns_the_error(client: TestClient, api_env: StackResources) -> None:
    job_id = str(uuid4())
    error = {"M": {"code": {"S": "extraction_failed"}, "message": {"S": "no valid person"}}}
    put_job(api_env.table_name, job_id, "failed", error=error)

    body = client.get(f"/jobs/{job_id}").json()

    assert body["status"] == "failed"
    assert body["error"] == {"code": "extraction_failed", "message": "no valid person"}


def test_finished_job_shows_the_model_usage_and_cost_the_worker_recorded(
    client: TestClient, api_env: StackResources
) -> None:
    # GIVEN a job the worker finished, recording which model answered and what it used
    job_id = str(uuid4())
    put_job(
        api_env.table_name,
        job_id,
        "succeeded",
        task={"S": "complete"},
        result={"S": json.dumps({"text": "Queues wait", "finish_reason": "stop"})},
        model={"S": "openai/gpt-4o-mini"},
        prompt_tokens={"N": "120"},
        completion_tokens={"N": "35"},
        cost_usd={"N": "0.0000390"},
    )

    body = client.get(f"/jobs/{job_id}").json()

    assert body["task"] == "complete"
    assert body["result"] == {"text": "Queues wait", "finish_reason": "stop"}
    assert body["model"] == "openai/gpt-4o-mini"
    assert body["usage"] == {"prompt_tokens": 120, "completion_tokens": 35}
    assert body["cost_usd"] == pytest.approx(0.000039)
    assert isinstance(body["cost_usd"], float)


def test_unpriced_model_has_usage_but_null_cost(
    client: TestClient, api_env: StackResources
) -> None:
    job_id = str(uuid4())
    put_job(
        api_env.table_name,
        job_id,
        "succeeded",
        model={"S": "openai/self-hosted"},
        prompt_tokens={"N": "10"},
        completion_tokens={"N": "0"},
    )

    body = client.get(f"/jobs/{job_id}").json()

    assert (body["model"], body["cost_usd"]) == ("openai/self-hosted", None)
    assert body["usage"] == {"prompt_tokens": 10, "completion_tokens": 0}


def test_cancelled_job_is_shown_as_cancelled(client: TestClient, api_env: StackResources) -> None:
    job_id = str(uuid4())
    put_job(api_env.table_name, job_id, "cancelled")

    assert client.get(f"/jobs/{job_id}").json()["status"] == "cancelled"


def test_internal_attributes_stay_private(client: TestClient, api_env: StackResources) -> None:
    # GIVEN a job released after a retryable error, with the worker's bookkeeping on it
    job_id = str(uuid4())
    last_error = {"M": {"code": {"S": "llm_unavailable"}, "message": {"S": "HTTP 503"}}}
    put_job(
        api_env.table_name,
        job_id,
        "queued",
        last_error=last_error,
        lease_expires_at={"N": "1"},
        request_id={"S": "req-1"},
        tenant={"S": "default"},
        dispatch={"N": "2"},
        priority={"S": "low"},
    )

    body = client.get(f"/jobs/{job_id}").json()

    # THEN the public view has its fixed fields only (the tenant, lease, request id and
    # dispatch counter are the worker's and the API's bookkeeping)
    assert set(body) == {
        "job_id",
        "status",
        "task",
        "created_at",
        "updated_at",
        "attempts",
        "priority",
        "last_error",
        "result",
        "error",
        "model",
        "usage",
        "cost_usd",
        "callback",
    }
    assert "key-0123456789abcdef" not in json.dumps(body)
    assert body["priority"] == "low"


def test_a_queued_job_shows_why_its_last_attempt_did_not_finish(
    client: TestClient, api_env: StackResources
) -> None:
    # GIVEN a job deferred while its provider was down
    job_id = str(uuid4())
    last_error = {"M": {"code": {"S": "provider_unavailable"}, "message": {"S": "circuit open"}}}
    put_job(api_env.table_name, job_id, "queued", last_error=last_error, attempts={"N": "0"})

    body = client.get(f"/jobs/{job_id}").json()

    assert (body["status"], body["attempts"]) == ("queued", 0)
    assert body["last_error"] == {"code": "provider_unavailable", "message": "circuit open"}


def test_a_final_job_hides_its_last_error(client: TestClient, api_env: StackResources) -> None:
    job_id = str(uuid4())
    last_error = {"M": {"code": {"S": "provider_unavailable"}, "message": {"S": "HTTP 503"}}}
    result = {"S": json.dumps({"name": "Jason", "age": 25, "email": None})}
    put_job(api_env.table_name, job_id, "succeeded", last_error=last_error, result=result)

    assert client.get(f"/jobs/{job_id}").json()["last_error"] is None


def test_unknown_job_returns_404_job_not_found(client: TestClient) -> None:
    response = client.get(f"/jobs/{uuid4()}")

    assert response.status_code == 404
    assert response.json()["code"] == "job_not_found"


def test_expired_job_returns_404_although_dynamodb_still_has_it(
    client: TestClient, api_env: StackResources
) -> None:
    job_id = str(uuid4())
    put_job(api_env.table_name, job_id, "succeeded", expires_at={"N": str(int(time.time()) - 1)})

    response = client.get(f"/jobs/{job_id}")

    assert response.status_code == 404
    assert response.json()["code"] == "job_not_found"


@pytest.mark.parametrize(
    "job_id",
    [
        "not-a-uuid",
        "0B6E7C1E-2F7A-4C1E-9A55-3F0E2D9F5B10",
        "0b6e7c1e2f7a4c1e9a553f0e2d9f5b10",
        "0b6e7c1e-2f7a-4c1e-9a55-3f0e2d9f5b10-extra",
        "%00",
    ],
)
def test_malformed_job_id_returns_422_without_calling_dynamodb(
    client: TestClient, job_id: str
) -> None:
    client.app.dependency_overrides[get_dynamodb_client] = ExplodingDynamoDB  # type: ignore[attr-defined]

    response = client.get(f"/jobs/{job_id}")

    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "validation_error"
    assert [(d["location"], d["field"]) for d in body["details"]] == [("path", "job_id")]


def test_store_failure_returns_503_store_unavailable(
    client: TestClient, api_env: StackResources
) -> None:
    boto3.client("dynamodb", region_name="us-east-1").delete_table(TableName=api_env.table_name)

    response = client.get(f"/jobs/{uuid4()}")

    assert response.status_code == 503
    assert response.json()["code"] == "store_unavailable"
