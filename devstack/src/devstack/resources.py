"""Create the queue, DLQ and jobs table exactly as the Pulumi program configures them.

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
DEFAULT_MAX_RECEIVE_COUNT = 5
TTL_ATTRIBUTE = "expires_at"


@dataclass(frozen=True)
class StackResources:
    """Names and URLs of what ``create_stack_resources`` made."""

    queue_url: str
    queue_arn: str
    dlq_url: str
    dlq_arn: str
    table_name: str


def create_stack_resources(
    *,
    sqs: Any,
    dynamodb: Any,
    prefix: str = "gen-ai-on-aws-dev",
    visibility_timeout_seconds: int = 30,
    max_receive_count: int = DEFAULT_MAX_RECEIVE_COUNT,
) -> StackResources:
    """Create DLQ, queue (with redrive) and table; idempotent for the same names."""
    dlq_url = sqs.create_queue(
        QueueName=f"{prefix}-jobs-dlq",
        Attributes={"MessageRetentionPeriod": str(DLQ_RETENTION_SECONDS)},
    )["QueueUrl"]
    dlq_arn = _queue_arn(sqs, dlq_url)
    redrive = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_receive_count)}
    queue_url = sqs.create_queue(
        QueueName=f"{prefix}-jobs",
        Attributes={
            "VisibilityTimeout": str(visibility_timeout_seconds),
            "MaximumMessageSize": str(MAX_MESSAGE_SIZE_BYTES),
            "RedrivePolicy": json.dumps(redrive),
        },
    )["QueueUrl"]
    table_name = f"{prefix}-jobs"
    if table_name not in dynamodb.list_tables()["TableNames"]:
        dynamodb.create_table(
            TableName=table_name,
            KeySchema=[{"AttributeName": "job_id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "job_id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        dynamodb.update_time_to_live(
            TableName=table_name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE},
        )
    return StackResources(
        queue_url=queue_url,
        queue_arn=_queue_arn(sqs, queue_url),
        dlq_url=dlq_url,
        dlq_arn=dlq_arn,
        table_name=table_name,
    )


def _queue_arn(sqs: Any, queue_url: str) -> str:
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
    return str(attributes["Attributes"]["QueueArn"])


def find_stack_resources(*, sqs: Any, prefix: str = "gen-ai-on-aws-dev") -> StackResources:
    """The resources a running devstack created (for tools that attach to it)."""
    queue_url = sqs.get_queue_url(QueueName=f"{prefix}-jobs")["QueueUrl"]
    dlq_url = sqs.get_queue_url(QueueName=f"{prefix}-jobs-dlq")["QueueUrl"]
    return StackResources(
        queue_url=queue_url,
        queue_arn=_queue_arn(sqs, queue_url),
        dlq_url=dlq_url,
        dlq_arn=_queue_arn(sqs, dlq_url),
        table_name=f"{prefix}-jobs",
    )
