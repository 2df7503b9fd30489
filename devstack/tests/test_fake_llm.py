"""The fake LLM's contract with the tests that use it: plain text, per-model faults, stats."""

from __future__ import annotations

import json
from typing import Any

import httpx
import litellm
import pytest
from litellm.exceptions import InternalServerError

from devstack.fake_llm import (
    Decision,
    FakeLLM,
    FakeLLMConfig,
    FakeLLMServer,
    busiest_window,
    echo_answer,
)

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


class FakeClock:
    """Epoch seconds that move only when a test says so."""

    def __init__(self, start: float = 1_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


def call_at(llm: FakeLLM, clock: FakeClock, at: float, model: str = "fake") -> Decision:
    clock.now = 1_000_000.0 + at
    return llm.decide({"model": model, "messages": [{"role": "user", "content": PROMPT}]})


def test_the_window_limit_refuses_beyond_the_quota_until_the_oldest_call_leaves() -> None:
    # GIVEN a provider that accepts 3 calls in any 60 s
    clock = FakeClock()
    llm = FakeLLM(FakeLLMConfig(window_limit=3, window_seconds=60), clock=clock)

    # WHEN calls arrive at 0, 10, 20 s, then at 30, 59.5, 60 and 61 s
    accepted = [call_at(llm, clock, at) for at in (0, 10, 20)]
    over = call_at(llm, clock, 30)
    almost = call_at(llm, clock, 59.5)
    after_oldest_left = call_at(llm, clock, 60)
    full_again = call_at(llm, clock, 61)

    # THEN the first three pass; the 4th waits for the call at 0 s to leave (30 s), rounded up
    # to at least 1 s; refused calls took no slot, so at 60 s one is free; at 61 s the oldest
    # accepted call is the one at 10 s
    assert [d.outcome for d in accepted] == ["ok", "ok", "ok"]
    assert (over.outcome, over.retry_after_seconds, over.immediate) == ("429", 30, True)
    assert (almost.outcome, almost.retry_after_seconds) == ("429", 1)
    assert after_oldest_left.outcome == "ok"
    assert (full_again.outcome, full_again.retry_after_seconds) == ("429", 9)
    causes = [record.cause for record in llm.stats.log]
    assert causes == [None, None, None, "window", "window", None, "window"]
    assert llm.stats.outcomes == {"ok": 4, "429": 3}


@pytest.mark.parametrize("status", [503, 429])
def test_an_outage_answers_every_call_until_it_ends_then_the_provider_recovers(
    status: int,
) -> None:
    # GIVEN an outage of 30 s that also has a quota of 2 calls per minute
    clock = FakeClock()
    config = FakeLLMConfig(
        outage_status=status, outage_seconds=30, retry_after_seconds=2, window_limit=2
    )
    llm = FakeLLM(config, clock=clock)

    # WHEN calls arrive during the outage and after it
    during = [call_at(llm, clock, at) for at in (0, 1, 15, 29.9)]
    after = [call_at(llm, clock, at) for at in (30, 31, 32)]

    # THEN the outage refuses every call at once, with its Retry-After; its calls took none of
    # the quota, so the first two calls after it pass and the third is over the quota
    assert {(d.outcome, d.retry_after_seconds, d.immediate) for d in during} == {
        (str(status), 2, True)
    }
    assert [d.outcome for d in after] == ["ok", "ok", "429"]
    assert llm.outage_ends_at == 1_000_030.0
    assert [r.cause for r in llm.stats.log] == ["outage"] * 4 + [None, None, "window"]
    assert [r.at - 1_000_000.0 for r in llm.stats.log] == pytest.approx(
        [0, 1, 15, 29.9, 30, 31, 32]
    )


def test_the_busiest_window_counts_the_most_calls_in_any_minute() -> None:
    assert busiest_window([], 60) == 0
    assert busiest_window([0, 59.9, 60, 61, 200], 60) == 3  # 0 leaves at 60: {59.9, 60, 61}
    assert busiest_window([5, 1, 3], 60) == 3  # order does not matter


def test_quota_and_outage_answers_and_the_call_log_are_reachable_over_http(
    fake_llm: FakeLLMServer,
) -> None:
    # GIVEN a quota of 2 calls per minute set over HTTP, as a devstack test does
    base = f"http://127.0.0.1:{fake_llm.port}/_fake"
    httpx.post(f"{base}/config", json={"window_limit": 2}).raise_for_status()

    # WHEN three calls arrive at once
    responses = [chat(fake_llm) for _ in range(3)]

    # THEN the third is a 429 whose Retry-After is about the minute, and the log says why
    assert [r.status_code for r in responses] == [200, 200, 429]
    assert 59 <= int(responses[2].headers["Retry-After"]) <= 60
    stats = httpx.get(f"{base}/stats").json()
    assert [(r["outcome"], r["cause"]) for r in stats["log"]] == [
        ("ok", None), ("ok", None), ("429", "window"),
    ]  # fmt: skip
    assert stats["outage_ends_at"] is None
    assert all(stats["configured_at"] <= r["at"] for r in stats["log"])

    # AND an outage of 429s set over HTTP answers its own Retry-After
    outage = {"outage_status": 429, "outage_seconds": 60, "retry_after_seconds": 2}
    httpx.post(f"{base}/config", json=outage).raise_for_status()
    refused = chat(fake_llm)
    assert (refused.status_code, refused.headers["Retry-After"]) == (429, "2")
    stats = httpx.get(f"{base}/stats").json()
    assert stats["outage_ends_at"] == pytest.approx(stats["configured_at"] + 60)
    assert [(r["outcome"], r["cause"]) for r in stats["log"]] == [("429", "outage")]


def test_the_random_failure_cap_bounds_500s_timeouts_and_invalid_answers_per_prompt_not_429s() -> (
    None
):
    # GIVEN a provider that fails every call at random, at most 2 times per prompt
    clock = FakeClock()
    always_fail = FakeLLMConfig(rate_500=0.5, rate_timeout=0.5, max_random_failures_per_prompt=2)
    always_429 = FakeLLMConfig(rate_429=1.0, max_random_failures_per_prompt=2)

    # WHEN one prompt is sent five times, and another one once; then 429s are sent
    llm = FakeLLM(always_fail, clock=clock)
    first = [call_at(llm, clock, at).outcome for at in range(5)]
    other = llm.decide({"model": "fake", "messages": [{"role": "user", "content": "other"}]})
    throttled = FakeLLM(always_429, clock=clock)

    # THEN the prompt fails twice then answers; the cap counts per prompt; 429s are never capped
    assert all(outcome in ("500", "timeout") for outcome in first[:2]), first
    assert first[2:] == ["ok", "ok", "ok"]
    assert other.outcome in ("500", "timeout")
    assert {call_at(throttled, clock, at).outcome for at in range(5)} == {"429"}
