"""The shared LLM client's helpers: messages sent verbatim (instructor's templating skipped or
neutralised), response models prepared once, costs memoised."""

from __future__ import annotations

from typing import Any

import instructor
import litellm
import pytest
from instructor.v2.core.response_model import prepare_response_model
from instructor.v2.core.templating import handle_templating  # type: ignore[attr-defined]
from pydantic import BaseModel

from gen_ai_contracts.jobs import TokenUsage
from gen_ai_contracts.llm import (
    _SKIPS_TEMPLATING,
    ValidationContext,
    _cost_usd,
    cost_usd,
    prepared_response_model,
    untemplated_messages,
    verbatim_messages,
)


def test_verbatim_messages_turn_every_content_into_a_variable() -> None:
    messages = [{"role": "system", "content": "S {{ x }}"}, {"role": "user", "content": "U"}]
    templated, context = verbatim_messages(messages, {"source_text": "U"})
    assert [m["content"] for m in templated] == [
        "{{ _verbatim_message_0 }}",
        "{{ _verbatim_message_1 }}",
    ]
    assert context["_verbatim_message_0"] == "S {{ x }}"
    assert context["source_text"] == "U"


def test_instructor_does_not_template_messages_given_a_validation_context() -> None:
    # The fast path in `structured` relies on this; if instructor changes, it falls back.
    kwargs = {"messages": [{"role": "user", "content": "{{ 7*7 }} {% raw %}"}]}
    context = ValidationContext(source_text="x")
    assert handle_templating(kwargs, mode=instructor.Mode.TOOLS, context=context) == kwargs
    assert context["source_text"] == "x"
    assert _SKIPS_TEMPLATING


def test_untemplated_messages_match_what_instructor_renders_from_verbatim_messages() -> None:
    messages = [
        {"role": "system", "content": "  S {{ x }}\n  indented {% if %}"},
        {"role": "user", "content": "U\n   b {# c #}\n"},
    ]
    templated, context = verbatim_messages(messages, {"source_text": "U"})
    rendered = handle_templating(
        {"messages": templated}, mode=instructor.Mode.TOOLS, context=context
    )
    assert untemplated_messages(messages) == rendered["messages"]


def test_the_prepared_response_model_is_built_once_per_class() -> None:
    class Person(BaseModel):
        name: str

    prepared = prepared_response_model(Person)
    assert prepared is prepared_response_model(Person)
    assert issubclass(prepared, Person)
    assert prepare_response_model(prepared) is prepared  # instructor keeps it as it is


def test_cost_is_memoised_per_exact_usage_and_none_for_unpriced_models(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[tuple[str, int, int]] = []
    real = litellm.cost_per_token

    def counting(*, model: str, prompt_tokens: int, completion_tokens: int) -> Any:
        calls.append((model, prompt_tokens, completion_tokens))
        return real(model=model, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens)

    monkeypatch.setattr(litellm, "cost_per_token", counting)
    _cost_usd.cache_clear()
    small = TokenUsage(prompt_tokens=1000, completion_tokens=10)
    large = TokenUsage(prompt_tokens=300_000, completion_tokens=10)
    first = cost_usd("gpt-4o-mini", small)
    assert first is not None
    assert first > 0
    assert cost_usd("gpt-4o-mini", small) == first
    assert cost_usd("gpt-4o-mini", large) != first  # other counts are priced afresh
    assert cost_usd("openai/no-such-model-x", small) is None
    assert cost_usd("openai/no-such-model-x", small) is None
    assert len(calls) == 3
    _cost_usd.cache_clear()
