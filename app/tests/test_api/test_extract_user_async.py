"""POST /extract-user-async: record, enqueue, answer 202; never an orphan job."""

from __future__ import annotations

import json
import re
from typing import Any

import boto3
from fastapi.testclient import TestClient

from devstack.resources import StackResources
from gen_ai_contracts.queue import JOB_ID_PATTERN
from gen_ai_contracts.tasks.extract_user import MAX_TEXT_CHARS

JASON = "Jason is 25 years old"


def table_items(table_name: str) -> list[dict[str, Any]]:
    return boto3.client("dynamodb", region_name="us-east-1").scan(TableName=table_name)["Items"]


def queued_bodies(queue_url: str) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs", region_name="us-east-1")
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(message["Body"]) for message in messages]


def test_returns_202_with_job_id_status_url_and_location(client: TestClient) -> None:
    response = client.post("/extract-user-async", json={"text": JASON})

    assert response.status_code == 202
    body = response.json()
    assert set(body) == {"job_id", "status", "status_url"}
    assert body["status"] == "queued"
    assert body["status_url"] == f"http://testserver/jobs/{body['job_id']}"
    assert response.headers["Location"] == body["status_url"]
    assert re.match(JOB_ID_PATTERN, body["job_id"])


def test_records_the_job_and_enqueues_the_contract_message(
    client: TestClient, api_env: StackResources
) -> None:
    response = client.post(
        "/extract-user-async", json={"text": JASON}, headers={"X-Request-ID": "req-42"}
    )

    job_id = response.json()["job_id"]
    [item] = table_items(api_env.table_name)
    [message] = queued_bodies(api_env.queue_url)
    assert item["job_id"]["S"] == job_id
    assert item["status"]["S"] == "queued"
    assert item["request_id"]["S"] == "req-42"
    assert int(item["expires_at"]["N"]) > 0
    assert set(message) == {
        "version",
        "job_id",
        "task",
        "payload",
        "submitted_at",
        "request_id",
        "model",
        "priority",
        "tenant",
        "dispatch",
    }
    assert message["model"] is None
    assert (message["priority"], message["tenant"], message["dispatch"]) == (
        "normal",
        "default",
        0,
    )
    assert message["job_id"] == job_id
    assert message["task"] == "extract_user"
    assert message["payload"] == {"text": JASON}
    assert message["request_id"] == "req-42"
    assert message["submitted_at"].endswith("Z")


def test_the_status_url_serves_the_queued_job(client: TestClient) -> None:
    status_url = client.post("/extract-user-async", json={"text": JASON}).json()["status_url"]

    response = client.get(status_url)

    assert response.status_code == 200
    assert response.json()["status"] == "queued"
    assert response.json()["task"] == "extract_user"


def test_worst_case_text_is_accepted_and_enqueued(
    client: TestClient, api_env: StackResources
) -> None:
    response = client.post("/extract-user-async", json={"text": "\x01" * MAX_TEXT_CHARS})

    assert response.status_code == 202
    [message] = queued_bodies(api_env.queue_url)
    assert len(message["payload"]["text"]) == MAX_TEXT_CHARS


def test_queue_failure_returns_503_and_leaves_no_job(
    client: TestClient, api_env: StackResources
) -> None:
    # GIVEN SQS refuses every message (the queue was deleted)
    boto3.client("sqs", region_name="us-east-1").delete_queue(QueueUrl=api_env.queue_url)

    # WHEN a job is submitted
    response = client.post("/extract-user-async", json={"text": JASON})

    # THEN the client gets 503 queue_unavailable and no queued job is left behind
    assert response.status_code == 503
    assert response.json()["code"] == "queue_unavailable"
    assert table_items(api_env.table_name) == []


def test_store_failure_returns_503_and_sends_no_message(
    client: TestClient, api_env: StackResources
) -> None:
    boto3.client("dynamodb", region_name="us-east-1").delete_table(TableName=api_env.table_name)

    response = client.post("/extract-user-async", json={"text": JASON})

    assert response.status_code == 503
    assert response.json()["code"] == "store_unavailable"
    assert queued_bodies(api_env.queue_url) == []


def test_validation_errors_name_the_fields(client: TestClient) -> None:
    response = client.post(
        "/extract-user-async", json={"text": "a" * (MAX_TEXT_CHARS + 1), "colour": "blue"}
    )

    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "validation_error"
    assert {
        (d["location"], d["field"], d["type"].endswith("too_long")) for d in body["details"]
    } == {
        ("body", "text", True),
        ("body", "colour", False),
    }


def test_validation_error_details_never_echo_the_input(client: TestClient) -> None:
    response = client.post("/extract-user-async", json={"text": "Jason\x00 secret-ish text"})

    assert response.status_code == 422
    assert "secret-ish" not in response.text
