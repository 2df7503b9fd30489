"""CloudWatch EMF metrics, flushed once per invocation."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import UnexpectedBatchTypeError


def _blobs(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines() if line.startswith('{"_aws"')]


def _values(blob: dict[str, Any]) -> dict[str, Any]:
    """A blob's metrics as name -> value(s)."""
    [directive] = blob["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "GenAiOnAws"
    return {metric["Name"]: blob[metric["Name"]] for metric in directive["Metrics"]}


def _emf(out: str) -> dict[str, Any]:
    """The invocation's one service-dimensioned EMF blob (the dashboard's and alarms'),
    merged into name -> values."""
    [blob] = [b for b in _blobs(out) if "Tenant" not in b]
    assert blob["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["service"]]
    assert blob["service"] == "gen-ai-on-aws-worker"
    return _values(blob)


def _per_tenant(out: str) -> dict[str, dict[str, Any]]:
    """Tenant -> its blob's metrics; each tenant has exactly one blob with Tenant as its only
    dimension."""
    blobs = [b for b in _blobs(out) if "Tenant" in b]
    for blob in blobs:
        assert blob["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["Tenant"]]
        assert "service" not in blob
    tenants = [blob["Tenant"] for blob in blobs]
    assert len(tenants) == len(set(tenants)), tenants
    return {blob["Tenant"]: _values(blob) for blob in blobs}


def test_success_emits_job_llm_queue_and_token_metrics(
    harness: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    harness.llm.config.latency_seconds = 0.1
    job = harness.submit()
    capsys.readouterr()
    harness.invoke(job.record)
    metrics = _emf(capsys.readouterr().out)
    assert metrics["JobsSucceeded"] == [1.0]
    assert metrics["LlmLatency"][0] >= 100
    assert 0 <= metrics["QueueWait"][0] < 60_000
    assert metrics["PromptTokens"][0] > 0
    assert metrics["CompletionTokens"][0] > 0


def test_failures_retries_and_duplicates_are_counted(
    harness: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    done = harness.submit()
    harness.invoke(done.record)
    retried = harness.submit("Ann is 30 years old !500")
    failed = harness.submit("Ann is 30 years old !400")
    capsys.readouterr()
    harness.invoke(retried.record, failed.record, harness.deliver(done.body))
    metrics = _emf(capsys.readouterr().out)
    assert metrics["JobsRetried"] == [1.0]
    assert metrics["JobsFailed"] == [1.0]
    assert metrics["DuplicateDeliveries"] == [1.0]
    assert "JobsSucceeded" not in metrics


def test_deferrals_and_stale_copies_are_counted(
    harness: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LLM_LIMIT_MAX_WAIT_SECONDS", "0")
    deferred = harness.submit("Ann is 30 years old !429")
    stale = harness.body(dispatch=0)
    harness.put_job(json.loads(stale)["job_id"], status="queued", dispatch={"N": "1"})
    capsys.readouterr()
    harness.invoke(deferred.record, harness.deliver(stale))
    metrics = _emf(capsys.readouterr().out)
    assert metrics["JobsDeferred"] == [1.0]
    assert metrics["StaleDeliveries"] == [1.0]
    assert "JobsRetried" not in metrics


def test_namespace_comes_from_powertools_setting(
    harness: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "Elsewhere")
    harness.invoke(harness.submit().record)
    assert '"Namespace":"Elsewhere"' in capsys.readouterr().out


def test_an_event_that_is_not_an_sqs_batch_raises_and_prints_no_metrics(
    harness: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(UnexpectedBatchTypeError):
        harness.invoke()
    assert '"_aws"' not in capsys.readouterr().out


def test_finished_jobs_are_counted_per_tenant_in_one_blob_each(
    harness: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a priced model and one batch with jobs of two tenants, one of them failing
    monkeypatch.setenv("LLM_MODEL", "openai/gpt-4o-mini")  # priced; served by the fake
    acme = [harness.submit(tenant="acme") for _ in range(2)]
    globex_ok = harness.submit(tenant="globex")
    globex_bad = harness.submit("Ann is 30 years old !400", tenant="globex")
    capsys.readouterr()
    # WHEN one invocation runs them
    records = [job.record for job in (*acme, globex_ok, globex_bad)]
    assert harness.invoke(*records) == {"batchItemFailures": []}
    out = capsys.readouterr().out
    costs = {job.job_id: float(harness.job(job.job_id)["cost_usd"]) for job in (*acme, globex_ok)}
    # THEN each tenant has one blob with its own counts and one cost value per priced job
    tenants = _per_tenant(out)
    assert set(tenants) == {"acme", "globex"}
    assert tenants["acme"]["TenantJobsSucceeded"] == [2.0]
    assert "TenantJobsFailed" not in tenants["acme"]
    assert sorted(tenants["acme"]["TenantCostUsd"]) == pytest.approx(
        sorted(costs[job.job_id] for job in acme)
    )
    assert tenants["globex"]["TenantJobsSucceeded"] == [1.0]
    assert tenants["globex"]["TenantJobsFailed"] == [1.0]
    assert tenants["globex"]["TenantCostUsd"] == pytest.approx([costs[globex_ok.job_id]])
    # ... and the tenant-less blob is as before: one value per job, no Tenant
    metrics = _emf(out)
    assert set(metrics) == {
        "JobsSucceeded",
        "JobsFailed",
        "JobCostUsd",
        "QueueWait",
        "LlmLatency",
        "PromptTokens",
        "CompletionTokens",
    }
    assert metrics["JobsSucceeded"] == [1.0, 1.0, 1.0]
    assert metrics["JobsFailed"] == [1.0]
    assert sorted(metrics["JobCostUsd"]) == pytest.approx(sorted(costs.values()))


def test_a_message_without_a_tenant_counts_as_unknown(
    harness: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    job = harness.submit()  # an older message: no tenant, and neither has its record
    capsys.readouterr()
    harness.invoke(job.record)
    tenants = _per_tenant(capsys.readouterr().out)
    assert tenants == {"unknown": {"TenantJobsSucceeded": [1.0]}}  # the fake model has no price


def test_a_job_failed_without_reading_its_tenant_counts_under_its_records_tenant(
    harness: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a job too old to run, whose message names no tenant but whose record does
    submitted = (datetime.now(UTC) - timedelta(days=2)).isoformat().replace("+00:00", "Z")
    body = harness.body(submitted_at=submitted)
    harness.put_job(json.loads(body)["job_id"], status="queued", tenant={"S": "acme"})
    record = harness.deliver(body)
    capsys.readouterr()
    # WHEN it fails as max_age_exceeded
    harness.invoke(record)
    out = capsys.readouterr().out
    # THEN it counts for the record's tenant
    assert _per_tenant(out) == {"acme": {"TenantJobsFailed": [1.0]}}
    assert _emf(out)["JobsFailed"] == [1.0]


def test_outcomes_that_finish_no_job_print_no_tenant_blob(
    harness: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LLM_LIMIT_MAX_WAIT_SECONDS", "0")
    deferred = harness.submit("Ann is 30 years old !429", tenant="acme")
    retried = harness.submit("Ann is 30 years old !500", tenant="acme")
    capsys.readouterr()
    harness.invoke(deferred.record, retried.record)
    out = capsys.readouterr().out
    assert _per_tenant(out) == {}
    assert {"JobsDeferred", "JobsRetried"} <= set(_emf(out))
