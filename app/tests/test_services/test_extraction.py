"""extract_user against the fake LLM: the shared LLM client (real litellm + instructor), every
failure classified."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from devstack.fake_llm import FakeLLMServer
from gen_ai_contracts.tasks.extract_user import MAX_OUTPUT_TOKENS, SYSTEM_PROMPT, User
from gen_ai_contracts.tasks.extract_user import ExtractUserRequest as Request
from gen_ai_on_aws.api.lifespan import stop_litellm_logging
from gen_ai_on_aws.config import Settings
from gen_ai_on_aws.services import extraction
from gen_ai_on_aws.services.errors import (
    ExtractionFailedError,
    LlmRateLimitedError,
    LlmRejectedError,
    LlmUnavailableError,
)
from gen_ai_on_aws.services.extraction import extract_user as extract_user_with

# anyio's pytest plugin (installed with anyio) runs the async tests on asyncio.
pytestmark = pytest.mark.anyio


@pytest.fixture(autouse=True)
async def _stop_litellm_logging() -> AsyncIterator[None]:
    """Each test has its own event loop: stop litellm's logging task before it closes."""
    yield
    await stop_litellm_logging()


JASON = "Jason is 25 years old, write to jason@example.com"


def build_settings(api_base: str | None, **overrides: Any) -> Settings:
    fields: dict[str, Any] = {
        "queue_url": "unused",
        "jobs_table_name": "unused",
        "llm_model": "openai/fake-model",
        "llm_api_base": api_base,
        "llm_api_key": "sk-test-not-a-real-key",
        "llm_timeout_seconds": 0.5,
        "llm_max_retries": 1,
    }
    return Settings(**(fields | overrides))


async def extract_user(*, text: str, settings: Settings) -> User:
    return await extract_user_with(request=Request(text=text), settings=settings)


@pytest.mark.parametrize("mode", ["TOOLS", "JSON_SCHEMA", "JSON", "MD_JSON"])
async def test_extracts_a_user_in_every_supported_mode(fake_llm: FakeLLMServer, mode: str) -> None:
    user = await extract_user(text=JASON, settings=build_settings(fake_llm.base_url, llm_mode=mode))

    assert (user.name, user.age, user.email) == ("Jason", 25, "jason@example.com")


async def test_tools_mode_sends_tools_and_reads_the_tool_call(fake_llm: FakeLLMServer) -> None:
    await extract_user(text=JASON, settings=build_settings(fake_llm.base_url, llm_mode="TOOLS"))

    [request] = fake_llm.llm.stats.requests
    assert request["tools"][0]["function"]["name"]


async def test_sends_examples_in_the_system_message_and_the_text_as_first_user_message(
    fake_llm: FakeLLMServer,
) -> None:
    await extract_user(text=JASON, settings=build_settings(fake_llm.base_url))

    [request] = fake_llm.llm.stats.requests
    system, user = request["messages"][:2]
    assert system["role"] == "system"
    assert system["content"].startswith(SYSTEM_PROMPT)
    assert user == {"role": "user", "content": JASON}
    assert request["model"] == "fake-model"
    assert request["max_tokens"] == MAX_OUTPUT_TOKENS


async def test_text_without_a_person_fails_extraction_after_validation_retries(
    fake_llm: FakeLLMServer,
) -> None:
    text = "The weather is nice today."

    with pytest.raises(ExtractionFailedError):
        await extract_user(text=text, settings=build_settings(fake_llm.base_url))

    assert fake_llm.llm.stats.calls[text] == 2  # first answer + LLM_MAX_RETRIES=1 re-ask


@pytest.mark.parametrize("directive", ["!invalid", "!badjson"])
async def test_output_that_never_validates_fails_extraction(
    fake_llm: FakeLLMServer, directive: str
) -> None:
    with pytest.raises(ExtractionFailedError):
        await extract_user(text=f"{directive} {JASON}", settings=build_settings(fake_llm.base_url))


async def test_invalid_output_is_re_asked_and_then_accepted(fake_llm: FakeLLMServer) -> None:
    text = f"!invalidx1 {JASON}"

    user = await extract_user(text=text, settings=build_settings(fake_llm.base_url))

    assert user.name == "Jason"
    assert fake_llm.llm.stats.calls[text] == 2


async def test_rate_limit_carries_the_providers_retry_after(fake_llm: FakeLLMServer) -> None:
    fake_llm.llm.config.retry_after_seconds = 0  # keep the SDK's own retry wait short

    with pytest.raises(LlmRateLimitedError) as exc:
        await extract_user(text=f"!429 {JASON}", settings=build_settings(fake_llm.base_url))

    assert exc.value.retry_after == "0"


async def test_provider_5xx_is_unavailable_after_bounded_retries(fake_llm: FakeLLMServer) -> None:
    text = f"!500 {JASON}"

    with pytest.raises(LlmUnavailableError, match="HTTP 500"):
        await extract_user(text=text, settings=build_settings(fake_llm.base_url))

    # num_retries=1: one retry in the OpenAI SDK, one in litellm's wrapper; never more.
    assert fake_llm.llm.stats.calls[text] == 3


async def test_transient_provider_error_is_retried_in_process(fake_llm: FakeLLMServer) -> None:
    text = f"!500x1 {JASON}"

    user = await extract_user(text=text, settings=build_settings(fake_llm.base_url))

    assert user.age == 25
    assert fake_llm.llm.stats.calls[text] == 2


async def test_provider_timeout_is_unavailable(fake_llm: FakeLLMServer) -> None:
    fake_llm.llm.config.timeout_sleep_seconds = 1.0

    with pytest.raises(LlmUnavailableError, match="timed out"):
        await extract_user(
            text=f"!timeout {JASON}",
            settings=build_settings(fake_llm.base_url, llm_timeout_seconds=0.2),
        )


async def test_deadline_bounds_all_attempts_together(fake_llm: FakeLLMServer) -> None:
    fake_llm.llm.config.latency_seconds = 0.5
    settings = build_settings(
        fake_llm.base_url, llm_timeout_seconds=5, extract_deadline_seconds=0.2
    )

    with pytest.raises(LlmUnavailableError, match="deadline"):
        await extract_user(text=JASON, settings=settings)


async def test_unreachable_provider_is_unavailable() -> None:
    settings = build_settings("http://127.0.0.1:9/v1", llm_timeout_seconds=0.5)

    with pytest.raises(LlmUnavailableError):
        await extract_user(text=JASON, settings=settings)


async def test_an_error_unrelated_to_the_llm_propagates_as_a_bug(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class BrokenClient:
        async def structured(self, **arguments: Any) -> User:
            raise KeyError("a bug")

    monkeypatch.setattr(extraction, "llm_client", lambda settings: BrokenClient())

    with pytest.raises(KeyError, match="a bug"):
        await extract_user(text=JASON, settings=build_settings(None))


async def test_provider_refusal_is_rejected_without_its_message(rejecting_llm_url: str) -> None:
    with pytest.raises(LlmRejectedError) as exc:
        await extract_user(text=JASON, settings=build_settings(rejecting_llm_url))

    assert str(exc.value) == "the provider rejected the request with HTTP 401"


# Grounding: the text reaches User's validators as instructor's validation context.

MODES = ["TOOLS", "JSON_SCHEMA", "JSON", "MD_JSON"]


@pytest.mark.parametrize("mode", MODES)
async def test_an_invented_person_is_re_asked_and_corrected_in_every_mode(
    fake_llm: FakeLLMServer, mode: str
) -> None:
    # GIVEN a model that first answers with a person the text does not mention
    text = "Jason is 25 years old !hallucinatex1"

    user = await extract_user(text=text, settings=build_settings(fake_llm.base_url, llm_mode=mode))

    # THEN the invented answer failed validation and the re-ask produced the grounded one
    assert (user.name, user.age, user.email) == ("Jason", 25, None)
    assert len(fake_llm.llm.stats.requests) == 2  # (MD_JSON appends to the text: count all)
    re_ask = json.dumps(fake_llm.llm.stats.requests[1]["messages"])
    assert "name must be copied from the text" in re_ask
    assert "'Maria' does not appear in the text" in re_ask


async def test_a_model_that_keeps_inventing_fails_extraction(fake_llm: FakeLLMServer) -> None:
    text = "Jason is 25 years old !hallucinate"

    with pytest.raises(ExtractionFailedError) as raised:
        await extract_user(text=text, settings=build_settings(fake_llm.base_url))

    assert fake_llm.llm.stats.calls[text] == 2  # first answer + LLM_MAX_RETRIES=1 re-ask
    assert str(raised.value) == "the model's output never validated"


@pytest.mark.parametrize("mode", MODES)
async def test_template_syntax_in_the_text_reaches_the_model_as_written(
    fake_llm: FakeLLMServer, mode: str
) -> None:
    # instructor renders messages as Jinja2 templates when given a context: the text must not be
    text = "Jason is 25 years old {{ 7*7 }} {% raw %} {# x #} {% endraw %} {{"

    user = await extract_user(text=text, settings=build_settings(fake_llm.base_url, llm_mode=mode))

    assert user.name == "Jason"
    [request] = fake_llm.llm.stats.requests
    system, first_user = request["messages"][:2]
    assert system["content"].startswith(SYSTEM_PROMPT)
    assert first_user["content"].startswith(text)
