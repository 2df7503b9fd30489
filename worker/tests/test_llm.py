"""The job's LLM: instructor modes against the fake, bounded timeouts, usage and cost
accounting, fallbacks on retryable provider errors, and plain-text completions."""

from __future__ import annotations

from typing import Any

import litellm
import pytest
from litellm.exceptions import BadRequestError, InternalServerError, Timeout

from gen_ai_contracts.jobs import TokenUsage
from gen_ai_contracts.llm import LlmClient, UsageMeter, cost_usd
from gen_ai_contracts.tasks.extract_user import ExtractUserRequest, User, build_messages
from worker.config import Settings
from worker.errors import ErrorCode, RetryableJobError, TerminalJobError
from worker.models.job import JobSpend
from worker.services.llm import JobLlm
from worker.services.loop import shared_loop
from worker.services.metrics import JobMetrics
from worker.services.tracing import JobTrace


def test_tools_mode_sends_tools_and_reads_the_tool_call(
    harness: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the hosted-provider mode (litellm 1.106 needs _skip_mcp_handler for it)
    monkeypatch.setenv("LLM_MODE", "TOOLS")
    job = harness.submit()
    assert harness.invoke(job.record) == {"batchItemFailures": []}
    [request] = harness.llm.stats.requests
    assert request["tools"][0]["function"]["name"] == "User"
    assert harness.job(job.job_id)["status"] == "succeeded"


def test_local_server_default_is_json_schema(harness: Any) -> None:
    harness.invoke(harness.submit().record)
    [request] = harness.llm.stats.requests
    assert "tools" not in request
    assert request["response_format"]["type"] == "json_schema"
    # The fake keys calls by the first user message: it must be exactly the text
    assert [m["role"] for m in request["messages"]] == ["system", "user"]
    assert request["messages"][1]["content"] == "Jason is 25 years old"
    # The task's output cap, not a generic one
    assert request["max_tokens"] == 256


def test_usage_counts_every_attempt_of_a_validation_retry(fake_llm: Any) -> None:
    settings = Settings(
        queue_url="q",
        jobs_table_name="t",
        llm_model="openai/fake",
        llm_api_base=fake_llm.base_url,
        llm_api_key="k",
        llm_max_retries=1,
    )
    client = LlmClient(settings)
    once, twice = UsageMeter(), UsageMeter()

    def ask(text: str, meter: UsageMeter) -> User:
        return shared_loop.run(
            client.structured(
                model="openai/fake",
                messages=build_messages(ExtractUserRequest(text=text)),
                response_model=User,
                timeout_seconds=5,
                max_tokens=256,
                meter=meter,
            ),
            timeout=10,
        )

    ask("Jason is 25 years old", once)
    user = ask("Jason is 25 years old !invalidx1", twice)
    assert user.name == "Jason"
    assert (once.responses, twice.responses) == (1, 2)
    assert twice.prompt_tokens > 2 * once.prompt_tokens
    assert twice.completion_tokens > once.completion_tokens


def test_cost_is_tokens_times_the_bundled_prices() -> None:
    usage = TokenUsage(prompt_tokens=1_000, completion_tokens=500)
    prices = litellm.model_cost["gpt-4o-mini"]
    expected = 1_000 * prices["input_cost_per_token"] + 500 * prices["output_cost_per_token"]
    assert cost_usd("openai/gpt-4o-mini", usage) == pytest.approx(expected)
    assert cost_usd("openai/no-such-model-has-a-price", usage) is None


class RecordingClient:
    """Stands in for LlmClient: records each call's model and timeout, then raises or answers.

    ``errors`` maps a model to the exception it raises; others answer with a fixed User."""

    def __init__(self, errors: dict[str, Exception] | None = None) -> None:
        self.errors = errors or {}
        self.calls: list[tuple[str, float]] = []

    async def structured(
        self, *, model: str, timeout_seconds: float, meter: UsageMeter, **_: Any
    ) -> User:
        self.calls.append((model, timeout_seconds))
        meter.add(_Response(prompt_tokens=100, completion_tokens=10))
        if model in self.errors:
            raise self.errors[model]
        return User(name="Ann", age=3)


class _Usage:
    def __init__(self, prompt_tokens: int, completion_tokens: int) -> None:
        self.prompt_tokens, self.completion_tokens = prompt_tokens, completion_tokens


class _Response:
    def __init__(self, prompt_tokens: int, completion_tokens: int) -> None:
        self.usage = _Usage(prompt_tokens, completion_tokens)


def _job_llm(
    client: RecordingClient,
    *,
    now: float = 100,
    deadline: float = 500,
    models: tuple[str, ...] = ("fake",),
) -> JobLlm:
    return JobLlm(
        client=client,  # type: ignore[arg-type]
        models=models,
        deadline=deadline,
        timeout_seconds=30,
        trace=JobTrace(None),
        metrics=JobMetrics("Test"),
        clock=lambda: now,
    )


def _ask(llm: JobLlm) -> User:
    return shared_loop.run(
        llm.structured(messages=[], response_model=User, max_tokens=256), timeout=5
    )


def test_call_timeout_is_llm_timeout_when_the_deadline_is_far() -> None:
    client = RecordingClient()
    _ask(_job_llm(client, now=100, deadline=500))
    assert client.calls == [("fake", 30)]


def test_call_timeout_is_shortened_to_the_deadline() -> None:
    client = RecordingClient()
    _ask(_job_llm(client, now=100, deadline=112.5))
    assert client.calls == [("fake", 12.5)]


def test_timeout_imposed_by_the_deadline_is_reported_as_deadline_exceeded() -> None:
    timeout = Timeout(message="slow", model="fake", llm_provider="openai")
    with pytest.raises(RetryableJobError) as raised:
        _ask(_job_llm(RecordingClient({"fake": timeout}), now=100, deadline=101))
    assert raised.value.code is ErrorCode.DEADLINE_EXCEEDED
    with pytest.raises(RetryableJobError) as raised:
        _ask(_job_llm(RecordingClient({"fake": timeout}), now=100, deadline=500))
    assert raised.value.code is ErrorCode.PROVIDER_TIMEOUT


def _server_error(model: str) -> Exception:
    return InternalServerError(message="boom", model=model, llm_provider="openai")


def test_a_retryable_provider_error_falls_back_to_the_next_model() -> None:
    # GIVEN a primary that answers 500 and a fallback that works
    client = RecordingClient({"primary": _server_error("primary")})
    llm = _job_llm(client, models=("primary", "backup"))
    # WHEN the task asks once
    user = _ask(llm)
    # THEN the fallback answered, and both calls' tokens are on the job
    assert user.name == "Ann"
    assert [model for model, _ in client.calls] == ["primary", "backup"]
    assert llm.spend.answered_by == "backup"
    assert llm.spend.usage == TokenUsage(prompt_tokens=200, completion_tokens=20)
    assert llm.spend.calls == 2


def test_a_rejected_request_does_not_fall_back() -> None:
    rejected = BadRequestError(message="bad", model="primary", llm_provider="openai")
    client = RecordingClient({"primary": rejected})
    with pytest.raises(TerminalJobError) as raised:
        _ask(_job_llm(client, models=("primary", "backup")))
    assert raised.value.code is ErrorCode.PROVIDER_REJECTED
    assert [model for model, _ in client.calls] == ["primary"]


def test_every_model_failing_raises_the_last_retryable_error() -> None:
    client = RecordingClient({"a": _server_error("a"), "b": _server_error("b")})
    llm = _job_llm(client, models=("a", "b"))
    with pytest.raises(RetryableJobError) as raised:
        _ask(llm)
    assert raised.value.code is ErrorCode.PROVIDER_UNAVAILABLE
    assert llm.spend.answered_by is None
    assert llm.spend.calls == 2


def test_job_spend_sums_priced_calls_only() -> None:
    spend = JobSpend()
    spend.add(usage=TokenUsage(prompt_tokens=1, completion_tokens=2), cost=None)
    assert spend.cost_usd is None
    spend.add(usage=TokenUsage(prompt_tokens=3, completion_tokens=4), cost=0.25)
    spend.add(usage=TokenUsage(prompt_tokens=0, completion_tokens=0), cost=0.5)
    assert spend.cost_usd == 0.75
    assert spend.usage == TokenUsage(prompt_tokens=4, completion_tokens=6)
