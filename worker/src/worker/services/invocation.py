"""Per-invocation state shared by the records of one batch."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aws_lambda_powertools.utilities.typing import LambdaContext

from worker.services.metrics import JobMetrics

if TYPE_CHECKING:
    from worker.runtime import Worker


@dataclass(frozen=True)
class Invocation:
    """What the records of one batch share: deadline, lease end, concurrency slots, metrics."""

    worker: Worker
    request_id: str
    remaining_seconds: float
    deadline: float  # time.monotonic() by which records must be settled
    lease_expires_at: float  # epoch seconds; after it the function is dead for sure
    semaphore: asyncio.Semaphore
    metrics: JobMetrics = field(repr=False)

    @classmethod
    def start(cls, worker: Worker, context: LambdaContext) -> Invocation:
        settings = worker.settings
        remaining = context.get_remaining_time_in_millis() / 1000
        return cls(
            worker=worker,
            request_id=context.aws_request_id,
            remaining_seconds=remaining,
            deadline=time.monotonic() + remaining - settings.worker_deadline_margin_seconds,
            lease_expires_at=time.time() + remaining,
            semaphore=asyncio.Semaphore(settings.worker_max_concurrency),
            metrics=JobMetrics(settings.powertools_metrics_namespace),
        )
