"""The fake LLM's contract with the tests that use it: plain text, per-model faults, stats."""

from __future__ import annotations

import json
from typing import Any

import httpx
import litellm
import pytest
from litellm.exceptions import InternalServerError

from devstack.fake_llm import FakeLLMConfig, FakeLLMServer, echo_answer

PROMPT = "Write one line about queues"


def chat(fake_llm: FakeLLMServer, prompt: str = PROMPT, **extra: Any) -> httpx.Response:
    body = {"model": "fake", "messages": [{"role": "user", "content": prompt}], **extra}
    return httpx.post(f"{fake_llm.base_url}/chat/completions", json=body, timeout=5)


def test_a_plain_text_request_gets_an_echo_that_stops_with_word_counted_usage(
    fake_llm: FakeLLMServer,
) -> None:
    response = chat(fake_llm, max_tokens=512)

    assert response.status_code == 200
    choice = response.json()["choices"][0]
    assert choice["message"] == {"role": "assistant", "content": f"echo: {PROMPT}"}
    assert choice["finish_reason"] == "stop"
    usage = response.json()["usage"]
    assert usage["completion_tokens"] == len(f"echo: {PROMPT}".split())
    assert usage["prompt_tokens"] > 0
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


def test_an_answer_longer_than_max_tokens_is_cut_and_says_length(fake_llm: FakeLLMServer) -> None:
    response = chat(fake_llm, max_tokens=3)

    choice = response.json()["choices"][0]
    assert choice["message"]["content"] == "echo: Write one"
    assert choice["finish_reason"] == "length"
    assert response.json()["usage"]["completion_tokens"] == 3


def test_the_echo_quotes_at_most_200_characters_of_the_prompt() -> None:
    answer, finish_reason = echo_answer("x" * 500, max_tokens=None)
    assert answer == "echo: " + "x" * 200
    assert finish_reason == "stop"


@pytest.mark.parametrize(
    "structure",
    [
        {"response_format": {"type": "json_object"}},
        {"tools": [{"type": "function", "function": {"name": "User", "parameters": {}}}]},
        {"md_json": True},
    ],
    ids=["response_format", "tools", "md_json"],
)
def test_structured_requests_still_get_the_extracted_user(
    fake_llm: FakeLLMServer, structure: dict[str, Any]
) -> None:
    prompt = "Jason is 25 years old"
    if structure.pop("md_json", False):  # instructor's MD_JSON mode only adds this instruction
        prompt += "\n\nReturn the correct JSON response within a ```json codeblock."
    message = chat(fake_llm, prompt, **structure).json()["choices"][0]["message"]
    content = message["tool_calls"][0]["function"]["arguments"] if "tools" in structure else None
    user = json.loads(content or message["content"])
    assert (user["name"], user["age"]) == ("Jason", 25)


def test_directives_work_for_plain_text_prompts(fake_llm: FakeLLMServer) -> None:
    assert chat(fake_llm, "tell me something !500").status_code == 500
    assert chat(fake_llm, "tell me more !429x1").status_code == 429
    again = chat(fake_llm, "tell me more !429x1")
    assert again.json()["choices"][0]["message"]["content"] == "echo: tell me more !429x1"


def test_output_faults_leave_plain_text_answers_alone(fake_llm: FakeLLMServer) -> None:
    response = chat(fake_llm, "say hi !invalid")
    assert response.json()["choices"][0]["message"]["content"] == "echo: say hi !invalid"


@pytest.mark.parametrize("status", [500, 503, 400, 401, 429])
def test_a_failing_model_always_gets_its_status_and_other_models_answer(
    fake_llm: FakeLLMServer, status: int
) -> None:
    # GIVEN one model configured to fail, whatever the prompt
    fake_llm.llm.reset(FakeLLMConfig(fail_models={"fake-primary": status}))

    # WHEN both models are called twice
    primary = [chat(fake_llm, model="fake-primary") for _ in range(2)]
    fallback = chat(fake_llm, model="fake-fallback")

    # THEN the failing one never answers, the other does, and the stats name each model
    assert [response.status_code for response in primary] == [status, status]
    assert "error" in primary[0].json()
    assert (status == 429) == ("Retry-After" in primary[0].headers)
    assert fallback.status_code == 200
    assert fake_llm.llm.stats.models == {"fake-primary": 2, "fake-fallback": 1}
    assert fake_llm.llm.stats.outcomes == {str(status): 2, "ok": 1}


def test_failing_models_and_model_counts_are_reachable_over_http(fake_llm: FakeLLMServer) -> None:
    # The devstack runs in another process: tests configure and read the fake over HTTP.
    config = {"fail_models": {"fake-primary": 500}}
    httpx.post(f"http://127.0.0.1:{fake_llm.port}/_fake/config", json=config).raise_for_status()
    assert chat(fake_llm, model="fake-primary").status_code == 500
    stats = httpx.get(f"http://127.0.0.1:{fake_llm.port}/_fake/stats").json()
    assert stats["models"] == {"fake-primary": 1}


def test_litellm_reads_the_text_finish_reason_and_usage_and_maps_model_faults(
    fake_llm: FakeLLMServer,
) -> None:
    # GIVEN the call the `complete` task makes: plain text, no response_format, no tools
    fake_llm.llm.reset(FakeLLMConfig(fail_models={"fake-primary": 500}))
    arguments: dict[str, Any] = {
        "messages": [{"role": "user", "content": PROMPT}],
        "api_base": fake_llm.base_url,
        "api_key": "test",
        "max_tokens": 2,
        "num_retries": 0,
        "max_retries": 0,
    }

    # THEN the failing model raises litellm's retryable error, and the other one answers
    with pytest.raises(InternalServerError):
        litellm.completion(model="openai/fake-primary", **arguments)
    response = litellm.completion(model="openai/fake-fallback", **arguments)
    assert response.choices[0].message.content == "echo: Write"
    assert response.choices[0].finish_reason == "length"
    assert response.usage.completion_tokens == 2
