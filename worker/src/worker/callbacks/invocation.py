"""Per-invocation state shared by the records of one delivery batch."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from aws_lambda_powertools.utilities.typing import LambdaContext

from worker.callbacks.metrics import CallbackMetrics
from worker.callbacks.runtime import Callbacks


@dataclass(frozen=True)
class CallbackInvocation:
    """The deadline (time.monotonic()) by which records must be settled, and the metrics."""

    callbacks: Callbacks
    remaining_seconds: float
    deadline: float
    metrics: CallbackMetrics = field(repr=False)

    @classmethod
    def start(cls, callbacks: Callbacks, context: LambdaContext) -> CallbackInvocation:
        settings = callbacks.settings
        remaining = context.get_remaining_time_in_millis() / 1000
        return cls(
            callbacks=callbacks,
            remaining_seconds=remaining,
            deadline=time.monotonic() + remaining - settings.worker_deadline_margin_seconds,
            metrics=CallbackMetrics(settings.powertools_metrics_namespace),
        )
