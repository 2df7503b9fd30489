"""Webhook delivery (`worker.callbacks`): signed per Standard Webhooks, bounded retries, SSRF.

A local receiver on 127.0.0.1 (started and stopped by each test) answers as scripted; events
come from the worker itself (a job run with a callback_url), so the whole path is exercised.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError
from standardwebhooks import Webhook

from devstack.webhook_receiver import WebhookReceiver
from gen_ai_contracts.settings import ConfigurationError
from gen_ai_contracts.webhooks import webhook_id
from worker.callbacks import sender
from worker.callbacks.store import CallbackStore

from .conftest import WEBHOOK_SECRET, CallbackHarness

JASON_USER = {"name": "Jason", "age": 25, "email": None}


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as started:
        yield started


def finished_job_with_event(callbacks: CallbackHarness, url: str, text: str | None = None) -> str:
    """Run a job with `callback_url` through the worker; its event is then on the queue."""
    job = callbacks.submit_with_callback(url, *([text] if text else []))
    assert callbacks.invoke(job.record) == {"batchItemFailures": []}
    return job.job_id


def verified(request: Any) -> dict[str, Any]:
    """The body, after checking the signature as a receiver would (5-minute tolerance)."""
    return dict(Webhook(WEBHOOK_SECRET).verify(request.body, request.headers))


def test_a_final_job_sends_exactly_one_validly_signed_webhook(
    callbacks: CallbackHarness, receiver: WebhookReceiver
) -> None:
    # GIVEN a job that succeeded with a callback_url, its event queued
    job_id = finished_job_with_event(callbacks, receiver.url)
    # WHEN the delivery function gets the event
    response = callbacks.deliver_events(callbacks.event_record())
    # THEN one request arrived, signed per Standard Webhooks, with the job as GET shows it
    assert response == {"batchItemFailures": []}
    [request] = receiver.requests
    body = verified(request)
    assert body["type"] == "job.succeeded"
    assert body["data"]["job_id"] == job_id
    assert (body["data"]["status"], body["data"]["result"]) == ("succeeded", JASON_USER)
    assert "callback_url" not in body["data"]
    stored = callbacks.job(job_id)
    assert body["timestamp"] == stored["updated_at"]
    assert request.headers["webhook-id"] == webhook_id(job_id, "job.succeeded")
    assert abs(int(request.headers["webhook-timestamp"]) - time.time()) < 5
    assert request.headers["webhook-signature"].startswith("v1,")
    assert request.headers["content-type"] == "application/json"
    # AND the job shows the webhook delivered
    assert stored["callback"] == {"status": "delivered", "attempts": 1, "last_status_code": 200}


def test_a_second_copy_of_a_delivered_event_sends_nothing(
    callbacks: CallbackHarness, receiver: WebhookReceiver
) -> None:
    job_id = finished_job_with_event(callbacks, receiver.url)
    [event] = callbacks.events()
    callbacks.deliver_events(callbacks.event_record())
    # WHEN a duplicate of the event (a re-enqueue by a duplicate job delivery) arrives
    callbacks.send_event(json.dumps(event))
    response = callbacks.deliver_events(callbacks.event_record())
    # THEN it is acknowledged without a second request
    assert response == {"batchItemFailures": []}
    assert len(receiver.requests) == 1
    assert callbacks.job(job_id)["callback"]["attempts"] == 1


def test_a_receiver_failing_twice_gets_the_event_three_times_with_one_webhook_id(
    callbacks: CallbackHarness,
) -> None:
    with WebhookReceiver(statuses=[500, 500]) as receiver:
        job_id = finished_job_with_event(callbacks, receiver.url)
        record = callbacks.event_record()
        # WHEN the event is received for the 1st and 2nd time: both attempts get a 500
        for receives in (1, 2):
            assert record["attributes"]["ApproximateReceiveCount"] == str(receives)
            response = callbacks.deliver_events(record)
            # THEN the record is reported and hidden for the back-off (not visible at once)
            assert callbacks.failed_ids(response) == {record["messageId"]}
            assert callbacks.receive(callbacks.resources.callbacks_queue_url) == []
            state = callbacks.job(job_id)["callback"]
            assert state == {"status": "pending", "attempts": receives, "last_status_code": 500}
            record = callbacks.again(record)
        # AND the third receive is answered 200
        assert callbacks.deliver_events(record) == {"batchItemFailures": []}
        requests = receiver.requests
    assert len(requests) == 3
    assert {request.headers["webhook-id"] for request in requests} == {
        webhook_id(job_id, "job.succeeded")
    }
    assert all(verified(request)["type"] == "job.succeeded" for request in requests)
    stored = callbacks.job(job_id)["callback"]
    assert stored == {"status": "delivered", "attempts": 3, "last_status_code": 200}


def test_a_redirect_is_not_followed(callbacks: CallbackHarness, monkeypatch: Any) -> None:
    monkeypatch.setenv("WEBHOOK_MAX_ATTEMPTS", "1")
    with (
        WebhookReceiver() as elsewhere,
        WebhookReceiver(statuses=[302], redirect_to=elsewhere.url) as receiver,
    ):
        job_id = finished_job_with_event(callbacks, receiver.url)
        response = callbacks.deliver_events(callbacks.event_record())
        assert len(receiver.requests) == 1
        assert elsewhere.requests == []
    # A 3xx is an answer like any other non-2xx: with one attempt allowed, the webhook failed
    assert response == {"batchItemFailures": []}
    state = callbacks.job(job_id)["callback"]
    assert state == {"status": "failed", "attempts": 1, "last_status_code": 302}


def test_after_webhook_max_attempts_the_webhook_is_failed_and_the_event_acknowledged(
    callbacks: CallbackHarness, monkeypatch: Any
) -> None:
    monkeypatch.setenv("WEBHOOK_MAX_ATTEMPTS", "2")
    with WebhookReceiver(default_status=503) as receiver:
        job_id = finished_job_with_event(callbacks, receiver.url)
        first = callbacks.event_record()
        assert callbacks.failed_ids(callbacks.deliver_events(first)) == {first["messageId"]}
        # WHEN the last allowed attempt fails too
        response = callbacks.deliver_events(callbacks.again(first))
        # THEN the event is acknowledged and the job shows the webhook failed
        assert response == {"batchItemFailures": []}
        assert len(receiver.requests) == 2
    state = callbacks.job(job_id)["callback"]
    assert state == {"status": "failed", "attempts": 2, "last_status_code": 503}


def test_an_unreachable_receiver_counts_an_attempt_without_a_status_code(
    callbacks: CallbackHarness,
) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    job_id = finished_job_with_event(callbacks, f"http://127.0.0.1:{port}/hooks")
    record = callbacks.event_record()
    assert callbacks.failed_ids(callbacks.deliver_events(record)) == {record["messageId"]}
    state = callbacks.job(job_id)["callback"]
    assert state == {"status": "pending", "attempts": 1, "last_status_code": None}


def test_a_receiver_slower_than_the_timeout_is_a_failed_attempt(
    callbacks: CallbackHarness, monkeypatch: Any
) -> None:
    # GIVEN a 0.5 s bound on the attempt (5 s deployed) and a receiver that takes 2 s
    monkeypatch.setattr(sender, "WEBHOOK_TIMEOUT_SECONDS", 0.5)
    with WebhookReceiver(delays=[2.0]) as receiver:
        job_id = finished_job_with_event(callbacks, receiver.url)
        started = time.monotonic()
        record = callbacks.event_record()
        assert callbacks.failed_ids(callbacks.deliver_events(record)) == {record["messageId"]}
        assert time.monotonic() - started < 1.5
    state = callbacks.job(job_id)["callback"]
    assert state == {"status": "pending", "attempts": 1, "last_status_code": None}


def test_a_name_resolving_to_loopback_is_refused_at_delivery_without_a_request(
    callbacks: CallbackHarness,
    receiver: WebhookReceiver,
    monkeypatch: pytest.MonkeyPatch,
    captured_logs: Any,
) -> None:
    # GIVEN a callback URL that passed the submit check (a public-looking https name) ...
    url = f"https://hooks.example.com:{receiver.port}/jobs?token=s3cr3t"
    job_id = finished_job_with_event(callbacks, url)
    # ... whose name now resolves to 127.0.0.1 (DNS rebinding), in a stack
    monkeypatch.delenv("WEBHOOK_ALLOW_PRIVATE_TARGETS")
    callbacks.cold_start()
    resolved: list[str] = []

    def rebound(host: str, port: Any, *args: Any, **kwargs: Any) -> Any:
        resolved.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", int(port)))]

    monkeypatch.setattr(socket, "getaddrinfo", rebound)
    # WHEN the event is delivered
    response = callbacks.deliver_events(callbacks.event_record())
    # THEN nothing is sent, the webhook is failed with no status code, the event acknowledged
    assert response == {"batchItemFailures": []}
    assert resolved == ["hooks.example.com"]
    assert receiver.requests == []
    state = callbacks.job(job_id)["callback"]
    assert state == {"status": "failed", "attempts": 0, "last_status_code": None}
    [line] = captured_logs.with_message("webhook target refused")
    assert line["reason"] == "must not point at a private, local or reserved address"
    assert "s3cr3t" not in captured_logs.text
    assert "hooks.example.com" not in captured_logs.text


def test_a_plain_http_url_is_refused_at_delivery_in_a_stack(
    callbacks: CallbackHarness, receiver: WebhookReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    job_id = finished_job_with_event(callbacks, receiver.url)
    monkeypatch.delenv("WEBHOOK_ALLOW_PRIVATE_TARGETS")
    callbacks.cold_start()
    assert callbacks.deliver_events(callbacks.event_record()) == {"batchItemFailures": []}
    assert receiver.requests == []
    assert callbacks.job(job_id)["callback"]["status"] == "failed"


def test_a_delivery_that_dies_before_recording_the_outcome_is_retried_with_the_same_id(
    callbacks: CallbackHarness, receiver: WebhookReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the jobs table fails right after the receiver answered 200
    real_settle = CallbackStore.settle
    failures = iter([True])

    def flaky_settle(self: CallbackStore, *args: Any, **kwargs: Any) -> bool:
        if next(failures, False):
            raise ClientError({"Error": {"Code": "InternalServerError"}}, "UpdateItem")
        return real_settle(self, *args, **kwargs)

    monkeypatch.setattr(CallbackStore, "settle", flaky_settle)
    job_id = finished_job_with_event(callbacks, receiver.url)
    record = callbacks.event_record()
    # WHEN the outcome cannot be recorded, the event is not acknowledged ...
    assert callbacks.failed_ids(callbacks.deliver_events(record)) == {record["messageId"]}
    assert callbacks.job(job_id)["callback"]["status"] == "pending"
    # ... so its next receive delivers it again, under the same webhook-id (receivers dedupe)
    assert callbacks.deliver_events(callbacks.again(record)) == {"batchItemFailures": []}
    ids = [request.headers["webhook-id"] for request in receiver.requests]
    assert ids == [webhook_id(job_id, "job.succeeded")] * 2
    assert callbacks.job(job_id)["callback"]["status"] == "delivered"


def test_an_invocation_that_never_returns_leaves_the_event_on_the_queue(
    callbacks: CallbackHarness, receiver: WebhookReceiver
) -> None:
    # GIVEN a delivery function killed mid-batch (it never answered, so nothing was deleted)
    job_id = finished_job_with_event(callbacks, receiver.url)
    lost = callbacks.event_record()
    # WHEN the visibility timeout ends, SQS hands the same message out again
    again = callbacks.again(lost)
    assert again["messageId"] == lost["messageId"]
    # THEN it is delivered once
    assert callbacks.deliver_events(again) == {"batchItemFailures": []}
    assert len(receiver.requests) == 1
    assert callbacks.job(job_id)["callback"]["status"] == "delivered"


def test_a_job_failed_event_carries_the_error(
    callbacks: CallbackHarness, receiver: WebhookReceiver
) -> None:
    job_id = finished_job_with_event(callbacks, receiver.url, "Nobody here !invalid")
    callbacks.deliver_events(callbacks.event_record())
    body = verified(receiver.requests[0])
    assert body["type"] == "job.failed"
    assert body["data"]["job_id"] == job_id
    assert body["data"]["error"]["code"] == "extraction_failed"


@pytest.mark.parametrize(
    "body",
    ["{not json", json.dumps({"hello": "world"}), json.dumps({"version": 2, "job_id": "x"})],
    ids=["not-json", "not-an-event", "wrong-version"],
)
def test_a_message_that_is_not_an_event_is_acknowledged_and_logged(
    callbacks: CallbackHarness, body: str, captured_logs: Any
) -> None:
    callbacks.send_event(body)
    assert callbacks.deliver_events(callbacks.event_record()) == {"batchItemFailures": []}
    assert captured_logs.with_message("callback message is not an event; acknowledged")


def test_an_event_for_a_vanished_job_is_acknowledged(
    callbacks: CallbackHarness, receiver: WebhookReceiver
) -> None:
    job_id = finished_job_with_event(callbacks, receiver.url)
    callbacks.dynamodb.delete_item(
        TableName=callbacks.resources.table_name, Key={"job_id": {"S": job_id}}
    )
    assert callbacks.deliver_events(callbacks.event_record()) == {"batchItemFailures": []}
    assert receiver.requests == []


def test_logs_name_the_job_and_attempt_but_never_the_callback_url(
    callbacks: CallbackHarness, captured_logs: Any
) -> None:
    with WebhookReceiver(statuses=[500]) as receiver:
        url = receiver.url_for("/hooks/jobs?token=s3cr3t-token")
        job_id = finished_job_with_event(callbacks, url)
        record = callbacks.event_record()
        callbacks.deliver_events(record)
        callbacks.deliver_events(callbacks.again(record))
    [failed] = captured_logs.with_message("webhook attempt failed; retrying")
    [delivered] = captured_logs.with_message("webhook delivered")
    assert (failed["job_id"], failed["attempt"], failed["status_code"]) == (job_id, 1, 500)
    assert (delivered["attempt"], delivered["status_code"]) == (2, 200)
    assert delivered["webhook_id"] == webhook_id(job_id, "job.succeeded")
    assert "s3cr3t-token" not in captured_logs.text
    assert "/hooks/jobs" not in captured_logs.text


@pytest.mark.parametrize(
    ("secret", "problem"),
    [
        (None, "is not set"),
        ("not-a-whsec", "must start with whsec_"),
        ("whsec_***not base64***", "is not base64"),
        ("whsec_c2hvcnQ=", "holds 5 bytes"),
    ],
)
def test_a_delivery_function_without_a_valid_signing_secret_fails_loudly(
    callbacks: CallbackHarness, monkeypatch: pytest.MonkeyPatch, secret: str | None, problem: str
) -> None:
    if secret is None:
        monkeypatch.delenv("WEBHOOK_SIGNING_SECRET")
    else:
        monkeypatch.setenv("WEBHOOK_SIGNING_SECRET", secret)
    callbacks.send_event("{}")
    with pytest.raises(ConfigurationError, match=f"WEBHOOK_SIGNING_SECRET {problem}") as error:
        callbacks.deliver_events(callbacks.event_record())
    assert secret is None or secret.removeprefix("whsec_") not in str(error.value)


def test_the_timestamp_header_is_the_attempt_time_and_the_body_timestamp_the_event_time(
    callbacks: CallbackHarness,
) -> None:
    with WebhookReceiver(statuses=[500]) as receiver:
        finished_job_with_event(callbacks, receiver.url)
        record = callbacks.event_record()
        callbacks.deliver_events(record)
        time.sleep(1.1)
        callbacks.deliver_events(callbacks.again(record))
        first, second = receiver.requests
    assert int(second.headers["webhook-timestamp"]) > int(first.headers["webhook-timestamp"])
    assert verified(first)["timestamp"] == verified(second)["timestamp"]
    event_time = datetime.fromisoformat(verified(first)["timestamp"])
    assert event_time < datetime.now(UTC)
