"""CloudWatch EMF metrics, flushed once per invocation."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import UnexpectedBatchTypeError


def _emf(out: str) -> dict[str, Any]:
    """The single EMF blob the invocation printed, merged into name -> values."""
    [blob] = [json.loads(line) for line in out.splitlines() if line.startswith('{"_aws"')]
    directive = blob["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == "GenAiOnAws"
    return {metric["Name"]: blob[metric["Name"]] for metric in directive["Metrics"]}


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
