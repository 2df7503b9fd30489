"""The lanes + worker rules: encryption, redrive wiring, the 6x rule, the event source mappings."""

from __future__ import annotations

import json

import pytest

from provisioning.stack.config import DLQ_RETENTION_SECONDS, MAX_MESSAGE_BYTES

from .harness import StackRunner

QUEUE = "aws:sqs/queue:Queue"
ESM = "aws:lambda/eventSourceMapping:EventSourceMapping"
FUNCTION = "aws:lambda/function:Function"
LANE_QUEUES = ("jobs-high-queue", "jobs-queue", "jobs-low-queue")
# The normal lane keeps the original names, so an existing stack updates nothing of it.
LANE_MAPPINGS = ("jobs-high-event-source", "jobs-event-source", "jobs-low-event-source")


def test_every_queue_uses_sqs_managed_encryption_and_an_explicit_message_size(
    stack_runner: StackRunner,
) -> None:
    run = stack_runner()
    queues = run.of_type(QUEUE)
    assert {queue.name for queue in queues} == {
        "jobs-queue",
        "jobs-high-queue",
        "jobs-low-queue",
        "jobs-dlq",
        "callbacks-queue",
        "callbacks-dlq",
    }
    for queue in queues:
        assert queue.inputs["sqsManagedSseEnabled"] is True, queue.name
        assert queue.inputs["maxMessageSize"] == MAX_MESSAGE_BYTES, queue.name


def test_every_lane_redrives_to_the_one_dlq_with_the_receive_count_that_the_worker_also_reads(
    stack_runner: StackRunner,
) -> None:
    # GIVEN a non-default receive count, to prove the value flows from config
    run = stack_runner(queueMaxReceiveCount="7")
    for lane in LANE_QUEUES:
        redrive = json.loads(run.one(QUEUE, lane)["redrivePolicy"])
        assert redrive == {
            "deadLetterTargetArn": "arn:aws:sqs:us-east-1:123456789012:jobs-dlq",
            "maxReceiveCount": 7,
        }, lane
    assert run.function_env("worker")["QUEUE_MAX_RECEIVE_COUNT"] == "7"
    assert (
        run.one(QUEUE, "jobs-dlq")["messageRetentionSeconds"] == DLQ_RETENTION_SECONDS == 14 * 86400
    )


def test_only_the_three_lanes_may_dead_letter_into_the_jobs_dlq(stack_runner: StackRunner) -> None:
    run = stack_runner()
    allow = run.one("aws:sqs/redriveAllowPolicy:RedriveAllowPolicy", "jobs-dlq-redrive-allow")
    assert json.loads(allow["redriveAllowPolicy"]) == {
        "redrivePermission": "byQueue",
        "sourceQueueArns": [
            "arn:aws:sqs:us-east-1:123456789012:jobs-high-queue",
            "arn:aws:sqs:us-east-1:123456789012:jobs-queue",
            "arn:aws:sqs:us-east-1:123456789012:jobs-low-queue",
        ],
    }
    # The callbacks DLQ still takes from the callbacks queue only
    callbacks = run.one(
        "aws:sqs/redriveAllowPolicy:RedriveAllowPolicy", "callbacks-dlq-redrive-allow"
    )
    assert json.loads(callbacks["redriveAllowPolicy"])["sourceQueueArns"] == [
        "arn:aws:sqs:us-east-1:123456789012:callbacks-queue"
    ]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_lanes_share_visibility_retention_and_size(
    stack_runner: StackRunner, stack: str
) -> None:
    run = stack_runner(stack, queueRetentionSeconds="86400", workerTimeoutSeconds="100")
    shapes = {
        lane: {
            key: run.one(QUEUE, lane)[key]
            for key in (
                "visibilityTimeoutSeconds",
                "messageRetentionSeconds",
                "maxMessageSize",
                "sqsManagedSseEnabled",
            )
        }
        for lane in LANE_QUEUES
    }
    assert shapes["jobs-queue"] == {
        "visibilityTimeoutSeconds": 601,
        "messageRetentionSeconds": 86400,
        "maxMessageSize": MAX_MESSAGE_BYTES,
        "sqsManagedSseEnabled": True,
    }
    assert shapes["jobs-high-queue"] == shapes["jobs-queue"] == shapes["jobs-low-queue"]


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


def test_each_lane_has_its_own_mapping_reporting_item_failures_with_its_own_concurrency(
    stack_runner: StackRunner,
) -> None:
    run = stack_runner(
        laneConcurrency=json.dumps({"high": 6, "low": 3}),
        eventSourceMaxConcurrency="4",
        batchSize="8",
        batchingWindowSeconds="2",
    )
    mappings = {mapping.name: mapping.inputs for mapping in run.of_type(ESM)}
    lanes = {name: mappings[name] for name in LANE_MAPPINGS}
    for name, mapping in lanes.items():
        assert mapping["functionResponseTypes"] == ["ReportBatchItemFailures"], name
        assert mapping["batchSize"] == 8
        assert mapping["maximumBatchingWindowInSeconds"] == 2
        assert mapping["functionName"] == "arn:aws:lambda:us-east-1:123456789012:function/worker"
    assert {name: m["eventSourceArn"].rsplit(":", 1)[1] for name, m in lanes.items()} == {
        "jobs-high-event-source": "jobs-high-queue",
        "jobs-event-source": "jobs-queue",
        "jobs-low-event-source": "jobs-low-queue",
    }
    assert {name: m["scalingConfig"] for name, m in lanes.items()} == {
        "jobs-high-event-source": {"maximumConcurrency": 6},
        "jobs-event-source": {"maximumConcurrency": 4},
        "jobs-low-event-source": {"maximumConcurrency": 3},
    }
    assert set(mappings) == {*LANE_MAPPINGS, "callbacks-event-source"}


@pytest.mark.parametrize(
    ("stack", "overrides", "expected"),
    [
        # high as wide as normal, low half of normal, never below the AWS minimum of 2
        ("dev", {}, (2, 2, 2)),
        ("prod", {}, (10, 10, 5)),
        ("dev", {"eventSourceMaxConcurrency": "5"}, (5, 5, 2)),
        ("prod", {"laneConcurrency": json.dumps({"normal": 10, "high": 20})}, (20, 10, 5)),
    ],
    ids=["dev", "prod", "five", "high-override"],
)
def test_lane_concurrency_defaults_follow_the_normal_lane(
    stack_runner: StackRunner, stack: str, overrides: dict[str, str], expected: tuple[int, ...]
) -> None:
    run = stack_runner(stack, **overrides)
    caps = tuple(
        run.one(ESM, name)["scalingConfig"]["maximumConcurrency"] for name in LANE_MAPPINGS
    )
    assert caps == expected


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
    assert env["QUEUE_URL_HIGH"] == run.outputs["queue_url_high"]
    assert env["QUEUE_URL_LOW"] == run.outputs["queue_url_low"]
    assert env["DLQ_URL"] == run.outputs["dlq_url"]
    assert env["JOBS_TABLE_NAME"] == run.outputs["jobs_table_name"]
    assert env["LLM_STATE_TABLE_NAME"] == run.outputs["llm_state_table_name"]
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
    for name in LANE_MAPPINGS:
        assert run.one(ESM, name)["functionName"].endswith("alias/live"), name


def test_without_snap_start_there_is_no_alias_and_no_published_version(
    stack_runner: StackRunner,
) -> None:
    run = stack_runner()
    assert run.of_type("aws:lambda/alias:Alias") == []
    assert "snapStart" not in run.one(FUNCTION, "worker")
