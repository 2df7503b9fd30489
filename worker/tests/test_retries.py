"""Retryable failures: reported to SQS, claim released, visibility set; the last receive fails."""

from __future__ import annotations

import socket
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from worker.services.jobs import JobStore

RATE_LIMITED = "Jason is 25 years old !429"


def test_rate_limit_with_retry_after_delays_the_message_by_retry_after(harness: Any) -> None:
    # GIVEN the provider answers 429 with Retry-After: 1
    harness.llm.config.retry_after_seconds = 1
    job = harness.submit(RATE_LIMITED)
    response = harness.invoke(job.record)
    # THEN the record is reported and the job handed back with the reason
    assert harness.failed_ids(response) == {job.record["messageId"]}
    stored = harness.job(job.job_id)
    assert stored["status"] == "queued"
    assert stored["last_error"]["code"] == "provider_rate_limited"
    assert "lease_owner" not in stored
    assert harness.calls(RATE_LIMITED) == 1
    # AND the message is hidden for about Retry-After (the queue's own timeout is 30 s)
    assert harness.receive() == []
    assert len(harness.receive_within(2.5)) == 1


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Jason is 25 years old !500", "provider_unavailable"),
        ("Jason is 25 years old !timeout", "provider_timeout"),
    ],
)
def test_provider_errors_release_the_job_and_back_off(
    harness: Any, monkeypatch: pytest.MonkeyPatch, text: str, code: str
) -> None:
    monkeypatch.setenv("LLM_TIMEOUT_SECONDS", "0.3")
    harness.llm.config.timeout_sleep_seconds = 1.0
    job = harness.submit(text)
    started = time.monotonic()
    response = harness.invoke(job.record)
    assert time.monotonic() - started < 3
    assert harness.failed_ids(response) == {job.record["messageId"]}
    stored = harness.job(job.job_id)
    assert stored["status"] == "queued"
    assert stored["attempts"] == 1
    assert stored["last_error"]["code"] == code
    # No in-process retries: the outage surfaces to SQS after one call
    assert harness.calls(text) == 1
    # Backoff (10 s on the first receive), so the message is not visible straight away
    assert harness.receive() == []


def test_unreachable_provider_is_retryable(harness: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    monkeypatch.setenv("LLM_API_BASE", f"http://127.0.0.1:{closed_port}/v1")
    job = harness.submit()
    response = harness.invoke(job.record)
    assert harness.failed_ids(response) == {job.record["messageId"]}
    assert harness.job(job.job_id)["last_error"]["code"] == "provider_unavailable"


def test_redelivery_after_a_transient_error_succeeds(harness: Any) -> None:
    text = "Jason is 25 years old !500x1"
    job = harness.submit(text)
    assert harness.failed_ids(harness.invoke(job.record)) == {job.record["messageId"]}
    # WHEN SQS delivers it again
    retry = harness.deliver(job.body)
    assert harness.invoke(retry) == {"batchItemFailures": []}
    stored = harness.job(job.job_id)
    assert stored["status"] == "succeeded"
    assert stored["attempts"] == 2
    assert harness.calls(text) == 2


def test_last_receive_marks_the_job_failed_and_the_message_goes_to_the_dlq(
    harness: Any,
) -> None:
    # GIVEN the message is on its fifth receive (the redrive policy's maxReceiveCount)
    text = "Jason is 25 years old !500"
    job = harness.submit(text, receives=5)
    assert job.record["attributes"]["ApproximateReceiveCount"] == "5"
    response = harness.invoke(job.record)
    # THEN the job is failed for good before SQS gives up on the message ...
    stored = harness.job(job.job_id)
    assert stored["status"] == "failed"
    assert stored["error"]["code"] == "retries_exhausted"
    assert "provider_unavailable" in stored["error"]["message"]
    # ... and the record is still reported, so SQS moves it to the DLQ on the next receive
    assert harness.failed_ids(response) == {job.record["messageId"]}
    harness.make_visible(job.record["receiptHandle"])
    assert harness.receive() == []
    assert len(harness.receive(harness.resources.dlq_url)) == 1


def test_deadline_reports_unfinished_records_and_releases_their_claims(
    harness: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN 1.5 s left, a 0.5 s margin, one record at a time and a 3 s LLM
    monkeypatch.setenv("WORKER_MAX_CONCURRENCY", "1")
    harness.llm.config.latency_seconds = 3.0
    first = harness.submit("Ann is 30 years old")
    second = harness.submit("Bob is 40 years old")
    started = time.monotonic()
    response = harness.invoke(first.record, second.record, timeout_seconds=1.5)
    elapsed = time.monotonic() - started
    # THEN the handler returns before Lambda would kill it and reports both records
    assert elapsed < 1.5
    assert harness.failed_ids(response) == {first.record["messageId"], second.record["messageId"]}
    # The started one was cut off and handed back; the other never started
    ran = harness.job(first.job_id)
    assert ran["status"] == "queued"
    assert ran["attempts"] == 1
    assert ran["last_error"]["code"] == "deadline_exceeded"
    assert "lease_owner" not in ran
    waiting = harness.job(second.job_id)
    assert (waiting["status"], waiting["attempts"]) == ("queued", 0)
    # Both come back at once: running out of time is not the job's fault
    assert len(harness.receive()) == 2


def test_deadline_on_the_last_receive_fails_the_jobs_before_the_dlq(
    harness: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the same squeeze as above, but on the fifth and last receive
    monkeypatch.setenv("WORKER_MAX_CONCURRENCY", "1")
    harness.llm.config.latency_seconds = 3.0
    first = harness.submit("Ann is 30 years old", receives=5)
    second = harness.submit("Bob is 40 years old", receives=5)
    garbage = harness.deliver("not a job", receives=5)
    response = harness.invoke(first.record, second.record, garbage, timeout_seconds=1.5)
    # THEN neither job is left queued or running: both failed, all records still reported
    assert len(harness.failed_ids(response)) == 3
    for job in (first, second):
        stored = harness.job(job.job_id)
        assert (stored["status"], stored["error"]["code"]) == ("failed", "retries_exhausted")
        assert "deadline_exceeded" in stored["error"]["message"]


def test_throttled_dynamodb_is_retryable(harness: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    def throttled(*_: Any, **__: Any) -> Any:
        error = {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow"}}
        raise ClientError(error, "UpdateItem")  # type: ignore[arg-type]

    monkeypatch.setattr(JobStore, "claim", throttled)
    job = harness.submit()
    response = harness.invoke(job.record)
    assert harness.failed_ids(response) == {job.record["messageId"]}
    assert harness.calls() == 0
    assert harness.job(job.job_id)["status"] == "queued"
