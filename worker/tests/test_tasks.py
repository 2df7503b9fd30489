"""Every task through the Lambda handler (moto + the fake LLM over HTTP): model choice,
fallbacks, usage and cost on the job record."""

from __future__ import annotations

from typing import Any

import litellm
import pytest

from devstack.fake_llm import FakeLLMConfig


def _prices(model: str) -> tuple[float, float]:
    entry = litellm.model_cost[model]
    return entry["input_cost_per_token"], entry["output_cost_per_token"]


def test_complete_runs_through_the_handler_and_records_usage(harness: Any) -> None:
    # GIVEN a `complete` job as the API enqueues it
    payload = {"prompt": "Write one line about queues", "max_tokens": 64}
    job = harness.submit(task="complete", payload=payload)
    # WHEN Lambda delivers it
    assert harness.invoke(job.record) == {"batchItemFailures": []}
    # THEN it succeeded with generated text, the model that answered and its tokens
    stored = harness.job(job.job_id)
    assert stored["status"] == "succeeded", stored.get("error")
    result = harness.result(job.job_id)
    assert result["text"]
    assert result["finish_reason"] in {"stop", "length"}
    assert stored["model"] == "openai/fake-model"
    assert stored["prompt_tokens"] > 0
    assert stored["completion_tokens"] > 0
    assert "cost_usd" not in stored  # the fake model has no price
    [request] = harness.llm.stats.requests
    assert "response_format" not in request
    assert "tools" not in request
    assert request["max_tokens"] == 64
    assert [m["role"] for m in request["messages"]] == ["user"]


def test_complete_sends_the_system_message_and_temperature(harness: Any) -> None:
    payload = {"prompt": "Hello", "system": "Answer in French.", "temperature": 0.2}
    harness.invoke(harness.submit(task="complete", payload=payload).record)
    [request] = harness.llm.stats.requests
    assert request["messages"] == [
        {"role": "system", "content": "Answer in French."},
        {"role": "user", "content": "Hello"},
    ]
    assert request["temperature"] == 0.2


def test_cost_of_a_priced_model_is_its_tokens_times_the_bundled_prices(
    harness: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LLM_MODEL", "openai/gpt-4o-mini")  # priced; served by the fake
    job = harness.submit()
    assert harness.invoke(job.record) == {"batchItemFailures": []}
    stored = harness.job(job.job_id)
    prompt_price, completion_price = _prices("gpt-4o-mini")
    expected = (
        int(stored["prompt_tokens"]) * prompt_price
        + int(stored["completion_tokens"]) * completion_price
    )
    assert float(stored["cost_usd"]) == pytest.approx(expected)
    assert stored["model"] == "openai/gpt-4o-mini"


def _two_models(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLM_MODEL", "openai/fake-primary")
    monkeypatch.setenv("LLM_FALLBACK_MODELS", "openai/fake-backup")


def test_a_primary_answering_500_falls_back_within_the_same_delivery(
    harness: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a primary model that fails with 500 and a working fallback
    _two_models(monkeypatch)
    harness.llm.reset(FakeLLMConfig(fail_models={"fake-primary": 500}))
    job = harness.submit()
    # WHEN the job is delivered once
    response = harness.invoke(job.record)
    # THEN it succeeded on that delivery, answered by the fallback
    assert response == {"batchItemFailures": []}
    stored = harness.job(job.job_id)
    assert stored["status"] == "succeeded"
    assert stored["model"] == "openai/fake-backup"
    assert stored["attempts"] == 1
    assert harness.llm.stats.models["fake-primary"] == 1
    assert harness.llm.stats.models["fake-backup"] == 1


def test_a_primary_rejecting_the_request_does_not_fall_back(
    harness: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _two_models(monkeypatch)
    harness.llm.reset(FakeLLMConfig(fail_models={"fake-primary": 400}))
    job = harness.submit()
    assert harness.invoke(job.record) == {"batchItemFailures": []}
    stored = harness.job(job.job_id)
    assert (stored["status"], stored["error"]["code"]) == ("failed", "provider_rejected")
    assert harness.llm.stats.models["fake-backup"] == 0


def test_all_models_failing_leaves_the_job_queued_for_a_retry(
    harness: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _two_models(monkeypatch)
    harness.llm.reset(FakeLLMConfig(fail_models={"fake-primary": 500, "fake-backup": 503}))
    job = harness.submit()
    assert harness.invoke(job.record) == {"batchItemFailures": []}
    stored = harness.job(job.job_id)
    assert (stored["status"], stored["attempts"]) == ("queued", 1)
    assert stored["last_error"]["code"] == "provider_unavailable"
    assert harness.receive() == []  # re-sent to wait out the back-off, not visible at once


def test_the_model_a_client_chose_is_the_one_called(
    harness: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _two_models(monkeypatch)
    job = harness.submit(model="openai/fake-backup")
    harness.invoke(job.record)
    assert harness.job(job.job_id)["model"] == "openai/fake-backup"
    assert harness.llm.stats.models["fake-primary"] == 0
