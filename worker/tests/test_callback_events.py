"""The worker queues a finished job's webhook event before acknowledging its message.

No event is lost: a send that fails, or a process that dies between the final write and the
send, leaves the job's message to come back, and the duplicate delivery queues the event again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError

from gen_ai_contracts.webhooks import CallbackEvent, webhook_id
from worker.services import outcomes

from .conftest import JASON, CallbackHarness, callback_attributes

HOOK = "https://hooks.example.com/jobs?token=s3cr3t"


def only_event(callbacks: CallbackHarness) -> CallbackEvent:
    events = callbacks.events()
    assert len(events) == 1, events
    return CallbackEvent.model_validate(events[0])


def test_a_succeeded_job_with_a_callback_url_queues_one_job_succeeded_event(
    callbacks: CallbackHarness,
) -> None:
    # GIVEN a job submitted with a callback_url
    job = callbacks.submit_with_callback(HOOK)
    # WHEN the worker runs it
    assert callbacks.invoke(job.record) == {"batchItemFailures": []}
    # THEN one event names the job, its final type, a stable id and the final write's time
    event = only_event(callbacks)
    stored = callbacks.job(job.job_id)
    assert (event.job_id, event.type) == (job.job_id, "job.succeeded")
    assert event.webhook_id == webhook_id(job.job_id, "job.succeeded")
    assert event.occurred_at == datetime.fromisoformat(stored["updated_at"])
    assert stored["callback"] == {"status": "pending", "attempts": 0}


def test_a_terminally_failed_job_queues_job_failed(callbacks: CallbackHarness) -> None:
    job = callbacks.submit_with_callback(HOOK, "Nobody is described here !invalid")
    assert callbacks.invoke(job.record) == {"batchItemFailures": []}
    assert callbacks.job(job.job_id)["status"] == "failed"
    assert only_event(callbacks).type == "job.failed"


def test_retries_exhausted_queues_job_failed_and_copies_the_message_to_the_dlq(
    callbacks: CallbackHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a provider that keeps failing, on the job's last attempt
    monkeypatch.setenv("JOB_MAX_ATTEMPTS", "1")
    job = callbacks.submit_with_callback(HOOK, "Jason is 25 years old !500")
    # WHEN the worker gives up on it
    response = callbacks.invoke(job.record)
    # THEN the job is failed, its event queued, and its message copied to the DLQ
    assert response == {"batchItemFailures": []}
    assert callbacks.job(job.job_id)["error"]["code"] == "retries_exhausted"
    assert only_event(callbacks).type == "job.failed"
    assert len(callbacks.receive(callbacks.resources.dlq_url)) == 1


def test_a_job_without_callback_url_queues_nothing(callbacks: CallbackHarness) -> None:
    job = callbacks.submit(JASON)
    assert callbacks.invoke(job.record) == {"batchItemFailures": []}
    assert callbacks.events() == []


def test_a_failed_send_reports_the_record_and_its_redelivery_queues_the_event(
    callbacks: CallbackHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the callbacks queue refuses the first send
    real_send = outcomes.queue_event
    failures = iter([True])

    def flaky_send(*args: Any) -> None:
        if next(failures, False):
            raise ClientError({"Error": {"Code": "ServiceUnavailable"}}, "SendMessage")
        real_send(*args)

    monkeypatch.setattr(outcomes, "queue_event", flaky_send)
    job = callbacks.submit_with_callback(HOOK)
    # WHEN the job succeeds but its event cannot be queued
    response = callbacks.invoke(job.record)
    # THEN the job stays succeeded and its message is not acknowledged
    assert callbacks.failed_ids(response) == {job.record["messageId"]}
    assert callbacks.job(job.job_id)["status"] == "succeeded"
    assert callbacks.events() == []
    # AND WHEN SQS delivers the message again, the event is queued without another LLM call
    assert callbacks.invoke(callbacks.deliver(job.body)) == {"batchItemFailures": []}
    assert only_event(callbacks).type == "job.succeeded"
    assert callbacks.calls(JASON) == 1


def test_a_worker_that_died_after_the_final_write_loses_no_event(
    callbacks: CallbackHarness,
) -> None:
    # GIVEN a job a crashed attempt finished without queueing its event (state as it left it)
    job = callbacks.submit_with_callback(HOOK)
    callbacks.put_job(
        job.job_id,
        status="succeeded",
        attempts={"N": "1"},
        result={"S": '{"name": "Jason", "age": 25, "email": null}'},
        **callback_attributes(HOOK),
    )
    # WHEN its message comes back (the crashed invocation never acknowledged it)
    assert callbacks.invoke(job.record) == {"batchItemFailures": []}
    # THEN the duplicate delivery queues the event, and the LLM is not called
    assert only_event(callbacks).webhook_id == webhook_id(job.job_id, "job.succeeded")
    assert callbacks.calls(JASON) == 0


@pytest.mark.parametrize("settled", ["delivered", "failed"])
def test_a_duplicate_of_a_job_whose_webhook_is_settled_queues_nothing(
    callbacks: CallbackHarness, settled: str
) -> None:
    job = callbacks.submit_with_callback(HOOK)
    state = {"M": {"status": {"S": settled}, "attempts": {"N": "1"}}}
    callbacks.put_job(
        job.job_id, status="succeeded", callback_url={"S": HOOK}, callback=state, result={"S": "{}"}
    )
    assert callbacks.invoke(job.record) == {"batchItemFailures": []}
    assert callbacks.events() == []


def test_a_cancelled_job_still_owing_its_event_gets_job_cancelled_without_the_llm(
    callbacks: CallbackHarness,
) -> None:
    # GIVEN a job the API cancelled (it queues the event itself; it may have died first)
    job = callbacks.submit_with_callback(HOOK)
    callbacks.put_job(job.job_id, status="cancelled", **callback_attributes(HOOK))
    # WHEN the job's message arrives
    assert callbacks.invoke(job.record) == {"batchItemFailures": []}
    # THEN it is acknowledged without an LLM call and the cancellation's event is queued
    assert callbacks.calls(JASON) == 0
    assert callbacks.job(job.job_id)["status"] == "cancelled"
    assert only_event(callbacks).type == "job.cancelled"


def test_without_callbacks_queue_url_the_record_is_reported_not_acknowledged(
    callbacks: CallbackHarness, monkeypatch: pytest.MonkeyPatch, captured_logs: Any
) -> None:
    monkeypatch.delenv("CALLBACKS_QUEUE_URL")
    job = callbacks.submit_with_callback(HOOK)
    response = callbacks.invoke(job.record)
    assert callbacks.failed_ids(response) == {job.record["messageId"]}
    [line] = captured_logs.with_message("webhook event not queued")
    assert "CALLBACKS_QUEUE_URL" in line["reason"]
    assert "s3cr3t" not in captured_logs.text


def test_every_copy_of_an_event_has_the_same_webhook_id(callbacks: CallbackHarness) -> None:
    job = callbacks.submit_with_callback(HOOK)
    callbacks.invoke(job.record)
    callbacks.invoke(callbacks.deliver(job.body))  # a duplicate delivery queues it again
    events = [CallbackEvent.model_validate(body) for body in callbacks.events()]
    assert len(events) == 2
    assert {event.webhook_id for event in events} == {webhook_id(job.job_id, "job.succeeded")}
    assert len({event.occurred_at for event in events}) == 1
