"""Webhook delivery in the stack: its queue and DLQ, its function and mapping, who may send."""

from __future__ import annotations

import importlib
import json

import pytest

from devstack.resources import CALLBACKS_REDRIVE_MARGIN as DEVSTACK_MARGIN
from devstack.resources import DEFAULT_WEBHOOK_MAX_ATTEMPTS
from provisioning.stack.callbacks import HANDLER
from provisioning.stack.config import CALLBACKS_REDRIVE_MARGIN, DLQ_RETENTION_SECONDS

from .harness import StackRunner

QUEUE = "aws:sqs/queue:Queue"
ESM = "aws:lambda/eventSourceMapping:EventSourceMapping"
FUNCTION = "aws:lambda/function:Function"
CALLBACKS_QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:callbacks-queue"
CALLBACKS_DLQ_ARN = "arn:aws:sqs:us-east-1:123456789012:callbacks-dlq"


def test_the_callbacks_queue_redrives_after_the_attempts_plus_a_margin(
    stack_runner: StackRunner,
) -> None:
    # GIVEN a non-default attempt count, to prove the value flows from config
    run = stack_runner(webhookMaxAttempts="8")
    queue = run.one(QUEUE, "callbacks-queue")
    assert json.loads(queue["redrivePolicy"]) == {
        "deadLetterTargetArn": CALLBACKS_DLQ_ARN,
        "maxReceiveCount": 8 + CALLBACKS_REDRIVE_MARGIN,
    }
    # the delivery function gives up (callback failed) before SQS would dead-letter the event
    assert run.function_env("callbacks")["WEBHOOK_MAX_ATTEMPTS"] == "8"
    assert run.one(QUEUE, "callbacks-dlq")["messageRetentionSeconds"] == DLQ_RETENTION_SECONDS


def test_the_devstack_emulates_the_same_redrive_numbers() -> None:
    assert (DEFAULT_WEBHOOK_MAX_ATTEMPTS, DEVSTACK_MARGIN) == (6, CALLBACKS_REDRIVE_MARGIN)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_callbacks_visibility_is_six_times_the_delivery_timeout(
    stack_runner: StackRunner, stack: str
) -> None:
    run = stack_runner(stack, callbacksTimeoutSeconds="40")
    delivery = run.one(FUNCTION, "callbacks")
    assert delivery["timeout"] == 40
    assert run.one(QUEUE, "callbacks-queue")["visibilityTimeoutSeconds"] >= 6 * 40


def test_only_the_callbacks_queue_may_dead_letter_into_its_dlq(stack_runner: StackRunner) -> None:
    run = stack_runner()
    allow = run.one("aws:sqs/redriveAllowPolicy:RedriveAllowPolicy", "callbacks-dlq-redrive-allow")
    assert json.loads(allow["redriveAllowPolicy"]) == {
        "redrivePermission": "byQueue",
        "sourceQueueArns": [CALLBACKS_QUEUE_ARN],
    }


def test_the_delivery_function_runs_the_worker_zip_with_its_own_handler_and_small_memory(
    stack_runner: StackRunner,
) -> None:
    run = stack_runner()
    delivery, worker = run.one(FUNCTION, "callbacks"), run.one(FUNCTION, "worker")
    assert delivery["handler"] == HANDLER == "worker.callbacks.main.handler"
    assert (delivery["memorySize"], delivery["timeout"]) == (256, 30)
    assert delivery["sourceCodeHash"] == worker["sourceCodeHash"]
    assert (delivery["runtime"], delivery["architectures"]) == (
        worker["runtime"],
        worker["architectures"],
    )
    assert delivery["role"] != worker["role"]


def test_the_handler_the_stack_names_is_importable_and_callable() -> None:
    module_name, _, attribute = HANDLER.rpartition(".")
    assert callable(getattr(importlib.import_module(module_name), attribute))


def test_the_delivery_environment_names_its_queue_the_table_and_the_secret_only(
    stack_runner: StackRunner,
) -> None:
    run = stack_runner()
    env = run.function_env("callbacks")
    assert env["CALLBACKS_QUEUE_URL"] == run.outputs["callbacks_queue_url"]
    assert env["JOBS_TABLE_NAME"] == run.outputs["jobs_table_name"]
    assert env["QUEUE_URL"] == run.outputs["queue_url"]  # required by the shared settings
    assert env["APP_SECRET_ID"].startswith("arn:aws:secretsmanager:")
    assert not [name for name in env if name.startswith(("LLM_", "LANGFUSE_"))]


@pytest.mark.parametrize("function", ["api", "worker"])
def test_the_api_and_the_worker_know_where_to_queue_callback_events(
    stack_runner: StackRunner, function: str
) -> None:
    run = stack_runner()
    assert run.function_env(function)["CALLBACKS_QUEUE_URL"] == run.outputs["callbacks_queue_url"]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_no_stack_ever_allows_private_webhook_targets(
    stack_runner: StackRunner, stack: str
) -> None:
    run = stack_runner(stack)
    for function in ("api", "worker", "callbacks"):
        assert "WEBHOOK_ALLOW_PRIVATE_TARGETS" not in run.function_env(function)
        # nor a signing secret in plain sight: it lives in the app secret
        assert "WEBHOOK_SIGNING_SECRET" not in run.function_env(function)


def test_the_delivery_mapping_reports_item_failures_and_caps_concurrency(
    stack_runner: StackRunner,
) -> None:
    run = stack_runner(callbacksMaxConcurrency="3")
    mapping = run.one(ESM, "callbacks-event-source")
    assert mapping["functionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["scalingConfig"] == {"maximumConcurrency": 3}
    assert mapping["eventSourceArn"] == CALLBACKS_QUEUE_ARN
    assert mapping["functionName"].endswith("function/callbacks")


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"webhookMaxAttempts": "51"}, "webhookMaxAttempts must be 1..50"),
        ({"callbacksTimeoutSeconds": "10"}, "callbacksTimeoutSeconds must be 15..900"),
        ({"callbacksMaxConcurrency": "1"}, "callbacksMaxConcurrency must be >= 2"),
    ],
)
def test_unusable_delivery_settings_are_rejected(
    stack_runner: StackRunner, override: dict[str, str], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        stack_runner(**override)
