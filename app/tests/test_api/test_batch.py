"""POST /jobs/batch: up to 100 POST /jobs bodies; per 10 items one BatchWriteItem and (size
permitting) one SendMessageBatch; 202 when all were queued, 207 (results by index) when not,
and no `queued` record left for an item that could not be queued."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError
from fastapi.testclient import TestClient

from gen_ai_on_aws.api.middleware import MAX_BATCH_BODY_BYTES, MAX_BODY_BYTES


def extract(text: str = "Jason is 25 years old", **fields: Any) -> dict[str, Any]:
    return {"task": "extract_user", "input": {"text": text}, **fields}


def jobs(count: int) -> dict[str, Any]:
    return {"jobs": [extract(f"Person {i} is {20 + i} years old") for i in range(count)]}


class CallCounter:
    """Counts calls per operation while passing them through to moto."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()

    def counting(self, name: str) -> Callable[..., Any]:
        def call(real: Callable[..., Any], **kwargs: Any) -> Any:
            self.calls[name] += 1
            return real(**kwargs)

        return call


# --- accepted ----------------------------------------------------------------------------


def test_all_valid_items_are_queued_with_202_in_input_order(
    client: TestClient, stored: Any
) -> None:
    batch = {
        "jobs": [
            extract(),
            {"task": "complete", "input": {"prompt": "Write a haiku."}, "model": None},
        ]
    }

    response = client.post("/jobs/batch", json=batch, headers={"X-Request-ID": "req-b"})

    assert response.status_code == 202, response.text
    results = response.json()["results"]
    assert [result["index"] for result in results] == [0, 1]
    assert all(set(result) == {"index", "job_id", "status", "status_url"} for result in results)
    assert all(result["status"] == "queued" for result in results)
    assert results[0]["status_url"] == f"http://testserver/jobs/{results[0]['job_id']}"
    # AND each job has its record and its message, like a POST /jobs
    messages = {message["job_id"]: message for message in stored.messages()}
    assert set(messages) == {result["job_id"] for result in results}
    assert messages[results[0]["job_id"]]["payload"] == {"text": "Jason is 25 years old"}
    assert messages[results[1]["job_id"]]["task"] == "complete"
    assert all(message["request_id"] == "req-b" for message in messages.values())
    records = {job["job_id"]: job for job in stored.jobs()}
    assert {job["status"] for job in records.values()} == {"queued"}
    assert records[results[1]["job_id"]]["task"] == "complete"
    assert client.get(results[0]["status_url"]).json()["status"] == "queued"


def test_25_items_take_three_writes_and_three_sends(
    client: TestClient, stored: Any, patch_aws: Callable[..., None]
) -> None:
    counter = CallCounter()
    patch_aws(
        dynamodb={"batch_write_item": counter.counting("BatchWriteItem")},
        sqs={"send_message_batch": counter.counting("SendMessageBatch")},
    )

    response = client.post("/jobs/batch", json=jobs(25))

    assert response.status_code == 202
    assert counter.calls == {"BatchWriteItem": 3, "SendMessageBatch": 3}
    assert len(stored.jobs()) == 25
    assert stored.message_count() == 25


def test_large_items_are_sent_in_calls_under_256_kib(
    client: TestClient, stored: Any, patch_aws: Callable[..., None]
) -> None:
    # GIVEN 10 long `complete` inputs: about 52 KB each as UTF-8 JSON
    sizes: list[int] = []

    def measure(real: Callable[..., Any], **kwargs: Any) -> Any:
        sizes.append(sum(len(entry["MessageBody"].encode()) for entry in kwargs["Entries"]))
        return real(**kwargs)

    patch_aws(sqs={"send_message_batch": measure})
    big = {"task": "complete", "input": {"prompt": "\u00e9" * 20_000, "system": "\u20ac" * 4000}}

    response = client.post("/jobs/batch", json={"jobs": [big] * 10})

    assert response.status_code == 202, response.text[:300]
    assert len(sizes) > 1
    assert all(size <= 262_144 for size in sizes)
    assert stored.message_count() == 10


# --- refused items -----------------------------------------------------------------------


def test_invalid_items_are_refused_by_index_and_the_rest_queued_with_207(
    client: TestClient, stored: Any, callbacks_queue_url: str
) -> None:
    batch = {
        "jobs": [
            extract(),
            {"task": "summarise", "input": {}},
            extract(" "),
            extract(model="openai/not-allowed"),
            extract(callback_url="https://169.254.169.254/"),
            {"input": {"text": "no task"}},
            {"task": "extract_user", "input": {"text": "x"}, "priority": 1},
            extract("Mary is 31 years old"),
        ]
    }

    response = client.post("/jobs/batch", json=batch)

    assert response.status_code == 207
    results = response.json()["results"]
    assert [result["index"] for result in results] == list(range(8))
    codes = [result.get("error", {}).get("code") for result in results]
    assert codes == [
        None,
        "unknown_task",
        "validation_error",
        "model_not_allowed",
        "invalid_callback_url",
        "validation_error",
        "validation_error",
        None,
    ]
    fields = [[d["field"] for d in result["error"]["details"]] for result in results[1:7]]
    assert fields == [
        ["task"],
        ["input.text"],
        ["model"],
        ["callback_url"],
        ["task"],
        ["priority"],
    ]
    # AND only the valid items exist
    assert {job["job_id"] for job in stored.jobs()} == {results[0]["job_id"], results[7]["job_id"]}
    assert stored.message_count() == 2


@pytest.mark.parametrize(
    "body",
    [{"jobs": []}, jobs(101), {"jobs": ["not an object"]}, {"jobs": [extract()], "extra": 1}, {}],
    ids=["empty", "101", "not-objects", "extra-field", "no-jobs"],
)
def test_a_malformed_batch_is_422_and_stores_nothing(
    client: TestClient, stored: Any, body: dict[str, Any]
) -> None:
    response = client.post("/jobs/batch", json=body)

    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"
    assert stored.items() == []


def test_100_items_are_accepted(client: TestClient, stored: Any) -> None:
    response = client.post("/jobs/batch", json=jobs(100))

    assert response.status_code == 202
    assert len(response.json()["results"]) == 100
    assert len(stored.jobs()) == 100


# --- dependency failures -----------------------------------------------------------------


def fail_entries(
    job_ids_to_fail: Callable[[list[dict[str, Any]]], set[str]], *, sender: bool
) -> Callable[..., Any]:
    """A SendMessageBatch that reports some entries `Failed` and sends the others."""

    def send(real: Callable[..., Any], **kwargs: Any) -> Any:
        failing = job_ids_to_fail(kwargs["Entries"])
        kept = [entry for entry in kwargs["Entries"] if entry["Id"] not in failing]
        response = real(**{**kwargs, "Entries": kept}) if kept else {"Successful": []}
        response["Failed"] = [
            {"Id": job_id, "SenderFault": sender, "Code": "InternalError"} for job_id in failing
        ]
        return response

    return send


def test_a_partial_send_failure_is_207_and_leaves_no_queued_record(
    client: TestClient, stored: Any, patch_aws: Callable[..., None]
) -> None:
    # GIVEN SQS refuses the message of the second item, every time
    second: set[str] = set()

    def second_item(entries: list[dict[str, Any]]) -> set[str]:
        if not second:
            second.add(json.loads(entries[1]["MessageBody"])["job_id"])
        return {entry["Id"] for entry in entries} & second

    patch_aws(sqs={"send_message_batch": fail_entries(second_item, sender=False)})

    response = client.post("/jobs/batch", json=jobs(3))

    # THEN that item is refused; the others are queued; its record is gone
    assert response.status_code == 207
    results = response.json()["results"]
    assert "job_id" in results[0]
    assert "job_id" in results[2]
    assert results[1] == {
        "index": 1,
        "error": {
            "code": "queue_unavailable",
            "message": "The job queue is unavailable; no job was created. Retry later.",
            "details": None,
        },
    }
    assert {job["job_id"] for job in stored.jobs()} == {results[0]["job_id"], results[2]["job_id"]}
    assert stored.message_count() == 2


def test_a_failed_entry_on_sqs_side_is_retried(
    client: TestClient, stored: Any, patch_aws: Callable[..., None]
) -> None:
    failed_once: set[str] = set()

    def first_time(entries: list[dict[str, Any]]) -> set[str]:
        fresh = {entry["Id"] for entry in entries} - failed_once
        failed_once.update(fresh)
        return fresh

    patch_aws(sqs={"send_message_batch": fail_entries(first_time, sender=False)})

    response = client.post("/jobs/batch", json=jobs(2))

    assert response.status_code == 202
    assert stored.message_count() == 2


def test_a_sender_fault_is_not_retried(
    client: TestClient, stored: Any, patch_aws: Callable[..., None]
) -> None:
    calls = CallCounter()
    every = fail_entries(lambda entries: {entries[0]["Id"]}, sender=True)

    def counted(real: Callable[..., Any], **kwargs: Any) -> Any:
        calls.calls["SendMessageBatch"] += 1
        return every(real, **kwargs)

    patch_aws(sqs={"send_message_batch": counted})

    response = client.post("/jobs/batch", json=jobs(2))

    assert response.status_code == 207
    assert calls.calls["SendMessageBatch"] == 1
    assert len(stored.jobs()) == 1


def test_unprocessed_writes_are_retried_then_refused_without_a_message(
    client: TestClient, stored: Any, patch_aws: Callable[..., None]
) -> None:
    # GIVEN DynamoDB never processes the first item's put, and processes the second on retry
    attempts: Counter[str] = Counter()

    def partial(real: Callable[..., Any], **kwargs: Any) -> Any:
        [(table, requests)] = kwargs["RequestItems"].items()
        unprocessed = []
        for request in requests:
            job_id = request["PutRequest"]["Item"]["job_id"]["S"]
            attempts[job_id] += 1
            position = list(attempts).index(job_id)
            if position == 0 or (position == 1 and attempts[job_id] == 1):
                unprocessed.append(request)
        done = [request for request in requests if request not in unprocessed]
        if done:
            real(RequestItems={table: done})
        return {"UnprocessedItems": {table: unprocessed} if unprocessed else {}}

    patch_aws(dynamodb={"batch_write_item": partial})

    response = client.post("/jobs/batch", json=jobs(3))

    assert response.status_code == 207
    results = response.json()["results"]
    assert results[0]["error"]["code"] == "store_unavailable"
    assert next(iter(attempts.values())) == 4  # bounded: 1 call + 3 retries
    assert {job["job_id"] for job in stored.jobs()} == {results[1]["job_id"], results[2]["job_id"]}
    assert {message["job_id"] for message in stored.messages()} == {
        results[1]["job_id"],
        results[2]["job_id"],
    }


def test_a_failed_chunk_does_not_affect_the_others(
    client: TestClient, stored: Any, patch_aws: Callable[..., None]
) -> None:
    # GIVEN SQS times out on the second chunk's send (it may or may not have taken them)
    calls: list[int] = []

    def second_call_fails(real: Callable[..., Any], **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 2:
            raise ClientError({"Error": {"Code": "RequestTimeout"}}, "SendMessageBatch")
        return real(**kwargs)

    patch_aws(sqs={"send_message_batch": second_call_fails})

    response = client.post("/jobs/batch", json=jobs(15))

    # THEN its 5 items are refused and their records ended as `not_queued`, so a message SQS
    # took after all never runs
    assert response.status_code == 207
    codes = [result.get("error", {}).get("code") for result in response.json()["results"]]
    assert codes == [None] * 10 + ["queue_unavailable"] * 5
    statuses = Counter(
        (job["status"], (job.get("error") or {}).get("code")) for job in stored.jobs()
    )
    assert statuses == {("queued", None): 10, ("failed", "not_queued"): 5}
    assert stored.message_count() == 10


@pytest.mark.parametrize(
    ("client_name", "operation", "code"),
    [
        ("sqs", "send_message_batch", "queue_unavailable"),
        ("dynamodb", "batch_write_item", "store_unavailable"),
    ],
)
def test_nothing_queued_because_of_a_dependency_is_503_and_not_saved(
    app: Any,
    client: TestClient,
    stored: Any,
    patch_aws: Callable[..., None],
    client_name: str,
    operation: str,
    code: str,
) -> None:
    def fail(real: Callable[..., Any], **kwargs: Any) -> Any:
        raise ClientError({"Error": {"Code": "ServiceUnavailable"}}, operation)

    patch_aws(**{client_name: {operation: fail}})
    headers = {"Idempotency-Key": "batch-1"}

    response = client.post("/jobs/batch", json=jobs(3), headers=headers)

    assert response.status_code == 503
    assert response.json()["code"] == code
    # (SQS may have taken the messages: their jobs are ended, so those never run)
    assert [(job["status"], job["error"]["code"]) for job in stored.items()] == [
        ("failed", "not_queued")
    ] * (3 if client_name == "sqs" else 0)
    # AND a retry with the same key runs once the dependency is back
    app.dependency_overrides.clear()
    assert client.post("/jobs/batch", json=jobs(3), headers=headers).status_code == 202


def test_a_record_that_cannot_be_removed_is_logged(
    client: TestClient, stored: Any, patch_aws: Callable[..., None], captured_logs: Any
) -> None:
    # GIVEN SQS refuses every message and DynamoDB then refuses the clean-up
    def refuse_all(entries: list[dict[str, Any]]) -> set[str]:
        return {entry["Id"] for entry in entries}

    def puts_only(real: Callable[..., Any], **kwargs: Any) -> Any:
        [requests] = kwargs["RequestItems"].values()
        if "DeleteRequest" in requests[0]:
            raise ClientError({"Error": {"Code": "InternalServerError"}}, "BatchWriteItem")
        return real(**kwargs)

    patch_aws(
        sqs={"send_message_batch": fail_entries(refuse_all, sender=True)},
        dynamodb={"batch_write_item": puts_only},
    )

    response = client.post("/jobs/batch", json=jobs(2))

    # (SQS said the sender is at fault: a 4xx, never a 503 to retry forever)
    assert response.status_code == 422
    assert response.json()["code"] == "message_rejected"
    lines = captured_logs.with_message("could not remove the unqueued job")
    assert {line["job_id"] for line in lines} == {job["job_id"] for job in stored.jobs()}
    assert all(line["level"] == "ERROR" for line in lines)


# --- limits and idempotency --------------------------------------------------------------


def test_the_batch_body_limit_is_larger_than_the_single_job_limit(
    client: TestClient, stored: Any
) -> None:
    # 20 items of 20,000 characters: above the 320 KiB of POST /jobs, within the batch's 4 MiB
    batch = {"jobs": [extract("J" * 19_990 + f" is {i}") for i in range(20)]}
    body = json.dumps(batch).encode()
    assert MAX_BODY_BYTES < len(body) < MAX_BATCH_BODY_BYTES

    response = client.post(
        "/jobs/batch", content=body, headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 202
    too_big = client.post(
        "/jobs/batch",
        content=b" " * (MAX_BATCH_BODY_BYTES + 1),
        headers={"Content-Type": "application/json"},
    )
    assert too_big.status_code == 413
    assert "4 MiB" in too_big.json()["error"]


def test_a_207_is_replayed_for_the_same_key(client: TestClient, stored: Any) -> None:
    batch = {"jobs": [extract(), {"task": "nope", "input": {}}]}
    headers = {"Idempotency-Key": "batch-207"}

    first = client.post("/jobs/batch", json=batch, headers=headers)
    retry = client.post("/jobs/batch", json=batch, headers=headers)

    assert (first.status_code, retry.status_code) == (207, 207)
    assert retry.content == first.content
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert len(stored.jobs()) == 1


def test_a_delete_left_unprocessed_is_logged(
    client: TestClient, stored: Any, patch_aws: Callable[..., None], captured_logs: Any
) -> None:
    # GIVEN SQS refuses the first item's message and DynamoDB never processes its delete
    def refuse_first(entries: list[dict[str, Any]]) -> set[str]:
        return {entries[0]["Id"]}

    def deletes_unprocessed(real: Callable[..., Any], **kwargs: Any) -> Any:
        [(table, requests)] = kwargs["RequestItems"].items()
        if "DeleteRequest" in requests[0]:
            return {"UnprocessedItems": {table: requests}}
        return real(**kwargs)

    patch_aws(
        sqs={"send_message_batch": fail_entries(refuse_first, sender=True)},
        dynamodb={"batch_write_item": deletes_unprocessed},
    )

    response = client.post("/jobs/batch", json=jobs(2))

    assert response.status_code == 207
    [line] = captured_logs.with_message("could not remove the unqueued job")
    assert line["error"] == "unprocessed after retries"
    assert line["job_id"] not in {r.get("job_id") for r in response.json()["results"]}
