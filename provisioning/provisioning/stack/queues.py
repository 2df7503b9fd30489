"""SQS queues redriving to a dead-letter queue: one queue per DLQ (callbacks) or several
(the job lanes share one DLQ, so an operator inspects and redrives a single place)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from provisioning.stack.config import DLQ_RETENTION_SECONDS, MAX_MESSAGE_BYTES


@dataclass(frozen=True)
class QueueSpec:
    """`<name>-queue` redriving to a DLQ after `max_receive_count` receives."""

    name: str
    visibility_timeout_seconds: int
    retention_seconds: int
    max_receive_count: int


def queue_with_dlq(
    spec: QueueSpec, *, tags: dict[str, str], parent: pulumi.Resource
) -> tuple[aws.sqs.Queue, aws.sqs.Queue]:
    """`<name>-queue` and `<name>-dlq`; the DLQ accepts messages from this queue only."""
    dlq = dead_letter_queue(spec.name, tags=tags, parent=parent)
    queue = redriving_queue(spec, dlq=dlq, tags=tags, parent=parent)
    allow_redrive(spec.name, dlq=dlq, sources=[queue], parent=parent)
    return queue, dlq


def dead_letter_queue(name: str, *, tags: dict[str, str], parent: pulumi.Resource) -> aws.sqs.Queue:
    """SSE-SQS; keeps messages 14 days, the SQS maximum: time to inspect and redrive."""
    return aws.sqs.Queue(
        f"{name}-dlq",
        sqs_managed_sse_enabled=True,
        message_retention_seconds=DLQ_RETENTION_SECONDS,
        max_message_size=MAX_MESSAGE_BYTES,
        tags=tags,
        opts=pulumi.ResourceOptions(parent=parent),
    )


def redriving_queue(
    spec: QueueSpec, *, dlq: aws.sqs.Queue, tags: dict[str, str], parent: pulumi.Resource
) -> aws.sqs.Queue:
    """SSE-SQS `<name>-queue` that dead-letters into `dlq` after `max_receive_count` receives."""
    return aws.sqs.Queue(
        f"{spec.name}-queue",
        sqs_managed_sse_enabled=True,
        max_message_size=MAX_MESSAGE_BYTES,
        message_retention_seconds=spec.retention_seconds,
        visibility_timeout_seconds=spec.visibility_timeout_seconds,
        redrive_policy=pulumi.Output.json_dumps(
            {"deadLetterTargetArn": dlq.arn, "maxReceiveCount": spec.max_receive_count}
        ),
        tags=tags,
        opts=pulumi.ResourceOptions(parent=parent),
    )


def allow_redrive(
    name: str,
    *,
    dlq: aws.sqs.Queue,
    sources: Sequence[aws.sqs.Queue],
    parent: pulumi.Resource,
) -> aws.sqs.RedriveAllowPolicy:
    """Only `sources` may dead-letter into `dlq` (SQS allows up to 10 source queues)."""
    return aws.sqs.RedriveAllowPolicy(
        f"{name}-dlq-redrive-allow",
        queue_url=dlq.url,
        redrive_allow_policy=pulumi.Output.json_dumps(
            {"redrivePermission": "byQueue", "sourceQueueArns": [queue.arn for queue in sources]}
        ),
        opts=pulumi.ResourceOptions(parent=parent),
    )
