"""CloudWatch metrics (Powertools EMF) for one invocation.

EphemeralMetrics keeps its own metric set, so two invocations sharing a process (devstack,
tests) never flush each other's numbers. EMF gives a blob one dimension set, so the per-tenant
outcomes are tallied in plain counters and printed at flush as one more blob per tenant.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

from worker.log import SERVICE_NAME

# The Tenant dimension of a job whose message and record name no tenant (older messages).
UNKNOWN_TENANT = "unknown"


@dataclass
class _TenantTally:
    """One tenant's finished jobs in this invocation; ``costs`` holds one value per job."""

    succeeded: int = 0
    failed: int = 0
    costs: list[float] = field(default_factory=list)


class JobMetrics:
    """Counters and timings named in worker/README.md; ``flush`` prints one EMF blob, then one
    per tenant that finished a job."""

    def __init__(self, namespace: str) -> None:
        self._namespace = namespace
        self._metrics = EphemeralMetrics(namespace=namespace, service=SERVICE_NAME)
        self._tenants: dict[str, _TenantTally] = {}

    def succeeded(self, tenant: str | None) -> None:
        self._metrics.add_metric(name="JobsSucceeded", unit=MetricUnit.Count, value=1)
        self._tally(tenant).succeeded += 1

    def failed(self, tenant: str | None) -> None:
        self._metrics.add_metric(name="JobsFailed", unit=MetricUnit.Count, value=1)
        self._tally(tenant).failed += 1

    def retried(self) -> None:
        self._metrics.add_metric(name="JobsRetried", unit=MetricUnit.Count, value=1)

    def deferred(self) -> None:
        """A job re-sent to wait (limiter, 429, open circuit, deadline) without spending budget."""
        self._metrics.add_metric(name="JobsDeferred", unit=MetricUnit.Count, value=1)

    def stale(self) -> None:
        """A superseded copy of a re-sent job, acknowledged without running."""
        self._metrics.add_metric(name="StaleDeliveries", unit=MetricUnit.Count, value=1)

    def absent(self) -> None:
        """A message for a job with no record (never created by the API), acknowledged."""
        self._metrics.add_metric(name="OrphanMessages", unit=MetricUnit.Count, value=1)

    def dead_letters_settled(self, count: int) -> None:
        """Jobs the DLQ settler failed because their message was dead-lettered."""
        self._metrics.add_metric(name="DeadLettersSettled", unit=MetricUnit.Count, value=count)

    def circuit_opened(self) -> None:
        """This invocation opened (or re-opened) a model's circuit; the stack alarms on it."""
        self._metrics.add_metric(name="CircuitOpened", unit=MetricUnit.Count, value=1)

    def provider_throttled(self) -> None:
        """The provider answered 429: the model is paused fleet-wide until its Retry-After."""
        self._metrics.add_metric(name="ProviderThrottled", unit=MetricUnit.Count, value=1)

    def rejected(self) -> None:
        self._metrics.add_metric(name="MessagesRejected", unit=MetricUnit.Count, value=1)

    def duplicate(self) -> None:
        self._metrics.add_metric(name="DuplicateDeliveries", unit=MetricUnit.Count, value=1)

    def job_cost(self, cost_usd: float, tenant: str | None) -> None:
        """What one finished job cost in provider tokens (litellm's bundled prices), in USD."""
        self._metrics.add_metric(name="JobCostUsd", unit=MetricUnit.NoUnit, value=cost_usd)
        self._tally(tenant).costs.append(cost_usd)

    def queue_wait(self, submitted_at: datetime) -> None:
        waited = (datetime.now(UTC) - submitted_at).total_seconds() * 1000
        self._metrics.add_metric(
            name="QueueWait", unit=MetricUnit.Milliseconds, value=max(waited, 0.0)
        )

    def llm_call(
        self, *, latency_seconds: float, prompt_tokens: int, completion_tokens: int
    ) -> None:
        self._metrics.add_metric(
            name="LlmLatency", unit=MetricUnit.Milliseconds, value=latency_seconds * 1000
        )
        self._metrics.add_metric(name="PromptTokens", unit=MetricUnit.Count, value=prompt_tokens)
        self._metrics.add_metric(
            name="CompletionTokens", unit=MetricUnit.Count, value=completion_tokens
        )

    def flush(self) -> None:
        """Print the EMF blobs (CloudWatch reads them from the log); nothing when no metric."""
        if self._metrics.metric_set:
            self._metrics.flush_metrics()
        tenants, self._tenants = self._tenants, {}
        for tenant, tally in sorted(tenants.items()):
            self._flush_tenant(tenant, tally)

    def _tally(self, tenant: str | None) -> _TenantTally:
        name = tenant or UNKNOWN_TENANT
        tally = self._tenants.get(name)
        if tally is None:
            tally = self._tenants[name] = _TenantTally()
        return tally

    def _flush_tenant(self, tenant: str, tally: _TenantTally) -> None:
        """One blob with the single dimension Tenant: counts summed (graph them with Sum), and
        one TenantCostUsd value per priced job. ``service=""`` keeps POWERTOOLS_SERVICE_NAME
        from adding a second dimension."""
        blob = EphemeralMetrics(namespace=self._namespace, service="")
        blob.add_dimension(name="Tenant", value=tenant)
        if tally.succeeded:
            blob.add_metric(
                name="TenantJobsSucceeded", unit=MetricUnit.Count, value=tally.succeeded
            )
        if tally.failed:
            blob.add_metric(name="TenantJobsFailed", unit=MetricUnit.Count, value=tally.failed)
        for cost_usd in tally.costs:
            blob.add_metric(name="TenantCostUsd", unit=MetricUnit.NoUnit, value=cost_usd)
        blob.flush_metrics()
