"""POST /jobs/{job_id}/cancel: a queued job becomes `cancelled` (conditional write) and its
webhook gets `job.cancelled`; any other status is 409, an unknown or expired job 404."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from uuid import uuid4

import pytest
from botocore.exceptions import ClientError
from fastapi.testclient import TestClient

from gen_ai_contracts.webhooks import CallbackEvent, webhook_id

HOOK = "https://hooks.example.com/jobs?token=s3cr3t"
JOB = {"task": "extract_user", "input": {"text": "Jason is 25 years old"}}


def put_job(stored: Any, status: str, **attributes: dict[str, Any]) -> str:
    """A job record as the worker would have left it."""
    job_id = str(uuid4())
    stored.dynamodb.put_item(
        TableName=stored.resources.table_name,
        Item={
            "job_id": {"S": job_id},
            "status": {"S": status},
            "task": {"S": "extract_user"},
            "created_at": {"S": "2026-11-23T14:45:00.000000Z"},
            "updated_at": {"S": "2026-11-23T14:45:01.000000Z"},
            "attempts": {"N": "0"},
            "expires_at": {"N": str(int(time.time()) + 3600)},
            **attributes,
        },
    )
    return job_id


def test_a_queued_job_is_cancelled_and_returned(client: TestClient, stored: Any) -> None:
    # GIVEN a job just queued
    job_id = client.post("/jobs", json=JOB).json()["job_id"]

    # WHEN its client cancels it
    response = client.post(f"/jobs/{job_id}/cancel")

    # THEN 200 with the job, now cancelled, as GET shows it from now on
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["job_id"] == job_id
    assert body["status"] == "cancelled"
    assert body["updated_at"] > body["created_at"]
    assert body["callback"] is None
    assert client.get(f"/jobs/{job_id}").json() == body
    assert stored.job(job_id)["status"] == "cancelled"


def test_cancelling_a_job_with_a_callback_queues_its_cancelled_event(
    client: TestClient, stored: Any, callbacks_queue_url: str
) -> None:
    job_id = client.post("/jobs", json={**JOB, "callback_url": HOOK}).json()["job_id"]

    response = client.post(f"/jobs/{job_id}/cancel")

    assert response.status_code == 200
    assert response.json()["callback"] == {
        "status": "pending",
        "attempts": 0,
        "last_status_code": None,
    }
    [event] = stored.messages(callbacks_queue_url)
    parsed = CallbackEvent.model_validate(event)
    assert (parsed.job_id, parsed.type) == (job_id, "job.cancelled")
    assert parsed.webhook_id == webhook_id(job_id, "job.cancelled")
    assert "s3cr3t" not in str(event)


def test_a_job_without_a_callback_queues_no_event(
    client: TestClient, stored: Any, callbacks_queue_url: str
) -> None:
    job_id = client.post("/jobs", json=JOB).json()["job_id"]

    client.post(f"/jobs/{job_id}/cancel")

    assert stored.message_count(callbacks_queue_url) == 0


def test_a_failed_event_send_keeps_the_cancel_and_logs_the_job(
    client: TestClient,
    stored: Any,
    callbacks_queue_url: str,
    patch_aws: Callable[..., None],
    captured_logs: Any,
) -> None:
    job_id = client.post("/jobs", json={**JOB, "callback_url": HOOK}).json()["job_id"]

    def refuse(real: Callable[..., Any], **kwargs: Any) -> Any:
        raise ClientError({"Error": {"Code": "ServiceUnavailable"}}, "SendMessage")

    patch_aws(sqs={"send_message": refuse})

    response = client.post(f"/jobs/{job_id}/cancel")

    assert response.status_code == 200
    assert stored.job(job_id)["status"] == "cancelled"
    [line] = captured_logs.with_message("could not queue the job.cancelled event")
    assert line["level"] == "ERROR"
    assert line["job_id"] == job_id
    assert "s3cr3t" not in captured_logs.text


def test_a_callback_with_webhooks_switched_off_since_is_logged(
    client: TestClient, stored: Any, captured_logs: Any
) -> None:
    # GIVEN a job stored with a callback by a deployment that has since lost its queue
    job_id = put_job(
        stored,
        "queued",
        callback_url={"S": HOOK},
        callback={"M": {"status": {"S": "pending"}, "attempts": {"N": "0"}}},
    )

    response = client.post(f"/jobs/{job_id}/cancel")

    assert response.status_code == 200
    [line] = captured_logs.with_message(
        "job has a callback but CALLBACKS_QUEUE_URL is not set; no event sent"
    )
    assert line["job_id"] == job_id


@pytest.mark.parametrize("status", ["running", "succeeded", "failed", "cancelled"])
def test_a_job_that_left_queued_is_409_with_its_status(
    client: TestClient, stored: Any, status: str
) -> None:
    job_id = put_job(stored, status)

    response = client.post(f"/jobs/{job_id}/cancel")

    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "job_not_cancellable"
    assert body["details"] == [
        {
            "field": "status",
            "location": "job",
            "message": f"Only a queued job can be cancelled; this one is {status}.",
            "type": status,
        }
    ]
    assert stored.job(job_id)["status"] == status


def test_cancelling_twice_is_409_cancelled(client: TestClient) -> None:
    job_id = client.post("/jobs", json=JOB).json()["job_id"]
    client.post(f"/jobs/{job_id}/cancel")

    response = client.post(f"/jobs/{job_id}/cancel")

    assert response.status_code == 409
    assert response.json()["details"][0]["type"] == "cancelled"


def test_an_unknown_job_is_404(client: TestClient, stored: Any) -> None:
    response = client.post(f"/jobs/{uuid4()}/cancel")

    assert response.status_code == 404
    assert response.json()["code"] == "job_not_found"
    assert stored.items() == []  # a failed conditional update creates nothing


def test_an_expired_job_is_404(client: TestClient, stored: Any) -> None:
    job_id = put_job(stored, "queued", expires_at={"N": str(int(time.time()) - 5)})

    response = client.post(f"/jobs/{job_id}/cancel")

    assert response.status_code == 404
    assert stored.job(job_id)["status"] == "queued"


def test_a_malformed_job_id_is_422_before_any_aws_call(
    client: TestClient, patch_aws: Callable[..., None]
) -> None:
    def forbidden(real: Callable[..., Any], **kwargs: Any) -> Any:
        raise AssertionError("DynamoDB must not be called")

    patch_aws(dynamodb={"update_item": forbidden})

    response = client.post("/jobs/not-a-uuid/cancel")

    assert response.status_code == 422
    assert response.json()["details"][0]["field"] == "job_id"


def test_an_unavailable_store_is_503(client: TestClient, patch_aws: Callable[..., None]) -> None:
    def fail(real: Callable[..., Any], **kwargs: Any) -> Any:
        raise ClientError({"Error": {"Code": "InternalServerError"}}, "UpdateItem")

    patch_aws(dynamodb={"update_item": fail})

    response = client.post(f"/jobs/{uuid4()}/cancel")

    assert response.status_code == 503
    assert response.json()["code"] == "store_unavailable"


def test_cancel_requires_the_api_key(client: TestClient, reconfigure: Callable[..., None]) -> None:
    reconfigure(API_KEYS="key-one-0123456789")

    assert client.post(f"/jobs/{uuid4()}/cancel").status_code == 401
    authorised = client.post(f"/jobs/{uuid4()}/cancel", headers={"X-API-Key": "key-one-0123456789"})
    assert authorised.status_code == 404
