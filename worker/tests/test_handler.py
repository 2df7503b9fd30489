"""The handler end to end: success, duplicate deliveries, the event shape, shared processes."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from devstack.lambda_runtime import LambdaContext
from worker.main import handler

JASON = "Jason is 25 years old"


def test_success_stores_result_and_status_and_counts_the_attempt(harness: Any) -> None:
    # GIVEN a job queued by the API
    job = harness.submit(JASON)
    # WHEN Lambda delivers it
    response = harness.invoke(job.record)
    # THEN the record is acknowledged and the job holds the extracted user
    assert response == {"batchItemFailures": []}
    stored = harness.job(job.job_id)
    assert stored["status"] == "succeeded"
    assert json.loads(stored["result"]) == {"name": "Jason", "age": 25, "email": None}
    assert stored["attempts"] == 1
    assert "lease_owner" not in stored
    assert "lease_expires_at" not in stored
    assert harness.calls(JASON) == 1


def test_redelivery_after_success_is_acknowledged_without_calling_the_llm(harness: Any) -> None:
    job = harness.submit(JASON)
    harness.invoke(job.record)
    # WHEN SQS delivers the same message again (at-least-once delivery)
    response = harness.invoke(harness.deliver(job.body))
    assert response == {"batchItemFailures": []}
    assert harness.calls(JASON) == 1
    assert harness.job(job.job_id)["attempts"] == 1


def test_same_job_twice_in_one_batch_calls_the_llm_once(harness: Any) -> None:
    harness.llm.config.latency_seconds = 0.3
    job = harness.submit(JASON)
    duplicate = harness.deliver(job.body)
    response = harness.invoke(job.record, duplicate)
    # THEN one delivery ran the job; the other is retried later, never acknowledged blind
    assert len(harness.failed_ids(response)) == 1
    assert harness.calls(JASON) == 1
    assert harness.job(job.job_id)["status"] == "succeeded"


def test_two_concurrent_invocations_of_one_job_call_the_llm_once(harness: Any) -> None:
    harness.llm.config.latency_seconds = 0.3
    job = harness.submit(JASON)
    records = [job.record, harness.deliver(job.body)]
    responses: list[dict[str, Any]] = []
    threads = [
        threading.Thread(target=lambda r=r: responses.append(harness.invoke(r))) for r in records
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    failures = [item for response in responses for item in response["batchItemFailures"]]
    assert len(responses) == 2
    assert len(failures) == 1
    assert harness.calls(JASON) == 1
    assert harness.job(job.job_id)["status"] == "succeeded"


def test_busy_job_is_retried_when_the_other_holders_lease_ends(harness: Any) -> None:
    # GIVEN another live attempt holds the job for one more second
    job = harness.submit(JASON)
    lease_end = int(time.time()) + 1
    harness.put_job(
        job.job_id,
        status="running",
        lease_owner={"S": "other-invocation"},
        lease_expires_at={"N": str(lease_end)},
    )
    response = harness.invoke(job.record)
    # THEN the record is reported, the LLM untouched, the other holder's claim respected
    assert harness.failed_ids(response) == {job.record["messageId"]}
    assert harness.calls(JASON) == 0
    assert harness.job(job.job_id)["lease_owner"] == "other-invocation"
    # AND the message reappears just after that lease (not after the queue's 30 s timeout)
    assert harness.receive() == []
    assert len(harness.receive_within(4.0)) == 1


def test_expired_lease_of_a_crashed_attempt_is_taken_over(harness: Any) -> None:
    job = harness.submit(JASON)
    harness.put_job(
        job.job_id,
        status="running",
        attempts={"N": "1"},
        lease_owner={"S": "crashed-invocation"},
        lease_expires_at={"N": "1000"},
    )
    response = harness.invoke(job.record)
    assert response == {"batchItemFailures": []}
    stored = harness.job(job.job_id)
    assert stored["status"] == "succeeded"
    assert stored["attempts"] == 2


def test_handler_called_twice_in_a_row_and_from_threads(harness: Any) -> None:
    texts = [f"{name} is {age} years old" for name, age in (("Ann", 30), ("Bob", 41), ("Cy", 52))]
    jobs = [harness.submit(text) for text in texts]
    assert harness.invoke(jobs[0].record) == {"batchItemFailures": []}
    assert harness.invoke(jobs[1].record) == {"batchItemFailures": []}
    more = [harness.submit(f"Dee is {n} years old") for n in (20, 21)]
    threads = [threading.Thread(target=harness.invoke, args=(job.record,)) for job in more]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    for job in [*jobs[:2], *more]:
        assert harness.job(job.job_id)["status"] == "succeeded"


def test_aws_documented_sample_event_is_accepted_and_acknowledged(
    harness: Any, aws_sample_event: dict[str, Any]
) -> None:
    # AWS's sample bodies are the string "test": not a job, so acknowledged (never looped)
    context: Any = LambdaContext(timeout_seconds=10)
    response = handler(aws_sample_event, context)
    assert response == {"batchItemFailures": []}


def test_devstack_records_have_the_documented_shape(
    harness: Any, aws_sample_event: dict[str, Any]
) -> None:
    record = harness.submit(JASON).record
    documented = aws_sample_event["Records"][0]
    assert record.keys() == documented.keys()
    assert documented["attributes"].keys() <= record["attributes"].keys()
    assert record["eventSource"] == "aws:sqs"
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
