"""Retryable failures: the job is re-sent as a new copy (dispatch + 1) after its back-off and
the old message acknowledged; only real attempts count against JOB_MAX_ATTEMPTS."""

from __future__ import annotations

import json
import socket
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from gen_ai_contracts.queue import QueueMessage
from worker.services.jobs import JobStore

FAILING = "Jason is 25 years old !500"


def _envelope(body: str) -> dict[str, Any]:
    """The envelope in ``body`` with every field (a copy also spells out the defaults)."""
    return QueueMessage.model_validate_json(body).model_dump(mode="json")


@pytest.mark.parametrize(
    ("text", "code"),
    [(FAILING, "provider_unavailable"), ("Jason is 25 years old !timeout", "provider_timeout")],
)
def test_provider_errors_re_send_the_job_after_the_back_off(
    harness: Any, monkeypatch: pytest.MonkeyPatch, text: str, code: str
) -> None:
    monkeypatch.setenv("LLM_TIMEOUT_SECONDS", "0.3")
    harness.llm.config.timeout_sleep_seconds = 1.0
    delays = harness.skip_delays()
    job = harness.submit(text)
    response = harness.invoke(job.record)
    # THEN the old message is acknowledged and the job handed back with the reason
    assert response == {"batchItemFailures": []}
    stored = harness.job(job.job_id)
    assert (stored["status"], stored["attempts"], stored["dispatch"]) == ("queued", 1, 1)
    assert stored["last_error"]["code"] == code
    assert "lease_owner" not in stored
    # No in-process retries: one call, then a copy with the next dispatch after 10 s (the
    # first back-off step)
    assert harness.calls(text) == 1
    assert delays == [10]
    [copy] = harness.receive()
    assert _envelope(copy["Body"]) == {**_envelope(job.body), "dispatch": 1}


def test_unreachable_provider_is_retryable(harness: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    monkeypatch.setenv("LLM_API_BASE", f"http://127.0.0.1:{closed_port}/v1")
    job = harness.submit()
    assert harness.invoke(job.record) == {"batchItemFailures": []}
    assert harness.job(job.job_id)["last_error"]["code"] == "provider_unavailable"


def test_the_copy_after_a_transient_error_succeeds(harness: Any) -> None:
    text = "Jason is 25 years old !500x1"
    job = harness.submit(text)
    assert harness.follow(job.record) == 2
    stored = harness.job(job.job_id)
    assert (stored["status"], stored["attempts"], stored["dispatch"]) == ("succeeded", 2, 1)
    assert harness.calls(text) == 2


def test_back_off_doubles_with_the_jobs_attempts(
    harness: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JOB_MAX_ATTEMPTS", "4")
    delays = harness.skip_delays()
    harness.follow(harness.submit(FAILING).record)
    # By attempt, not by receive: every copy is on its first receive
    assert delays == [10, 20, 40]


def test_real_failures_end_retries_exhausted_after_job_max_attempts_with_a_dlq_copy(
    harness: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a provider that always fails and a budget of three attempts
    monkeypatch.setenv("JOB_MAX_ATTEMPTS", "3")
    job = harness.submit(FAILING)
    # WHEN the job and its copies run
    assert harness.follow(job.record) == 3
    # THEN it made exactly three provider calls and failed for good
    assert harness.calls(FAILING) == 3
    stored = harness.job(job.job_id)
    assert (stored["status"], stored["error"]["code"]) == ("failed", "retries_exhausted")
    assert stored["attempts"] == 3
    assert stored["error"]["message"].startswith("gave up after 3 attempts; last error")
    assert "provider_unavailable" in stored["error"]["message"]
    # AND its last message is copied to the DLQ (for inspection); no copy is left on the queue
    # (every delivery was acknowledged, so Lambda would delete it)
    [dead] = harness.receive(harness.resources.dlq_url)
    assert _envelope(dead["Body"]) == {**_envelope(job.body), "dispatch": 2}
    assert harness.receive() == []


def test_without_a_dlq_url_a_spent_job_still_fails(
    harness: Any, monkeypatch: pytest.MonkeyPatch, captured_logs: Any
) -> None:
    monkeypatch.setenv("JOB_MAX_ATTEMPTS", "1")
    monkeypatch.delenv("DLQ_URL")
    job = harness.submit(FAILING)
    assert harness.invoke(job.record) == {"batchItemFailures": []}
    assert harness.job(job.job_id)["error"]["code"] == "retries_exhausted"
    [line] = captured_logs.with_message("job not copied to the DLQ")
    assert (line["job_id"], line["reason"]) == (job.job_id, "DLQ_URL is not set")
    assert harness.receive() == []
    assert harness.receive(harness.resources.dlq_url) == []


def test_deadline_defers_unfinished_records_without_spending_attempts(
    harness: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN 1.5 s left, a 0.5 s margin, one record at a time and a 3 s LLM
    monkeypatch.setenv("WORKER_MAX_CONCURRENCY", "1")
    harness.llm.config.latency_seconds = 3.0
    delays = harness.skip_delays()
    first = harness.submit("Ann is 30 years old")
    second = harness.submit("Bob is 40 years old")
    started = time.monotonic()
    response = harness.invoke(first.record, second.record, timeout_seconds=1.5)
    elapsed = time.monotonic() - started
    # THEN the handler returns before Lambda would kill it, and both messages are acknowledged:
    # each job was re-sent, which is no attempt of theirs
    assert elapsed < 1.5
    assert response == {"batchItemFailures": []}
    # The started one was cut off, handed back with its attempt refunded, and re-sent
    ran = harness.job(first.job_id)
    assert (ran["status"], ran["attempts"], ran["dispatch"]) == ("queued", 0, 1)
    assert ran["last_error"]["code"] == "deadline_exceeded"
    assert "lease_owner" not in ran
    # The other was never claimed: its record is untouched and the same copy re-sent
    waiting = harness.job(second.job_id)
    assert (waiting["status"], waiting["attempts"]) == ("queued", 0)
    assert "dispatch" not in waiting
    copies = {json.loads(m["Body"])["job_id"]: json.loads(m["Body"]) for m in harness.receive()}
    assert (copies[first.job_id]["dispatch"], copies[second.job_id]["dispatch"]) == (1, 0)
    # Both come back soon: a short wait, not the back-off
    assert len(delays) == 2
    assert all(1 <= delay <= 2 for delay in delays)


def test_deadline_on_the_last_receive_still_defers_the_jobs(
    harness: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the same squeeze as above, on the fifth and last receive of each message
    monkeypatch.setenv("WORKER_MAX_CONCURRENCY", "1")
    harness.llm.config.latency_seconds = 3.0
    harness.skip_delays()
    first = harness.submit("Ann is 30 years old", receives=5)
    second = harness.submit("Bob is 40 years old", receives=5)
    garbage = harness.deliver("not a job", receives=5)
    response = harness.invoke(first.record, second.record, garbage, timeout_seconds=1.5)
    # THEN no job fails: both are re-sent as fresh messages; the unreadable one is reported and
    # will be dead-lettered by SQS
    assert harness.failed_ids(response) == {garbage["messageId"]}
    for job in (first, second):
        assert harness.job(job.job_id)["status"] == "queued"
    bodies = [message["Body"] for message in harness.receive()]
    assert sorted(json.loads(body)["job_id"] for body in bodies if body != "not a job") == sorted(
        [first.job_id, second.job_id]
    )


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
