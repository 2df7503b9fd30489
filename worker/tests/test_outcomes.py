"""When recording an outcome itself fails: never ack a job that is not settled."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from worker.services.jobs import JobStore

THROTTLED = {"Error": {"Code": "ThrottlingException", "Message": "slow down"}}


def _throttled(*_: Any, **__: Any) -> Any:
    raise ClientError(THROTTLED, "UpdateItem")  # type: ignore[arg-type]


def test_result_not_stored_is_retried(harness: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(JobStore, "succeed", _throttled)
    harness.skip_delays()
    job = harness.submit()
    assert harness.invoke(job.record) == {"batchItemFailures": []}
    stored = harness.job(job.job_id)
    assert (stored["status"], stored["dispatch"]) == ("queued", 1)
    assert stored["last_error"]["code"] == "aws_unavailable"
    assert len(harness.receive()) == 1  # the job's next copy


def test_terminal_failure_not_stored_is_retried_instead_of_acked(
    harness: Any, monkeypatch: pytest.MonkeyPatch, captured_logs: Any
) -> None:
    monkeypatch.setattr(JobStore, "fail", _throttled)
    job = harness.submit("Jason is 25 years old !400")
    response = harness.invoke(job.record)
    assert harness.failed_ids(response) == {job.record["messageId"]}
    assert captured_logs.with_message("failure not recorded; message will be redelivered")


def test_release_failure_after_the_re_send_still_acks_and_the_copy_takes_over_at_once(
    harness: Any, monkeypatch: pytest.MonkeyPatch, captured_logs: Any
) -> None:
    # GIVEN a retryable failure whose release write fails after the copy was re-sent
    with monkeypatch.context() as patched:
        patched.setattr(JobStore, "release", _throttled)
        harness.skip_delays()
        job = harness.submit("Jason is 25 years old !500x1")
        assert harness.invoke(job.record) == {"batchItemFailures": []}
    # The claim stays (its lease runs to the invocation's end) ...
    assert harness.job(job.job_id)["status"] == "running"
    assert captured_logs.with_message("claim not released; it ends with the lease")
    # ... but the holder gave the job up when it re-sent it: the copy (a newer dispatch) takes
    # it over without waiting for that lease, and succeeds on its second real attempt
    copy = harness.record(harness.receive_one())
    assert harness.invoke(copy) == {"batchItemFailures": []}
    stored = harness.job(job.job_id)
    assert (stored["status"], stored["attempts"], stored["dispatch"]) == ("succeeded", 2, 1)
    assert harness.calls("Jason is 25 years old !500x1") == 2


def test_visibility_change_failure_still_reports_the_record(
    harness: Any, captured_logs: Any
) -> None:
    # GIVEN another live attempt holds the job, so the delivery must come back later
    job = harness.submit()
    lease = {"N": str(int(time.time()) + 60)}
    harness.put_job(job.job_id, status="running", lease_owner={"S": "o"}, lease_expires_at=lease)
    record = {**job.record, "receiptHandle": "not-a-receipt-handle"}
    assert harness.failed_ids(harness.invoke(record)) == {record["messageId"]}
    assert captured_logs.with_message("visibility unchanged; the queue's timeout applies")


def test_lease_taken_over_mid_call_discards_the_result(harness: Any, captured_logs: Any) -> None:
    # GIVEN another attempt takes the job over while our LLM call is in flight
    harness.llm.config.latency_seconds = 0.6
    job = harness.submit()

    def take_over() -> None:
        time.sleep(0.3)
        harness.put_job(
            job.job_id, status="running", lease_owner={"S": "usurper"}, attempts={"N": "2"}
        )

    usurper = threading.Thread(target=take_over)
    usurper.start()
    response = harness.invoke(job.record)
    usurper.join()
    # THEN our result is not written over the new holder's claim, and our delivery is done
    assert response == {"batchItemFailures": []}
    stored = harness.job(job.job_id)
    assert (stored["status"], stored["lease_owner"]) == ("running", "usurper")
    assert captured_logs.with_message("lease lost; result discarded")
