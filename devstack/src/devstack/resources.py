"""Create the queues, DLQs and jobs table exactly as the Pulumi program configures them.

Used by the devstack against moto's server and by tests under ``mock_aws``, so local runs see
the same redrive rule, TTL attribute and key schema as a deployment.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

# Mirrors provisioning's defaults; provisioning/tests assert the same numbers.
MAX_MESSAGE_SIZE_BYTES = 262_144
DLQ_RETENTION_SECONDS = 14 * 24 * 3600
# The stack defaults its SQS backstop to 2 x jobMaxAttempts (10); the devstack keeps 5, the
# tighter bound, so local runs and the fault-injection tests meet dead-lettering sooner.
DEFAULT_MAX_RECEIVE_COUNT = 5
TTL_ATTRIBUTE = "expires_at"
# The LLM state table's key (items "rate#<model>#rpm", "circuit#<model>", ...).
STATE_TABLE_KEY = "pk"
# The callbacks queue redrives after WEBHOOK_MAX_ATTEMPTS (6) plus receives that never reach
# the receiver (a crashed or throttled delivery): the delivery function gives up first.
DEFAULT_WEBHOOK_MAX_ATTEMPTS = 6
CALLBACKS_REDRIVE_MARGIN = 4


@dataclass(frozen=True)
class StackResources:
    """Names and URLs of what ``create_stack_resources`` made."""

    queue_url: str  # the normal lane
    queue_arn: str
    dlq_url: str  # shared by the three lanes
    dlq_arn: str
    table_name: str
    queue_url_high: str
    queue_arn_high: str
    queue_url_low: str
    queue_arn_low: str
    state_table_name: str  # fleet-wide LLM rate limits and circuit breakers
    callbacks_queue_url: str
    callbacks_queue_arn: str
    callbacks_dlq_url: str
    callbacks_dlq_arn: str


def create_stack_resources(
    *,
    sqs: Any,
    dynamodb: Any,
    prefix: str = "gen-ai-on-aws-dev",
    visibility_timeout_seconds: int = 30,
    max_receive_count: int = DEFAULT_MAX_RECEIVE_COUNT,
    webhook_max_attempts: int = DEFAULT_WEBHOOK_MAX_ATTEMPTS,
) -> StackResources:
    """Create the three job lanes (one shared DLQ), the callbacks queue (with its DLQ), the
    jobs table and the LLM state table; idempotent."""
    queue_url, dlq_url = _queue_with_dlq(
        sqs, f"{prefix}-jobs", visibility_timeout_seconds, max_receive_count
    )
    lanes = {
        lane: _queue(
            sqs, f"{prefix}-jobs-{lane}", dlq_url, visibility_timeout_seconds, max_receive_count
        )
        for lane in ("high", "low")
    }
    callbacks_url, callbacks_dlq_url = _queue_with_dlq(
        sqs,
        f"{prefix}-callbacks",
        visibility_timeout_seconds,
        webhook_max_attempts + CALLBACKS_REDRIVE_MARGIN,
    )
    table_name = f"{prefix}-jobs"
    state_table_name = f"{prefix}-llm-state"
    existing = dynamodb.list_tables()["TableNames"]
    for name, key in ((table_name, "job_id"), (state_table_name, STATE_TABLE_KEY)):
        if name not in existing:
            _create_table(dynamodb, name, key)
    return _resources(
        sqs,
        queue_url,
        dlq_url,
        callbacks_url,
        callbacks_dlq_url,
        table_name,
        lanes["high"],
        lanes["low"],
        state_table_name,
    )


def _create_table(dynamodb: Any, name: str, key: str) -> None:
    """On-demand, one string hash key, TTL on ``expires_at``: both tables are shaped alike."""
    dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb.update_time_to_live(
        TableName=name,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE},
    )


def _queue_with_dlq(
    sqs: Any, name: str, visibility_timeout_seconds: int, max_receive_count: int
) -> tuple[str, str]:
    """A queue redriving to ``<name>-dlq`` after ``max_receive_count`` receives."""
    dlq_url = sqs.create_queue(
        QueueName=f"{name}-dlq",
        Attributes={"MessageRetentionPeriod": str(DLQ_RETENTION_SECONDS)},
    )["QueueUrl"]
    queue_url = _queue(sqs, name, dlq_url, visibility_timeout_seconds, max_receive_count)
    return queue_url, dlq_url


def _queue(
    sqs: Any, name: str, dlq_url: str, visibility_timeout_seconds: int, max_receive_count: int
) -> str:
    """A queue redriving to ``dlq_url`` after ``max_receive_count`` receives."""
    redrive = {
        "deadLetterTargetArn": _queue_arn(sqs, dlq_url),
        "maxReceiveCount": str(max_receive_count),
    }
    return str(
        sqs.create_queue(
            QueueName=name,
            Attributes={
                "VisibilityTimeout": str(visibility_timeout_seconds),
                "MaximumMessageSize": str(MAX_MESSAGE_SIZE_BYTES),
                "RedrivePolicy": json.dumps(redrive),
            },
        )["QueueUrl"]
    )


def _resources(
    sqs: Any,
    queue_url: str,
    dlq_url: str,
    callbacks_url: str,
    callbacks_dlq_url: str,
    table_name: str,
    queue_url_high: str,
    queue_url_low: str,
    state_table_name: str,
) -> StackResources:
    return StackResources(
        queue_url=queue_url,
        queue_arn=_queue_arn(sqs, queue_url),
        dlq_url=dlq_url,
        dlq_arn=_queue_arn(sqs, dlq_url),
        table_name=table_name,
        callbacks_queue_url=callbacks_url,
        callbacks_queue_arn=_queue_arn(sqs, callbacks_url),
        callbacks_dlq_url=callbacks_dlq_url,
        callbacks_dlq_arn=_queue_arn(sqs, callbacks_dlq_url),
        queue_url_high=queue_url_high,
        queue_arn_high=_queue_arn(sqs, queue_url_high),
        queue_url_low=queue_url_low,
        queue_arn_low=_queue_arn(sqs, queue_url_low),
        state_table_name=state_table_name,
    )


def _queue_arn(sqs: Any, queue_url: str) -> str:
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
    return str(attributes["Attributes"]["QueueArn"])


def find_stack_resources(*, sqs: Any, prefix: str = "gen-ai-on-aws-dev") -> StackResources:
    """The resources a running devstack created (for tools that attach to it)."""

    def url(name: str) -> str:
        return str(sqs.get_queue_url(QueueName=f"{prefix}-{name}")["QueueUrl"])

    return _resources(
        sqs,
        url("jobs"),
        url("jobs-dlq"),
        url("callbacks"),
        url("callbacks-dlq"),
        f"{prefix}-jobs",
        url("jobs-high"),
        url("jobs-low"),
        f"{prefix}-llm-state",
    )
