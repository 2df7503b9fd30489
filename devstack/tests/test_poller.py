"""The ESM emulation itself: what it deletes, what it leaves for redelivery, what it sends."""

from __future__ import annotations

import threading
import time
from typing import Any

import boto3
import pytest

from devstack.lambda_runtime import LambdaContext
from devstack.poller import PollerSettings, SqsPoller
from devstack.resources import StackResources
from devstack.testing import TEST_REGION


def _settings(aws: StackResources, **overrides: Any) -> PollerSettings:
    values: dict[str, Any] = {
        "queue_url": aws.queue_url,
        "queue_arn": aws.queue_arn,
        "region": TEST_REGION,
        "batch_size": 5,
        "batching_window_seconds": 0.1,
        "max_concurrency": 1,
        "function_timeout_seconds": 2.0,
        "wait_time_seconds": 0,
    }
    values.update(overrides)
    return PollerSettings(**values)


def _send(sqs: Any, queue_url: str, bodies: list[str]) -> None:
    for body in bodies:
        sqs.send_message(QueueUrl=queue_url, MessageBody=body)


def _run_until(poller: SqsPoller, condition: Any, timeout: float = 10.0) -> None:
    poller.start()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and not condition():
            time.sleep(0.05)
    finally:
        poller.stop()
    assert condition(), f"condition not met; stats={poller.stats}"


def _visible_and_inflight(sqs: Any, queue_url: str) -> tuple[int, int]:
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    attrs = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=names)["Attributes"]
    return int(attrs[names[0]]), int(attrs[names[1]])


def test_event_has_lambda_record_shape_and_context_deadline(aws: StackResources) -> None:
    sqs = boto3.client("sqs", region_name=TEST_REGION)
    _send(sqs, aws.queue_url, ["one"])
    seen: list[tuple[dict[str, Any], int]] = []

    def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        seen.append((event, context.get_remaining_time_in_millis()))
        return {"batchItemFailures": []}

    _run_until(SqsPoller(sqs=sqs, settings=_settings(aws), handler=handler), lambda: seen)

    record = seen[0][0]["Records"][0]
    assert set(record) == {
        "messageId",
        "receiptHandle",
        "body",
        "attributes",
        "messageAttributes",
        "md5OfBody",
        "eventSource",
        "eventSourceARN",
        "awsRegion",
    }
    assert record["body"] == "one"
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == aws.queue_arn
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert 0 < seen[0][1] <= 2000


def test_reported_failures_stay_and_the_rest_are_deleted(aws: StackResources) -> None:
    sqs = boto3.client("sqs", region_name=TEST_REGION)
    _send(sqs, aws.queue_url, ["ok-1", "fail", "ok-2"])

    def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        failures = [
            {"itemIdentifier": r["messageId"]} for r in event["Records"] if r["body"] == "fail"
        ]
        return {"batchItemFailures": failures}

    poller = SqsPoller(sqs=sqs, settings=_settings(aws), handler=handler)
    _run_until(poller, lambda: poller.stats.records >= 3)

    assert poller.stats.deleted == 2
    assert poller.stats.reported_failures == 1
    assert _visible_and_inflight(sqs, aws.queue_url) == (0, 1)


@pytest.mark.parametrize(
    "behaviour",
    ["raises", "malformed", "unknown-id", "overruns-timeout"],
)
def test_failed_invocation_returns_the_whole_batch(aws: StackResources, behaviour: str) -> None:
    sqs = boto3.client("sqs", region_name=TEST_REGION)
    _send(sqs, aws.queue_url, ["a", "b"])
    release = threading.Event()

    def handler(event: dict[str, Any], context: LambdaContext) -> Any:
        if behaviour == "raises":
            raise RuntimeError("boom")
        if behaviour == "malformed":
            return {"unexpected": True}
        if behaviour == "unknown-id":
            return {"batchItemFailures": [{"itemIdentifier": "not-in-this-batch"}]}
        release.wait(5)
        return {"batchItemFailures": []}

    settings = _settings(aws, function_timeout_seconds=0.5)
    poller = SqsPoller(sqs=sqs, settings=settings, handler=handler)
    _run_until(poller, lambda: poller.stats.whole_batch_failures >= 1)
    release.set()

    assert poller.stats.deleted == 0
    assert _visible_and_inflight(sqs, aws.queue_url)[1] == 2


def test_batches_run_concurrently_up_to_max_concurrency(aws: StackResources) -> None:
    sqs = boto3.client("sqs", region_name=TEST_REGION)
    _send(sqs, aws.queue_url, [f"m{i}" for i in range(4)])
    active = 0
    peak = 0
    lock = threading.Lock()

    def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        nonlocal active, peak
        with lock:
            active += 1
            peak = max(peak, active)
        time.sleep(0.3)
        with lock:
            active -= 1
        return {"batchItemFailures": []}

    settings = _settings(aws, batch_size=1, max_concurrency=2)
    poller = SqsPoller(sqs=sqs, settings=settings, handler=handler)
    _run_until(poller, lambda: poller.stats.deleted >= 4)

    assert peak == 2
