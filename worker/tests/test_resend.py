"""Deferrals and copies: a throttled job waits without spending its budget, its copies land on
its lane in its tenant's group, and no copy runs twice."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from worker.runtime import get_worker

THROTTLED = "Jason is 25 years old !429x8"


@pytest.fixture
def no_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every 429 defers the job at once (no in-process wait for the Retry-After)."""
    monkeypatch.setenv("LLM_LIMIT_MAX_WAIT_SECONDS", "0")


def _refuse_sends(monkeypatch: pytest.MonkeyPatch) -> None:
    def refused(**_: Any) -> Any:
        raise ClientError({"Error": {"Code": "ServiceUnavailable"}}, "SendMessage")

    monkeypatch.setattr(get_worker().sqs, "send_message", refused)


@pytest.mark.usefixtures("no_waiting")
def test_a_job_deferred_far_more_often_than_its_budget_still_succeeds(
    harness: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a budget of 3 attempts and a provider that answers 429 (Retry-After: 1) 8 times
    monkeypatch.setenv("JOB_MAX_ATTEMPTS", "3")
    delays = harness.skip_delays()
    job = harness.submit(THROTTLED)
    # WHEN the job and each copy it is re-sent as run
    assert harness.follow(job.record) == 9
    # THEN it succeeds, and only the call that answered counted as an attempt
    stored = harness.job(job.job_id)
    assert (stored["status"], stored["attempts"], stored["dispatch"]) == ("succeeded", 1, 8)
    assert harness.calls(THROTTLED) == 9
    # Each copy waited the Retry-After plus at most a second of jitter
    assert len(delays) == 8
    assert all(1 <= delay <= 2 for delay in delays)
    assert harness.receive(harness.resources.dlq_url) == []


@pytest.mark.usefixtures("no_waiting")
def test_a_deferred_copy_waits_on_the_real_queue_and_says_why(
    harness: Any, captured_logs: Any
) -> None:
    job = harness.submit("Jason is 25 years old !429x1")
    assert harness.invoke(job.record) == {"batchItemFailures": []}
    # The job is queued with the reason and no attempt spent
    stored = harness.job(job.job_id)
    assert (stored["status"], stored["attempts"], stored["dispatch"]) == ("queued", 0, 1)
    assert stored["last_error"]["code"] == "provider_rate_limited"
    assert "lease_owner" not in stored
    [line] = captured_logs.with_message("job deferred without spending an attempt; re-sent")
    assert line["job_id"] == job.job_id
    assert (line["request_id"], line["task"], line["receive_count"]) == (
        "req-test-1",
        "extract_user",
        1,
    )
    assert (line["error_code"], line["dispatch"]) == ("provider_rate_limited", 1)
    assert line["retry_in_seconds"] in (1, 2)
    # The copy is held back by DelaySeconds (SQS's, not ours), then delivered
    assert harness.receive() == []
    [copy] = harness.receive_within(4.0)
    assert json.loads(copy["Body"])["dispatch"] == 1


def test_a_copy_lands_on_its_lane_in_its_tenants_group(
    harness: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a high-priority job of tenant key-abc that fails once (back-off base 1 s)
    monkeypatch.setenv("WORKER_RETRY_BASE_SECONDS", "1")
    job = harness.submit("Jason is 25 years old !500x1", priority="high", tenant="key-abc")
    assert harness.invoke(job.record) == {"batchItemFailures": []}
    # THEN its copy waits its delay, then appears on the high lane only, in the same group
    high = harness.resources.queue_url_high
    assert harness.receive(high) == []
    give_up = time.monotonic() + 4
    while not (copies := harness.receive(high)) and time.monotonic() < give_up:
        time.sleep(0.1)
    [copy] = copies
    assert copy["Attributes"]["MessageGroupId"] == "key-abc"
    body = json.loads(copy["Body"])
    assert (body["priority"], body["tenant"], body["dispatch"]) == ("high", "key-abc", 1)
    assert harness.receive() == []
    assert harness.receive(harness.resources.queue_url_low) == []
    # AND the copy runs from there
    assert harness.invoke(harness.record(copy, high)) == {"batchItemFailures": []}
    assert harness.job(job.job_id)["status"] == "succeeded"


def test_the_dlq_copy_keeps_the_tenants_group(
    harness: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JOB_MAX_ATTEMPTS", "1")
    job = harness.submit("Jason is 25 years old !500", priority="low", tenant="key-abc")
    assert harness.invoke(job.record) == {"batchItemFailures": []}
    [dead] = harness.receive(harness.resources.dlq_url)
    assert dead["Attributes"]["MessageGroupId"] == "key-abc"
    assert dead["Body"] == job.body


def test_two_copies_with_the_same_dispatch_run_the_llm_once(
    harness: Any, captured_logs: Any
) -> None:
    # GIVEN a job re-sent as copy 1, and that copy delivered twice (a send retried by botocore
    # or an ack that did not reach SQS)
    harness.llm.config.latency_seconds = 0.3
    body = harness.body(dispatch=1)
    job_id = json.loads(body)["job_id"]
    harness.put_job(job_id, status="queued", dispatch={"N": "1"})
    first, second = harness.deliver(body), harness.deliver(body)
    # WHEN both arrive together, one runs and the other waits for it
    response = harness.invoke(first, second)
    assert len(harness.failed_ids(response)) == 1
    [waiting] = [r for r in (first, second) if r["messageId"] in harness.failed_ids(response)]
    # AND WHEN the waiting one comes back, it finds the job finished
    harness.make_visible(waiting["receiptHandle"])
    assert harness.invoke(harness.record(harness.receive_one())) == {"batchItemFailures": []}
    # THEN the LLM ran once and the job ended once
    assert harness.calls() == 1
    assert harness.job(job_id)["status"] == "succeeded"
    assert len(captured_logs.with_message("job succeeded")) == 1


@pytest.mark.usefixtures("no_waiting")
def test_a_copy_superseded_by_a_re_send_is_acknowledged_without_running(
    harness: Any, captured_logs: Any
) -> None:
    # GIVEN the API's message delivered twice, and a provider that throttles the first call
    text = "Jason is 25 years old !429x1"
    harness.skip_delays()
    job = harness.submit(text)
    duplicate = harness.deliver(job.body)
    # WHEN the first delivery is deferred (re-sent as copy 1) ...
    assert harness.invoke(job.record) == {"batchItemFailures": []}
    [copy] = harness.receive()
    # ... the duplicate of copy 0 arrives: it is stale, acknowledged without a call
    assert harness.invoke(duplicate) == {"batchItemFailures": []}
    assert harness.calls(text) == 1
    [line] = captured_logs.with_message("superseded copy of a re-sent job; acknowledged")
    assert (line["job_id"], line["dispatch"], line["newest"]) == (job.job_id, 0, 1)
    # AND copy 1 runs the job to its end, once
    assert harness.invoke(harness.record(copy)) == {"batchItemFailures": []}
    assert harness.calls(text) == 2
    assert harness.job(job.job_id)["status"] == "succeeded"


def test_a_stale_copy_leaves_the_record_alone(harness: Any) -> None:
    body = harness.body(dispatch=1)
    job_id = json.loads(body)["job_id"]
    harness.put_job(job_id, status="queued", dispatch={"N": "2"})
    assert harness.invoke(harness.deliver(body)) == {"batchItemFailures": []}
    stored = harness.job(job_id)
    assert (stored["status"], stored["attempts"], stored["dispatch"]) == ("queued", 0, 2)
    assert harness.calls() == 0


@pytest.mark.usefixtures("no_waiting")
def test_a_refused_re_send_falls_back_to_redelivery_on_the_same_lane(
    harness: Any, monkeypatch: pytest.MonkeyPatch, captured_logs: Any
) -> None:
    # GIVEN SQS refuses the worker's sends, and a throttled high-priority job
    _refuse_sends(monkeypatch)
    job = harness.submit("Jason is 25 years old !429", priority="high")
    # WHEN it is deferred
    response = harness.invoke(job.record)
    # THEN the old message is reported instead, the job released under the same dispatch with
    # its attempt refunded, and the message hidden for the wait on its own queue
    assert harness.failed_ids(response) == {job.record["messageId"]}
    stored = harness.job(job.job_id)
    assert (stored["status"], stored["attempts"], stored["dispatch"]) == ("queued", 0, 0)
    assert stored["last_error"]["code"] == "provider_rate_limited"
    assert captured_logs.with_message("job not re-sent; its message will be redelivered instead")
    assert not captured_logs.with_message("visibility unchanged; the queue's timeout applies")
    high = harness.resources.queue_url_high
    assert harness.receive(high) == []
    give_up = time.monotonic() + 4
    while not (again := harness.receive(high)) and time.monotonic() < give_up:
        time.sleep(0.1)
    assert [message["MessageId"] for message in again] == [job.record["messageId"]]


def test_a_refused_re_send_on_the_last_receive_fails_the_job_before_the_dlq(
    harness: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the message is on its fifth receive (the redrive policy's maxReceiveCount)
    _refuse_sends(monkeypatch)
    job = harness.submit("Jason is 25 years old !500", receives=5)
    response = harness.invoke(job.record)
    # THEN the job is failed for good before SQS gives up on the message ...
    stored = harness.job(job.job_id)
    assert (stored["status"], stored["error"]["code"]) == ("failed", "retries_exhausted")
    assert stored["error"]["message"].startswith("gave up after 5 deliveries")
    # ... and the record is still reported, so SQS moves it to the DLQ on the next receive
    assert harness.failed_ids(response) == {job.record["messageId"]}
    harness.make_visible(job.record["receiptHandle"])
    assert harness.receive() == []
    assert len(harness.receive(harness.resources.dlq_url)) == 1


@pytest.mark.parametrize(
    ("max_age", "age"),
    [(None, timedelta(days=1, minutes=1)), ("60", timedelta(seconds=90))],
    ids=["default-one-day", "setting"],
)
def test_a_job_older_than_its_max_age_fails_without_a_call(
    harness: Any, monkeypatch: pytest.MonkeyPatch, max_age: str | None, age: timedelta
) -> None:
    if max_age is not None:
        monkeypatch.setenv("JOB_MAX_AGE_SECONDS", max_age)
    submitted = (datetime.now(UTC) - age).isoformat().replace("+00:00", "Z")
    job = harness.submit(submitted_at=submitted)
    assert harness.invoke(job.record) == {"batchItemFailures": []}
    stored = harness.job(job.job_id)
    assert (stored["status"], stored["error"]["code"]) == ("failed", "max_age_exceeded")
    assert "JOB_MAX_AGE_SECONDS" in stored["error"]["message"]
    assert harness.calls() == 0
    # Not a poison job: no DLQ copy
    assert harness.receive(harness.resources.dlq_url) == []


@pytest.mark.parametrize(("crashed", "runs"), [(2, True), (3, False)])
def test_attempts_spent_by_crashes_count_against_the_budget(
    harness: Any, monkeypatch: pytest.MonkeyPatch, crashed: int, runs: bool
) -> None:
    # GIVEN a budget of 3 and a job whose earlier attempts died holding it (lease expired)
    monkeypatch.setenv("JOB_MAX_ATTEMPTS", "3")
    job = harness.submit()
    harness.put_job(
        job.job_id,
        status="running",
        attempts={"N": str(crashed)},
        lease_owner={"S": "crashed-invocation"},
        lease_expires_at={"N": "1000"},
    )
    assert harness.invoke(job.record) == {"batchItemFailures": []}
    stored = harness.job(job.job_id)
    # THEN the third attempt still runs; a fourth never reaches the LLM
    if runs:
        assert (stored["status"], stored["attempts"], harness.calls()) == ("succeeded", 3, 1)
        return
    assert (stored["status"], stored["error"]["code"]) == ("failed", "retries_exhausted")
    assert stored["error"]["message"].startswith("gave up after 3 attempts")
    assert harness.calls() == 0
    assert len(harness.receive(harness.resources.dlq_url)) == 1


def test_a_record_never_started_is_redelivered_when_sqs_refuses_its_re_send(
    harness: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN one record at a time, a 3 s LLM, 1.5 s left, and SQS refusing the worker's sends
    monkeypatch.setenv("WORKER_MAX_CONCURRENCY", "1")
    harness.llm.config.latency_seconds = 3.0
    _refuse_sends(monkeypatch)
    first = harness.submit("Ann is 30 years old")
    second = harness.submit("Bob is 40 years old")
    response = harness.invoke(first.record, second.record, timeout_seconds=1.5)
    # THEN both old messages are reported instead, and neither job spent an attempt
    assert harness.failed_ids(response) == {first.record["messageId"], second.record["messageId"]}
    for job in (first, second):
        stored = harness.job(job.job_id)
        assert (stored["status"], stored["attempts"]) == ("queued", 0)
