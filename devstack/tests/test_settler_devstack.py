"""The DLQ settler in the devstack: its schedule emulation, and a dead-lettered job ending failed.

The end-to-end test starts the devstack as a subprocess (against the fake LLM of this test
process), writes a `queued` record as the API would and puts the job's message straight on the
jobs DLQ, as SQS does when a message's receives run out whatever the worker recorded.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from devstack.config import STACK_PREFIX, parse_args
from devstack.e2e_support import StackPorts, wait_for_jobs
from devstack.fake_llm import FakeLLMServer
from devstack.settler_loop import (
    FUNCTION_TIMEOUT_SECONDS,
    SettlerLoop,
)
from gen_ai_contracts.queue import QueueMessage
from gen_ai_on_aws.services.job_records import QueuedJob, queued_item

DLQ = f"{STACK_PREFIX}-jobs-dlq"
TABLE = f"{STACK_PREFIX}-jobs"


def test_the_settle_interval_defaults_to_5_s_reads_the_environment_and_0_disables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("DEVSTACK_SETTLE_INTERVAL", raising=False)
    assert parse_args([]).settle_interval_seconds == 5.0
    assert parse_args(["--settle-interval=0"]).settle_interval_seconds == 0.0
    monkeypatch.setenv("DEVSTACK_SETTLE_INTERVAL", "2.5")
    assert parse_args([]).settle_interval_seconds == 2.5
    with pytest.raises(SystemExit):
        parse_args(["--settle-interval=-1"])


def test_each_tick_invokes_the_handler_with_a_scheduled_event_and_a_lambda_deadline() -> None:
    # GIVEN a handler whose first run fails (as a crashed Lambda run would)
    calls: list[tuple[dict[str, Any], int]] = []
    ran_twice = threading.Event()

    def handler(event: dict[str, Any], context: Any) -> dict[str, int]:
        calls.append((event, context.get_remaining_time_in_millis()))
        if len(calls) == 1:
            raise RuntimeError("first run fails")
        ran_twice.set()
        return {"received": 0}

    loop = SettlerLoop(handler=handler, interval_seconds=0.05).start()
    try:
        assert ran_twice.wait(timeout=10)
    finally:
        loop.stop(timeout=10)

    # THEN the schedule kept ticking after the failure, one run at a time
    assert loop.stats.failures == 1
    assert loop.stats.runs >= 2
    event, remaining_ms = calls[1]
    assert (event["detail-type"], event["source"], event["detail"]) == (
        "Scheduled Event",
        "aws.events",
        {},
    )
    assert event["resources"][0].startswith("arn:aws:events:us-east-1:")
    assert 0 < remaining_ms <= FUNCTION_TIMEOUT_SECONDS * 1000


def test_stop_ends_the_schedule_before_its_next_tick() -> None:
    ticks: list[float] = []
    loop = SettlerLoop(handler=lambda event, context: ticks.append(1.0), interval_seconds=3600)
    loop.start()
    loop.stop(timeout=10)
    assert not loop.running
    assert ticks == []


@pytest.mark.e2e
def test_a_dead_lettered_queued_job_ends_failed_and_its_message_stays_in_the_dlq(
    start_devstack: Callable[..., Any], fake_llm: FakeLLMServer, http: httpx.Client
) -> None:
    # GIVEN a devstack whose settler runs every second
    ports = StackPorts()
    process = start_devstack(
        [*ports.args(), f"--llm-api-base={fake_llm.base_url}", "--settle-interval=1"]
    )
    assert f"DLQ settler (every 1 s on {DLQ}" in process.log_path.read_text()
    sqs, dynamodb = ports.client("sqs"), ports.client("dynamodb")
    dlq_url = sqs.get_queue_url(QueueName=DLQ)["QueueUrl"]

    # WHEN a job recorded `queued` by the API has its message dead-lettered
    job_id, now = str(uuid.uuid4()), datetime.now(UTC)
    job = QueuedJob(job_id=job_id, task="extract_user", tenant="default")
    item = queued_item(job, request_id=None, now=now, ttl_seconds=3600)
    dynamodb.put_item(TableName=TABLE, Item=item)
    message = QueueMessage(
        job_id=job_id,
        task="extract_user",
        payload={"text": "Ada is 36 years old."},
        submitted_at=now,
        tenant="default",  # the open devstack's tenant: the one that may read it
    )
    sqs.send_message(QueueUrl=dlq_url, MessageBody=message.model_dump_json())

    # THEN the settler fails it: its client sees a final state with the reason
    failed = wait_for_jobs(http, ports.api_url, [job_id], timeout=30)[job_id]
    assert failed["status"] == "failed", failed
    assert failed["error"]["code"] == "retries_exhausted", failed
    assert sum(fake_llm.llm.stats.calls.values()) == 0  # settled, never run
    # ... and the message is still in the DLQ for inspection and redrive
    assert _dlq_job_ids(sqs, dlq_url) == [job_id]


def _dlq_job_ids(sqs: Any, dlq_url: str, timeout: float = 20.0) -> list[str]:
    """The job ids of the DLQ's messages, left visible; polled, since a settler run hides the
    messages it peeks at until the run ends."""
    deadline = time.monotonic() + timeout
    while True:
        messages = sqs.receive_message(
            QueueUrl=dlq_url, MaxNumberOfMessages=10, VisibilityTimeout=0, WaitTimeSeconds=1
        ).get("Messages", [])
        if messages or time.monotonic() > deadline:
            return [json.loads(m["Body"])["job_id"] for m in messages]
