"""The queue + worker rules: encryption, redrive wiring, the 6x rule, the event source mapping."""

from __future__ import annotations

import json

import pytest

from provisioning.stack.config import DLQ_RETENTION_SECONDS, MAX_MESSAGE_BYTES

from .harness import StackRunner

QUEUE = "aws:sqs/queue:Queue"
ESM = "aws:lambda/eventSourceMapping:EventSourceMapping"
FUNCTION = "aws:lambda/function:Function"


def test_every_queue_uses_sqs_managed_encryption_and_an_explicit_message_size(
    stack_runner: StackRunner,
) -> None:
    run = stack_runner()
    queues = run.of_type(QUEUE)
    assert {queue.name for queue in queues} == {
        "jobs-queue",
        "jobs-dlq",
        "callbacks-queue",
        "callbacks-dlq",
    }
    for queue in queues:
        assert queue.inputs["sqsManagedSseEnabled"] is True, queue.name
        assert queue.inputs["maxMessageSize"] == MAX_MESSAGE_BYTES, queue.name


def test_redrive_targets_the_dlq_with_the_configured_receive_count_that_the_worker_also_reads(
    stack_runner: StackRunner,
) -> None:
    # GIVEN a non-default receive count, to prove the value flows from config
    run = stack_runner(queueMaxReceiveCount="7")
    redrive = json.loads(run.one(QUEUE, "jobs-queue")["redrivePolicy"])
    assert redrive == {
        "deadLetterTargetArn": "arn:aws:sqs:us-east-1:123456789012:jobs-dlq",
        "maxReceiveCount": 7,
    }
    assert run.function_env("worker")["QUEUE_MAX_RECEIVE_COUNT"] == "7"
    assert (
        run.one(QUEUE, "jobs-dlq")["messageRetentionSeconds"] == DLQ_RETENTION_SECONDS == 14 * 86400
    )


def test_only_the_job_queue_may_dead_letter_into_the_dlq(stack_runner: StackRunner) -> None:
    run = stack_runner()
    allow = run.one("aws:sqs/redriveAllowPolicy:RedriveAllowPolicy", "jobs-dlq-redrive-allow")
    assert json.loads(allow["redriveAllowPolicy"]) == {
        "redrivePermission": "byQueue",
        "sourceQueueArns": ["arn:aws:sqs:us-east-1:123456789012:jobs-queue"],
    }


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_visibility_timeout_is_at_least_six_times_the_worker_timeout(
    stack_runner: StackRunner, stack: str
) -> None:
    run = stack_runner(stack, workerTimeoutSeconds="200", batchingWindowSeconds="3")
    worker_timeout = run.one(FUNCTION, "worker")["timeout"]
    assert worker_timeout == 200
    assert run.one(QUEUE, "jobs-queue")["visibilityTimeoutSeconds"] >= 6 * worker_timeout + 3


def test_a_visibility_timeout_below_six_times_the_worker_timeout_is_rejected(
    stack_runner: StackRunner,
) -> None:
    with pytest.raises(ValueError, match="queueVisibilityTimeoutSeconds must be >= 1201"):
        stack_runner(workerTimeoutSeconds="200", queueVisibilityTimeoutSeconds="1200")


def test_event_source_mapping_reports_item_failures_and_caps_concurrency(
    stack_runner: StackRunner,
) -> None:
    run = stack_runner(eventSourceMaxConcurrency="4", batchSize="8", batchingWindowSeconds="2")
    mapping = run.one(ESM, "jobs-event-source")
    assert mapping["functionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["scalingConfig"] == {"maximumConcurrency": 4}
    assert mapping["batchSize"] == 8
    assert mapping["maximumBatchingWindowInSeconds"] == 2
    assert mapping["eventSourceArn"] == "arn:aws:sqs:us-east-1:123456789012:jobs-queue"
    assert mapping["functionName"] == "arn:aws:lambda:us-east-1:123456789012:function/worker"


def test_worker_function_takes_runtime_architecture_memory_and_environment_from_config(
    stack_runner: StackRunner,
) -> None:
    run = stack_runner(
        workerMemoryMb="2048", workerMaxConcurrency="3", llmApiBase="http://llm.internal/v1"
    )
    worker = run.one(FUNCTION, "worker")
    assert (worker["runtime"], worker["architectures"], worker["memorySize"]) == (
        "python3.12",
        ["arm64"],
        2048,
    )
    assert worker["handler"] == "worker.main.handler"
    env = run.function_env("worker")
    assert env["QUEUE_URL"] == run.outputs["queue_url"]
    assert env["JOBS_TABLE_NAME"] == run.outputs["jobs_table_name"]
    assert env["APP_SECRET_ID"].startswith("arn:aws:secretsmanager:")
    assert env["WORKER_MAX_CONCURRENCY"] == "3"
    assert env["LLM_API_BASE"] == "http://llm.internal/v1"
    assert env["LITELLM_LOCAL_MODEL_COST_MAP"] == "True"
    assert "LLM_MODE" not in env  # unset optional settings are left to the code's defaults


def test_snap_start_publishes_a_version_and_the_queue_invokes_its_alias(
    stack_runner: StackRunner,
) -> None:
    run = stack_runner(workerSnapStart="true")
    worker = run.one(FUNCTION, "worker")
    assert worker["publish"] is True
    assert worker["snapStart"] == {"applyOn": "PublishedVersions"}
    alias = run.one("aws:lambda/alias:Alias", "jobs-live")
    assert alias["functionVersion"] == "1"
    assert run.one(ESM, "jobs-event-source")["functionName"].endswith("alias/live")


def test_without_snap_start_there_is_no_alias_and_no_published_version(
    stack_runner: StackRunner,
) -> None:
    run = stack_runner()
    assert run.of_type("aws:lambda/alias:Alias") == []
    assert "snapStart" not in run.one(FUNCTION, "worker")
