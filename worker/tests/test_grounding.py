"""Grounding: the extracted name and email must occur in the job's text.

The task passes the text to instructor as the validation context, so an invented value fails
``User``'s validators and is re-asked; without a context (reading a stored result) nothing is
checked.
"""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from worker.models.extract_user import User, grounding_context
from worker.services.llm import verbatim_messages

TEXT = "Jason is 25 years old"
CONTEXT = grounding_context(TEXT)


def test_values_copied_from_the_text_are_accepted() -> None:
    user = User.model_validate({"name": "jason", "age": 25, "email": None}, context=CONTEXT)
    assert (user.name, user.email) == ("jason", None)
    context = grounding_context("MARY  ANN\nis 30, write to Mary.Ann@Example.COM")
    user = User.model_validate(
        {"name": "Mary Ann", "age": 30, "email": "mary.ann@example.com"}, context=context
    )
    assert user.email == "mary.ann@example.com"


def test_an_email_the_text_does_not_contain_is_dropped() -> None:
    user = User.model_validate_json(
        '{"name": "Jason", "age": 25, "email": "jason@example.com"}', context=CONTEXT
    )
    assert (user.name, user.age, user.email) == ("Jason", 25, None)


def test_an_invented_name_is_refused() -> None:
    with pytest.raises(ValidationError) as raised:
        User.model_validate({"name": "Maria", "age": 25}, context=CONTEXT)
    [error] = raised.value.errors()
    assert error["loc"] == ("name",)
    assert "name must be copied from the text; 'Maria' does not appear" in error["msg"]


@pytest.mark.parametrize("context", [None, {}, {"other": TEXT}, {"source_text": 42}, "text"])
def test_without_the_source_text_nothing_is_checked(context: object) -> None:
    user = User.model_validate(
        {"name": "Maria", "age": 25, "email": "maria@example.com"}, context=context
    )
    assert User.model_validate_json(user.model_dump_json()) == user


def test_verbatim_messages_turn_every_content_into_a_variable() -> None:
    messages = [{"role": "system", "content": "S {{ x }}"}, {"role": "user", "content": "U"}]
    templated, context = verbatim_messages(messages, {"source_text": "U"})
    assert [m["content"] for m in templated] == [
        "{{ _verbatim_message_0 }}",
        "{{ _verbatim_message_1 }}",
    ]
    assert context["_verbatim_message_0"] == "S {{ x }}"
    assert context["source_text"] == "U"


@pytest.mark.parametrize("mode", ["TOOLS", "JSON_SCHEMA", "JSON", "MD_JSON"])
def test_an_invented_person_is_re_asked_and_the_grounded_answer_stored(
    harness: Any, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    # GIVEN a model that first answers with a person the text does not mention
    monkeypatch.setenv("LLM_MODE", mode)
    job = harness.submit("Jason is 25 years old !hallucinatex1")
    # WHEN the worker runs the job
    assert harness.invoke(job.record) == {"batchItemFailures": []}
    # THEN the re-ask's grounded answer is the result, after exactly two LLM calls
    stored = harness.job(job.job_id)
    assert stored["status"] == "succeeded"
    assert stored["result"] == '{"name":"Jason","age":25,"email":null}'
    assert len(harness.llm.stats.requests) == 2


def test_a_model_that_keeps_inventing_fails_the_job_without_the_invention(
    harness: Any, captured_logs: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    text = "Quillon is 47 years old !hallucinate"
    job = harness.submit(text)
    assert harness.invoke(job.record) == {"batchItemFailures": []}
    stored = harness.job(job.job_id)
    assert stored["status"] == "failed"
    assert stored["error"] == {
        "code": "extraction_failed",
        "message": "the model's output failed validation after 3 attempt(s): name",
    }
    assert harness.calls(text) == 3  # LLM_MAX_RETRIES defaults to 2
    everything = captured_logs.text + capsys.readouterr().out
    assert "Quillon" not in everything
    assert "maria@example.com" not in everything


def test_template_syntax_in_the_text_reaches_the_model_as_written(harness: Any) -> None:
    text = "Jason is 25 years old {{ 7*7 }} {% raw %} {# x #} {% endraw %} {{"
    job = harness.submit(text)
    assert harness.invoke(job.record) == {"batchItemFailures": []}
    assert harness.job(job.job_id)["status"] == "succeeded"
    [request] = harness.llm.stats.requests
    assert request["messages"][1]["content"] == text


def test_an_invented_email_is_dropped_without_a_re_ask(harness: Any) -> None:
    # GIVEN a model that returns the right person with an email the text does not contain
    job = harness.submit("Jason is 25 years old !inventemail")
    assert harness.invoke(job.record) == {"batchItemFailures": []}
    # THEN the job succeeds on the first call, with no email
    stored = harness.job(job.job_id)
    assert stored["result"] == '{"name":"Jason","age":25,"email":null}'
    assert len(harness.llm.stats.requests) == 1
