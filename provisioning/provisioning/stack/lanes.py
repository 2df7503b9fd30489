"""The job lanes: one queue per priority, all redriving to one shared jobs DLQ.

High-priority work overtakes a backlog because each lane has its own event source mapping
(its own pollers and MaximumConcurrency), not because SQS orders anything. The normal lane is
the original jobs queue (`jobs-queue`, same URN), so an existing stack only gains two queues.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from provisioning.stack.config import StackConfig
from provisioning.stack.limits import LANES, Lane
from provisioning.stack.queues import QueueSpec, allow_redrive, dead_letter_queue, redriving_queue


@dataclass(frozen=True)
class JobLanes:
    queues: Mapping[Lane, aws.sqs.Queue]
    dlq: aws.sqs.Queue

    def arns(self) -> dict[Lane, pulumi.Output[str]]:
        return {lane: queue.arn for lane, queue in self.queues.items()}

    def urls(self) -> dict[Lane, pulumi.Output[str]]:
        return {lane: queue.url for lane, queue in self.queues.items()}


def lane_queue_name(name: str, lane: Lane) -> str:
    """`jobs` for the normal lane (its historical name), `jobs-high` and `jobs-low` otherwise."""
    return name if lane == "normal" else f"{name}-{lane}"


def job_lanes(
    name: str, config: StackConfig, *, tags: dict[str, str], parent: pulumi.Resource
) -> JobLanes:
    """Same visibility, retention, size and maxReceiveCount on every lane, one DLQ for all."""
    dlq = dead_letter_queue(name, tags=tags, parent=parent)
    queues = {
        lane: redriving_queue(
            QueueSpec(
                name=lane_queue_name(name, lane),
                visibility_timeout_seconds=config.queue_visibility_timeout_seconds,
                retention_seconds=config.queue_retention_seconds,
                max_receive_count=config.queue_max_receive_count,
            ),
            dlq=dlq,
            tags=tags,
            parent=parent,
        )
        for lane in LANES
    }
    allow_redrive(name, dlq=dlq, sources=list(queues.values()), parent=parent)
    return JobLanes(queues=queues, dlq=dlq)
