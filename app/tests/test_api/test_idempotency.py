"""Idempotency-Key on the submission routes (Stripe's semantics, on Powertools' utility):
a retry replays the first answer and creates nothing; another body with the key is 409."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi.testclient import TestClient

from gen_ai_on_aws.api.idempotency import LEASE_MS_OUTSIDE_LAMBDA

JOB = {"task": "extract_user", "input": {"text": "Jason is 25 years old"}}
BATCH = {"jobs": [JOB, {"task": "complete", "input": {"prompt": "Write a haiku."}}]}
SUBMISSIONS = [
    ("/jobs", JOB),
    ("/extract-user-async", {"text": "Jason is 25 years old"}),
    ("/jobs/batch", BATCH),
]
ROUTE_IDS = ["jobs", "extract-user-async", "batch"]


def keyed(key: str, **headers: str) -> dict[str, str]:
    return {"Idempotency-Key": key, **headers}


# --- replay ------------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "body"), SUBMISSIONS, ids=ROUTE_IDS)
def test_a_retry_replays_the_first_response_and_creates_nothing(
    client: TestClient, stored: Any, path: str, body: dict[str, Any]
) -> None:
    # GIVEN a submission answered under a key
    first = client.post(path, json=body, headers=keyed("order-1"))
    assert first.status_code == 202, first.text
    jobs, messages = len(stored.jobs()), stored.message_count()

    # WHEN the client retries it with the same key and body
    retry = client.post(path, json=body, headers=keyed("order-1"))

    # THEN the same status, bytes and headers, marked as a replay; no new job or message
    assert retry.status_code == first.status_code
    assert retry.content == first.content
    assert retry.headers.get("Location") == first.headers.get("Location")
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert (len(stored.jobs()), stored.message_count()) == (jobs, messages)
    assert len(stored.idempotency_records()) == 1


def test_the_body_is_compared_as_parsed_json(client: TestClient, stored: Any) -> None:
    first = client.post("/jobs", json=JOB, headers=keyed("k"))
    # Same parameters: other key order, other spacing, an omitted default written out.
    retry = client.post(
        "/jobs",
        content=b'{ "input": {"text": "Jason is 25 years old"},'
        b' "model": null,  "task": "extract_user"}',
        headers=keyed("k", **{"Content-Type": "application/json"}),
    )
    assert retry.json() == first.json()
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert len(stored.jobs()) == 1


def test_without_a_key_every_request_is_a_new_job(client: TestClient, stored: Any) -> None:
    ids = {client.post("/jobs", json=JOB).json()["job_id"] for _ in range(2)}
    assert len(ids) == 2
    assert stored.idempotency_records() == []


def test_different_keys_are_different_jobs(client: TestClient, stored: Any) -> None:
    ids = {client.post("/jobs", json=JOB, headers=keyed(k)).json()["job_id"] for k in "ab"}
    assert len(ids) == 2


# --- conflicts -----------------------------------------------------------------------------


def test_the_same_key_with_another_body_is_409_reused(client: TestClient, stored: Any) -> None:
    client.post("/jobs", json=JOB, headers=keyed("k"))
    other = {"task": "extract_user", "input": {"text": "Mary is 31"}}

    response = client.post("/jobs", json=other, headers=keyed("k"))

    assert response.status_code == 409
    assert response.json()["code"] == "idempotency_key_reused"
    assert len(stored.jobs()) == 1
    assert stored.message_count() == 1


def test_the_same_key_on_another_route_is_409_reused(client: TestClient) -> None:
    client.post("/extract-user-async", json={"text": "Jason is 25"}, headers=keyed("k"))

    response = client.post("/jobs/batch", json=BATCH, headers=keyed("k"))

    assert response.status_code == 409
    assert response.json()["code"] == "idempotency_key_reused"


def test_a_key_still_in_progress_is_409_with_retry_after(
    client: TestClient, stored: Any, patch_aws: Callable[..., None]
) -> None:
    # GIVEN a first request that is still sending its message
    sending, release = threading.Event(), threading.Event()

    def slow_send(real: Callable[..., Any], **kwargs: Any) -> Any:
        sending.set()
        release.wait(5)
        return real(**kwargs)

    patch_aws(sqs={"send_message": slow_send})
    with ThreadPoolExecutor(1) as pool:
        first = pool.submit(client.post, "/jobs", json=JOB, headers=keyed("k"))
        assert sending.wait(5)

        # WHEN a retry with the same key arrives meanwhile
        retry = client.post("/jobs", json=JOB, headers=keyed("k"))
        release.set()

        # THEN it is told to come back, and the first one completes alone
        assert retry.status_code == 409
        assert retry.json()["code"] == "idempotency_key_in_progress"
        assert retry.headers["Retry-After"] == "1"
        assert first.result().status_code == 202
    assert client.post("/jobs", json=JOB, headers=keyed("k")).json() == first.result().json()
    assert len(stored.jobs()) == 1


def test_twenty_concurrent_requests_with_one_key_create_one_job(
    client: TestClient, stored: Any
) -> None:
    barrier = threading.Barrier(20)

    def submit(_: int) -> Any:
        barrier.wait()
        return client.post("/jobs", json=JOB, headers=keyed("burst"))

    with ThreadPoolExecutor(20) as pool:
        responses = list(pool.map(submit, range(20)))

    accepted = [r for r in responses if r.status_code == 202]
    waiting = [r for r in responses if r.status_code == 409]
    assert len(accepted) + len(waiting) == 20
    assert {r.json()["job_id"] for r in accepted} == {stored.jobs()[0]["job_id"]}
    assert all(r.json()["code"] == "idempotency_key_in_progress" for r in waiting)
    assert all(r.headers["Retry-After"] == "1" for r in waiting)
    assert len(stored.jobs()) == 1
    assert stored.message_count() == 1


# --- what is stored, and what is not ------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "headers", "status"),
    [
        ({"task": "extract_user", "input": {"text": " "}}, {}, 422),
        ({"task": "summarise", "input": {}}, {}, 422),
        ({"task": "extract_user", "input": {"text": "x"}, "callback_url": "https://a.b"}, {}, 422),
        (None, {"Content-Type": "application/json"}, 400),
        (JOB, {"Content-Type": "text/plain"}, 415),
    ],
    ids=["invalid-input", "unknown-task", "callbacks-off", "bad-json", "not-json"],
)
def test_a_request_refused_by_validation_stores_nothing(
    client: TestClient,
    stored: Any,
    body: dict[str, Any] | None,
    headers: dict[str, str],
    status: int,
) -> None:
    content = b"{not json" if body is None else None
    response = client.post(
        "/jobs",
        json=body if content is None else None,
        content=content,
        headers=keyed("k", **headers),
    )

    assert response.status_code == status
    assert stored.items() == []
    # AND the key is still free for a corrected request
    assert client.post("/jobs", json=JOB, headers=keyed("k")).status_code == 202


def test_a_body_over_the_limit_stores_nothing(client: TestClient, stored: Any) -> None:
    response = client.post(
        "/jobs",
        content=b"x" * (400 * 1024),
        headers=keyed("k", **{"Content-Type": "application/json"}),
    )
    assert response.status_code == 413
    assert stored.items() == []


def test_a_batch_with_no_valid_item_stores_nothing(client: TestClient, stored: Any) -> None:
    response = client.post(
        "/jobs/batch", json={"jobs": [{"task": "nope", "input": {}}]}, headers=keyed("k")
    )
    assert response.status_code == 207
    assert stored.items() == []


def test_a_503_is_not_saved_so_the_retry_runs(
    app: Any, client: TestClient, stored: Any, patch_aws: Callable[..., None]
) -> None:
    # GIVEN a first attempt that SQS refused (503: no job was created; its record is ended, so
    # the message never runs even if SQS took it)
    def refuse(real: Callable[..., Any], **kwargs: Any) -> Any:
        raise _client_error("ServiceUnavailable")

    patch_aws(sqs={"send_message": refuse})
    assert client.post("/jobs", json=JOB, headers=keyed("k")).status_code == 503
    assert [job["status"] for job in stored.items()] == ["failed"]

    # WHEN the client retries with the same key once SQS is back
    app.dependency_overrides.clear()
    retry = client.post("/jobs", json=JOB, headers=keyed("k"))

    # THEN the retry runs: a fresh 202, not a replayed 503
    assert retry.status_code == 202
    assert "Idempotent-Replayed" not in retry.headers
    assert sorted(job["status"] for job in stored.jobs()) == ["failed", "queued"]


def test_the_record_is_namespaced_hashed_and_expires_with_the_ttl(
    client: TestClient, stored: Any, reconfigure: Callable[..., None]
) -> None:
    reconfigure(IDEMPOTENCY_TTL_SECONDS="3600")
    before = time.time()
    client.post("/jobs", json=JOB, headers=keyed("secret-looking-key"))

    [record] = stored.idempotency_records()
    assert record["job_id"].startswith("idempotency#default#")
    assert "secret-looking-key" not in str(record)
    assert before + 3600 - 1 <= record["expires_at"] <= time.time() + 3600 + 1
    # Its attributes cannot be mistaken for a job's.
    assert set(record) == {
        "job_id",
        "expires_at",
        "idempotency_status",
        "idempotency_response",
        "idempotency_request_hash",
        "idempotency_lease_expires_ms",
    }
    assert record["idempotency_status"] == "COMPLETED"
    assert (
        int(record["idempotency_lease_expires_ms"])
        <= (time.time() * 1000) + LEASE_MS_OUTSIDE_LAMBDA
    )


def test_an_expired_key_runs_again(client: TestClient, stored: Any) -> None:
    first = client.post("/jobs", json=JOB, headers=keyed("k")).json()
    [record] = stored.idempotency_records()
    # GIVEN the record is past its expiry (DynamoDB's TTL deletes it up to 48 h late)
    stored.dynamodb.update_item(
        TableName=stored.resources.table_name,
        Key={"job_id": {"S": record["job_id"]}},
        UpdateExpression="SET expires_at = :past",
        ExpressionAttributeValues={":past": {"N": str(int(time.time()) - 10)}},
    )

    again = client.post("/jobs", json=JOB, headers=keyed("k"))

    assert again.status_code == 202
    assert again.json()["job_id"] != first["job_id"]


def test_keys_are_scoped_per_tenant_not_per_api_key(
    client: TestClient, stored: Any, reconfigure: Callable[..., None]
) -> None:
    # GIVEN tenant acme with two keys (a rotation) and tenant beta
    tenants = {"acme": ["key-one-0123456789", "key-two-0123456789"], "beta": ["key-3-0123456789"]}
    reconfigure(API_KEYS=json.dumps(tenants))

    def submit(api_key: str) -> Any:
        return client.post("/jobs", json=JOB, headers=keyed("k", **{"X-API-Key": api_key}))

    one, two, three = (submit(key) for key in (*tenants["acme"], *tenants["beta"]))

    # THEN acme's keys share the Idempotency-Key's record; beta has its own
    assert one.json()["job_id"] == two.json()["job_id"]
    assert three.json()["job_id"] != one.json()["job_id"]
    scopes = {record["job_id"].split("#")[1] for record in stored.idempotency_records()}
    assert scopes == {"acme", "beta"}


def test_an_unauthenticated_request_is_401_before_any_key_check(
    client: TestClient, stored: Any, reconfigure: Callable[..., None]
) -> None:
    reconfigure(API_KEYS="key-one-0123456789")
    response = client.post("/jobs", json=JOB, headers={"Idempotency-Key": "x" * 256})
    assert response.status_code == 401
    assert stored.items() == []


@pytest.mark.parametrize(
    "key",
    ["", "x" * 256, "caf\u00e9".encode(), "tab\there"],
    ids=["empty", "too-long", "non-ascii", "control"],
)
@pytest.mark.parametrize(("path", "body"), SUBMISSIONS, ids=ROUTE_IDS)
def test_an_invalid_key_is_400_and_stores_nothing(
    client: TestClient, stored: Any, key: str | bytes, path: str, body: dict[str, Any]
) -> None:
    response = client.post(path, json=body, headers={"Idempotency-Key": key})

    assert response.status_code == 400, response.text
    assert response.json()["code"] == "invalid_idempotency_key"
    assert response.json()["details"][0]["location"] == "header"
    assert stored.items() == []


def test_the_longest_key_is_accepted(client: TestClient) -> None:
    assert client.post("/jobs", json=JOB, headers=keyed("k" * 255)).status_code == 202


def test_a_failure_to_save_the_response_still_answers_202(
    client: TestClient, stored: Any, patch_aws: Callable[..., None], captured_logs: Any
) -> None:
    # GIVEN DynamoDB fails when the response is saved (after the job was created)
    def fail_on_save(real: Callable[..., Any], **kwargs: Any) -> Any:
        raise _client_error("InternalServerError")

    patch_aws(dynamodb={"update_item": fail_on_save})

    response = client.post("/jobs", json=JOB, headers=keyed("k"))

    # THEN the client still learns its job id (the job exists), and operators see why
    assert response.status_code == 202
    assert [job["job_id"] for job in stored.jobs()] == [response.json()["job_id"]]
    [line] = captured_logs.with_message("could not save the idempotent response")
    assert line["error"] == "InternalServerError"


def test_an_unavailable_store_is_503(
    client: TestClient, stored: Any, patch_aws: Callable[..., None]
) -> None:
    def fail(real: Callable[..., Any], **kwargs: Any) -> Any:
        raise _client_error("ProvisionedThroughputExceededException")

    patch_aws(dynamodb={"put_item": fail})

    response = client.post("/jobs", json=JOB, headers=keyed("k"))

    assert response.status_code == 503
    assert response.json()["code"] == "store_unavailable"
    assert stored.message_count() == 0


def _client_error(code: str) -> Exception:
    from botocore.exceptions import ClientError

    return ClientError({"Error": {"Code": code, "Message": "injected"}}, "Operation")
