"""The operations dashboard graphs what the alarms and the runbook talk about."""

from __future__ import annotations

import inspect
import json
import re
from typing import Any

import pytest

from worker.services import metrics as worker_metrics

from .harness import StackRunner

DASHBOARD = "aws:cloudwatch/dashboard:Dashboard"
FUNCTIONS = ("api", "worker", "callbacks", "settler")


def _widgets(stack_runner: StackRunner, stack: str) -> tuple[Any, list[dict[str, Any]]]:
    run = stack_runner(stack)
    board = run.one(DASHBOARD, "operations")
    return run, json.loads(board["dashboardBody"])["widgets"]


def _metrics(widgets: list[dict[str, Any]], title_part: str) -> list[list[Any]]:
    [widget] = [w for w in widgets if title_part in w["properties"]["title"]]
    return list(widget["properties"]["metrics"])


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_dashboard_is_named_for_the_stack_and_laid_out_without_overlap(
    stack_runner: StackRunner, stack: str
) -> None:
    run, widgets = _widgets(stack_runner, stack)
    board = run.one(DASHBOARD, "operations")
    assert board["dashboardName"] == f"gen-ai-on-aws-{stack}-operations"
    assert run.outputs["dashboard_name"] == board["dashboardName"]
    cells = {(w["x"] + dx, w["y"] + dy) for w in widgets for dx in range(8) for dy in range(6)}
    assert len(cells) == 8 * 6 * len(widgets)  # no two widgets share a grid cell
    assert {w["properties"]["region"] for w in widgets} == {run.config["aws:region"]}


def test_queues_and_dead_letters_are_graphed_per_lane(stack_runner: StackRunner) -> None:
    run, widgets = _widgets(stack_runner, "dev")
    queues = {q.inputs.get("name") or q.name for q in run.of_type("aws:sqs/queue:Queue")}
    age = _metrics(widgets, "Oldest message age")
    depth = _metrics(widgets, "Queue depth")
    dead = _metrics(widgets, "Dead-letter")
    assert {m[4]["label"] for m in age} == {"high", "normal", "low"}
    assert {m[3] for m in age} == {m[3] for m in depth} <= queues
    assert {m[1] for m in depth} == {
        "ApproximateNumberOfMessagesVisible",
        "ApproximateNumberOfMessagesNotVisible",
    }
    assert len({m[3] for m in dead}) == 2
    assert {m[3] for m in dead} <= queues


def test_jobs_latency_tokens_and_cost_come_from_metrics_the_worker_emits(
    stack_runner: StackRunner,
) -> None:
    _, widgets = _widgets(stack_runner, "dev")
    emitted = set(re.findall(r'name="(\w+)"', inspect.getsource(worker_metrics)))
    ours = [m for w in widgets for m in w["properties"]["metrics"] if m[0] == "GenAiOnAws"]
    assert {m[1] for m in ours} <= emitted
    assert {m[1] for m in _metrics(widgets, "Jobs per minute")} >= {"JobsSucceeded", "JobsFailed"}
    latency = _metrics(widgets, "LLM latency")
    assert {(m[1], m[4]["stat"]) for m in latency} >= {("LlmLatency", "p50"), ("LlmLatency", "p99")}
    [cost] = [w for w in widgets if "cost" in w["properties"]["title"]]
    assert cost["properties"]["period"] == 3600
    assert {m[1] for m in cost["properties"]["metrics"]} == {
        "PromptTokens",
        "CompletionTokens",
        "JobCostUsd",
    }


def test_every_function_has_its_errors_and_throttles_graphed(stack_runner: StackRunner) -> None:
    run, widgets = _widgets(stack_runner, "dev")
    functions = {
        f.inputs.get("name") or f.name for f in run.of_type("aws:lambda/function:Function")
    }
    for title in ("Lambda errors", "Lambda throttles"):
        assert {m[3] for m in _metrics(widgets, title)} == functions


def test_the_busiest_tenants_are_queried_from_the_worker_per_tenant_metrics(
    stack_runner: StackRunner,
) -> None:
    _, widgets = _widgets(stack_runner, "dev")
    emitted = set(re.findall(r'name="(\w+)"', inspect.getsource(worker_metrics)))
    [tenants] = [w for w in widgets if "tenants" in w["properties"]["title"]]
    queries = [m[0]["expression"] for m in tenants["properties"]["metrics"]]

    named = {re.search(r"SUM\((\w+)\)", query).group(1) for query in queries}  # type: ignore[union-attr]
    assert named == {"TenantJobsSucceeded", "TenantJobsFailed", "TenantCostUsd"}
    assert named <= emitted
    assert all("SCHEMA(GenAiOnAws, Tenant) GROUP BY Tenant" in query for query in queries)
