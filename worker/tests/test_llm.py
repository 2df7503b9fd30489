"""The LLM gateway: instructor modes against the fake, bounded timeouts, usage accounting."""

from __future__ import annotations

from typing import Any

import pytest
from litellm.exceptions import Timeout

from worker.config import Settings
from worker.errors import ErrorCode, RetryableJobError
from worker.models.extract_user import ExtractUserRequest, User
from worker.services.llm import JobLlm, LlmGateway, TokenUsage
from worker.services.loop import shared_loop
from worker.services.metrics import JobMetrics
from worker.services.tracing import JobTrace
from worker.tasks.extract_user import build_messages


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


def test_usage_counts_every_attempt_of_a_validation_retry(fake_llm: Any) -> None:
    settings = Settings(
        queue_url="q",
        jobs_table_name="t",
        llm_model="openai/fake",
        llm_api_base=fake_llm.base_url,
        llm_api_key="k",
        llm_max_retries=1,
    )
    gateway = LlmGateway(settings)
    once, twice = TokenUsage(), TokenUsage()
    messages = build_messages(ExtractUserRequest(text="Jason is 25 years old"))
    shared_loop.run(
        gateway.structured(messages=messages, response_model=User, timeout_seconds=5, usage=once),
        timeout=10,
    )
    retried = build_messages(ExtractUserRequest(text="Jason is 25 years old !invalidx1"))
    user = shared_loop.run(
        gateway.structured(messages=retried, response_model=User, timeout_seconds=5, usage=twice),
        timeout=10,
    )
    assert user.name == "Jason"
    assert twice.prompt_tokens > 2 * once.prompt_tokens
    assert twice.completion_tokens > once.completion_tokens


class RecordingGateway:
    """Stands in for LlmGateway: records the timeout it was given, then raises or answers."""

    model = "fake"

    def __init__(self, error: Exception | None = None) -> None:
        self.error = error
        self.timeouts: list[float] = []

    async def structured(self, *, timeout_seconds: float, **_: Any) -> User:
        self.timeouts.append(timeout_seconds)
        if self.error:
            raise self.error
        return User(name="Ann", age=3)


def _job_llm(gateway: RecordingGateway, *, now: float, deadline: float) -> JobLlm:
    return JobLlm(
        gateway=gateway,  # type: ignore[arg-type]
        deadline=deadline,
        timeout_seconds=30,
        trace=JobTrace(None),
        metrics=JobMetrics("Test"),
        clock=lambda: now,
    )


def _ask(llm: JobLlm) -> User:
    return shared_loop.run(llm.structured(messages=[], response_model=User), timeout=5)


def test_call_timeout_is_llm_timeout_when_the_deadline_is_far() -> None:
    gateway = RecordingGateway()
    _ask(_job_llm(gateway, now=100, deadline=500))
    assert gateway.timeouts == [30]


def test_call_timeout_is_shortened_to_the_deadline() -> None:
    gateway = RecordingGateway()
    _ask(_job_llm(gateway, now=100, deadline=112.5))
    assert gateway.timeouts == [12.5]


def test_timeout_imposed_by_the_deadline_is_reported_as_deadline_exceeded() -> None:
    timeout = Timeout(message="slow", model="fake", llm_provider="openai")
    with pytest.raises(RetryableJobError) as raised:
        _ask(_job_llm(RecordingGateway(timeout), now=100, deadline=101))
    assert raised.value.code is ErrorCode.DEADLINE_EXCEEDED
    with pytest.raises(RetryableJobError) as raised:
        _ask(_job_llm(RecordingGateway(timeout), now=100, deadline=500))
    assert raised.value.code is ErrorCode.PROVIDER_TIMEOUT
