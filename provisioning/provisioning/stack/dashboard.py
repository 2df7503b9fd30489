"""One CloudWatch dashboard for operating the stack: is work flowing, failing, slow or costly?

Rows: per-lane queue age and depth, the DLQs; jobs per minute by outcome and the waits the
fleet chose (deferred, retried); LLM latency percentiles; tokens and cost per hour; every
function's errors and throttles; the busiest tenants' jobs and cost. The metrics are the ones
the alarms and the runbook name (README: "Runbook"), so an alarm's graph is one glance away.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from provisioning.stack.functions import METRICS_NAMESPACE
from provisioning.stack.limits import LANES, Lane
from provisioning.stack.monitoring import WORKER_METRICS_DIMENSIONS

DASHBOARD = "operations"
_WIDTH = 8  # three widgets per row of the 24-unit grid
_HEIGHT = 6


@dataclass(frozen=True)
class DashboardSources:
    """The resource names the widgets graph (outputs of the stack's components)."""

    region: str
    queue_names: Mapping[Lane, pulumi.Input[str]]
    dlq_name: pulumi.Input[str]
    callbacks_dlq_name: pulumi.Input[str]
    function_names: Mapping[str, pulumi.Input[str]]  # label -> function name


def operations_dashboard(sources: DashboardSources) -> aws.cloudwatch.Dashboard:
    """The dashboard (`<project>-<stack>-operations`); its body is resolved once every name is
    known."""
    name = f"{pulumi.get_project()}-{pulumi.get_stack()}-{DASHBOARD}"
    names: dict[str, pulumi.Input[str]] = {
        **{f"queue:{lane}": sources.queue_names[lane] for lane in LANES},
        "dlq": sources.dlq_name,
        "callbacks_dlq": sources.callbacks_dlq_name,
        **{f"function:{label}": fn for label, fn in sources.function_names.items()},
    }
    body = pulumi.Output.all(**names).apply(
        lambda resolved: json.dumps(dashboard_body(sources.region, resolved), sort_keys=True)
    )
    return aws.cloudwatch.Dashboard(DASHBOARD, dashboard_name=name, dashboard_body=body)


def dashboard_body(region: str, names: Mapping[str, str]) -> dict[str, Any]:
    """The dashboard JSON (CloudWatch's dashboard body structure), from resolved names."""
    queues = {lane: names[f"queue:{lane}"] for lane in LANES}
    functions = {
        key.split(":", 1)[1]: value for key, value in names.items() if key.startswith("function:")
    }
    widgets = [
        _graph(
            "Oldest message age per lane (s)",
            [
                _sqs("ApproximateAgeOfOldestMessage", q, lane, "Maximum")
                for lane, q in queues.items()
            ],
        ),
        _graph(
            "Queue depth per lane (visible + in flight)",
            [
                metric
                for lane, queue in queues.items()
                for metric in (
                    _sqs("ApproximateNumberOfMessagesVisible", queue, f"{lane} visible", "Maximum"),
                    _sqs(
                        "ApproximateNumberOfMessagesNotVisible",
                        queue,
                        f"{lane} in flight",
                        "Maximum",
                    ),
                )
            ],
        ),
        _graph(
            "Dead-letter queues (messages)",
            [
                _sqs("ApproximateNumberOfMessagesVisible", names["dlq"], "jobs DLQ", "Maximum"),
                _sqs(
                    "ApproximateNumberOfMessagesVisible",
                    names["callbacks_dlq"],
                    "webhooks DLQ",
                    "Maximum",
                ),
            ],
        ),
        _graph(
            "Jobs per minute",
            [
                _worker(metric, label, "Sum")
                for metric, label in (
                    ("JobsSucceeded", "succeeded"),
                    ("JobsFailed", "failed"),
                    ("JobsRetried", "retried (real attempt failed)"),
                    ("JobsDeferred", "deferred (waiting for quota/provider)"),
                    ("DeadLettersSettled", "settled from the DLQ"),
                )
            ],
        ),
        _graph(
            "LLM latency (ms)",
            [
                _worker("LlmLatency", "p50", "p50"),
                _worker("LlmLatency", "p99", "p99"),
                _worker("QueueWait", "queue wait p99", "p99"),
            ],
        ),
        _graph(
            "Tokens and cost per hour",
            [
                _worker("PromptTokens", "prompt tokens", "Sum"),
                _worker("CompletionTokens", "completion tokens", "Sum"),
                _worker("JobCostUsd", "cost (USD)", "Sum", right_axis=True),
            ],
            period=3600,
        ),
        _graph(
            "Lambda errors",
            [_lambda("Errors", fn, label) for label, fn in functions.items()],
            period=300,
        ),
        _graph(
            "Lambda throttles",
            [_lambda("Throttles", fn, label) for label, fn in functions.items()],
            period=300,
        ),
        _graph(
            "Provider throttling and circuit",
            [
                _worker("ProviderThrottled", "provider 429s", "Sum"),
                _worker("CircuitOpened", "circuit opened", "Sum"),
                _worker("OrphanMessages", "messages without a job", "Sum"),
            ],
        ),
        _graph(
            "Busiest tenants: jobs and USD per hour",
            [
                _top_tenants("TenantJobsSucceeded", "succeeded"),
                _top_tenants("TenantJobsFailed", "failed"),
                _top_tenants("TenantCostUsd", "cost (USD)", right_axis=True),
            ],
            period=3600,
        ),
    ]
    return {"widgets": _laid_out(widgets, region)}


def _laid_out(widgets: Sequence[dict[str, Any]], region: str) -> list[dict[str, Any]]:
    per_row = 24 // _WIDTH
    return [
        {
            **widget,
            "x": (index % per_row) * _WIDTH,
            "y": (index // per_row) * _HEIGHT,
            "width": _WIDTH,
            "height": _HEIGHT,
            "properties": {**widget["properties"], "region": region},
        }
        for index, widget in enumerate(widgets)
    ]


def _graph(title: str, metrics: list[list[Any]], *, period: int = 60) -> dict[str, Any]:
    return {
        "type": "metric",
        "properties": {
            "title": title,
            "view": "timeSeries",
            "stacked": False,
            "period": period,
            "metrics": metrics,
        },
    }


def _sqs(metric: str, queue: str, label: str, stat: str) -> list[Any]:
    return ["AWS/SQS", metric, "QueueName", queue, {"label": label, "stat": stat}]


def _lambda(metric: str, function: str, label: str) -> list[Any]:
    return ["AWS/Lambda", metric, "FunctionName", function, {"label": label, "stat": "Sum"}]


def _top_tenants(metric: str, label: str, *, right_axis: bool = False) -> list[Any]:
    """A Metrics Insights query: the 10 tenants with the most of ``metric`` (the worker's
    per-tenant blobs carry the dimension Tenant only)."""
    query = (  # our own constant names only: nothing here comes from a request
        f"SELECT SUM({metric}) FROM SCHEMA({METRICS_NAMESPACE}, Tenant)"  # noqa: S608
        " GROUP BY Tenant ORDER BY SUM() DESC LIMIT 10"
    )
    options: dict[str, Any] = {"expression": query, "label": label, "id": metric.lower()}
    if right_axis:
        options["yAxis"] = "right"
    return [options]


def _worker(metric: str, label: str, stat: str, *, right_axis: bool = False) -> list[Any]:
    [(dimension, value)] = WORKER_METRICS_DIMENSIONS.items()
    options: dict[str, Any] = {"label": label, "stat": stat}
    if right_axis:
        options["yAxis"] = "right"
    return [METRICS_NAMESPACE, metric, dimension, value, options]
