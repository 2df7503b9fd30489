"""An SQS queue with its own dead-letter queue, the shape both queues of the stack share."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from provisioning.stack.config import DLQ_RETENTION_SECONDS, MAX_MESSAGE_BYTES


@dataclass(frozen=True)
class QueueSpec:
    """`<name>-queue` redriving to `<name>-dlq` after `max_receive_count` receives."""

    name: str
    visibility_timeout_seconds: int
    retention_seconds: int
    max_receive_count: int


def queue_with_dlq(
    spec: QueueSpec, *, tags: dict[str, str], parent: pulumi.Resource
) -> tuple[aws.sqs.Queue, aws.sqs.Queue]:
    """SSE-SQS on both; the DLQ keeps messages 14 days and accepts them from this queue only."""
    child = pulumi.ResourceOptions(parent=parent)
    dlq = aws.sqs.Queue(
        f"{spec.name}-dlq",
        sqs_managed_sse_enabled=True,
        message_retention_seconds=DLQ_RETENTION_SECONDS,
        max_message_size=MAX_MESSAGE_BYTES,
        tags=tags,
        opts=child,
    )
    queue = aws.sqs.Queue(
        f"{spec.name}-queue",
        sqs_managed_sse_enabled=True,
        max_message_size=MAX_MESSAGE_BYTES,
        message_retention_seconds=spec.retention_seconds,
        visibility_timeout_seconds=spec.visibility_timeout_seconds,
        redrive_policy=pulumi.Output.json_dumps(
            {"deadLetterTargetArn": dlq.arn, "maxReceiveCount": spec.max_receive_count}
        ),
        tags=tags,
        opts=child,
    )
    # Only this queue may dead-letter into the DLQ.
    aws.sqs.RedriveAllowPolicy(
        f"{spec.name}-dlq-redrive-allow",
        queue_url=dlq.url,
        redrive_allow_policy=pulumi.Output.json_dumps(
            {"redrivePermission": "byQueue", "sourceQueueArns": [queue.arn]}
        ),
        opts=child,
    )
    return queue, dlq
