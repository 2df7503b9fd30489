"""The shared LLM client's helpers: messages sent verbatim through instructor's templating."""

from __future__ import annotations

from gen_ai_contracts.llm import verbatim_messages


def test_verbatim_messages_turn_every_content_into_a_variable() -> None:
    messages = [{"role": "system", "content": "S {{ x }}"}, {"role": "user", "content": "U"}]
    templated, context = verbatim_messages(messages, {"source_text": "U"})
    assert [m["content"] for m in templated] == [
        "{{ _verbatim_message_0 }}",
        "{{ _verbatim_message_1 }}",
    ]
    assert context["_verbatim_message_0"] == "S {{ x }}"
    assert context["source_text"] == "U"
