"""CompleteRequest and the `complete` task: what a free-form generation job accepts and sends."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from gen_ai_contracts.tasks import TASKS, TextAnswer
from gen_ai_contracts.tasks.complete import CompleteRequest, Completion, build_messages, run


def test_defaults() -> None:
    request = CompleteRequest(prompt="Hi")
    assert (request.system, request.max_tokens, request.temperature) == (None, 512, None)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"prompt": ""}, "prompt"),
        ({"prompt": "   "}, "prompt"),
        ({"prompt": "a\x00"}, "prompt"),
        ({"prompt": "a" * 20_001}, "prompt"),
        ({"prompt": "ok", "system": "s" * 4_001}, "system"),
        ({"prompt": "ok", "system": "\ufffe"}, "system"),
        ({"prompt": "ok", "max_tokens": 0}, "max_tokens"),
        ({"prompt": "ok", "max_tokens": 4_097}, "max_tokens"),
        ({"prompt": "ok", "temperature": 2.5}, "temperature"),
        ({"prompt": "ok", "temperature": -0.1}, "temperature"),
        ({"prompt": "ok", "surprise": 1}, "surprise"),
    ],
)
def test_invalid_inputs_name_the_field(fields: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as raised:
        CompleteRequest.model_validate(fields)
    assert [error["loc"][0] for error in raised.value.errors()] == [field]


def test_messages_carry_the_system_message_only_when_given() -> None:
    assert build_messages(CompleteRequest(prompt="Hi")) == [{"role": "user", "content": "Hi"}]
    assert build_messages(CompleteRequest(prompt="Hi", system="Be brief")) == [
        {"role": "system", "content": "Be brief"},
        {"role": "user", "content": "Hi"},
    ]


class _EchoLlm:
    def __init__(self) -> None:
        self.asked: dict[str, Any] = {}

    async def text(self, **kwargs: Any) -> TextAnswer:
        self.asked = kwargs
        return TextAnswer(text="hello", finish_reason="stop")


async def _run(request: CompleteRequest, llm: _EchoLlm) -> Completion:
    return await run(request, llm)  # type: ignore[arg-type]


def test_run_asks_for_text_with_the_requested_limits() -> None:
    import asyncio

    llm = _EchoLlm()
    result = asyncio.run(_run(CompleteRequest(prompt="Hi", max_tokens=7, temperature=0.5), llm))
    assert result == Completion(text="hello", finish_reason="stop")
    assert (llm.asked["max_tokens"], llm.asked["temperature"]) == (7, 0.5)


def test_the_registry_describes_each_task() -> None:
    for name, task in TASKS.items():
        assert task.name == name
        assert task.description
        assert task.input_model.model_json_schema()["type"] == "object"
        assert task.result_model.model_json_schema()["type"] == "object"
