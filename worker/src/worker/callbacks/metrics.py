"""CloudWatch metrics (Powertools EMF) of one delivery invocation."""

from __future__ import annotations

from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

from worker.callbacks.log import SERVICE_NAME


class CallbackMetrics:
    """Counters named in worker/README.md; ``flush`` prints one EMF blob."""

    def __init__(self, namespace: str) -> None:
        self._metrics = EphemeralMetrics(namespace=namespace, service=SERVICE_NAME)

    def _count(self, name: str) -> None:
        self._metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)

    def delivered(self, seconds: float) -> None:
        self._count("WebhooksDelivered")
        self._metrics.add_metric(
            name="WebhookLatency", unit=MetricUnit.Milliseconds, value=seconds * 1000
        )

    def attempt_failed(self) -> None:
        self._count("WebhookAttemptsFailed")

    def gave_up(self) -> None:
        self._count("WebhooksFailed")

    def refused(self) -> None:
        self._count("WebhooksRefused")

    def flush(self) -> None:
        if self._metrics.metric_set:
            self._metrics.flush_metrics()
