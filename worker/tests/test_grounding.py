"""Grounding through the worker: an invented value is re-asked, a persistent invention fails
the job without storing or logging it, template syntax reaches the model verbatim."""

from __future__ import annotations

from typing import Any

import pytest


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
        "message": "the model's output failed validation after 3 attempt(s): age, name",
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


def test_an_age_the_text_does_not_state_is_re_asked(harness: Any) -> None:
    # GIVEN a model that first answers with the prompt example's age instead of the text's
    job = harness.submit("Maria Gonzalez is 41 years old !inventagex1")
    assert harness.invoke(job.record) == {"batchItemFailures": []}
    # THEN the re-ask's grounded age is stored, after exactly two LLM calls
    stored = harness.job(job.job_id)
    assert stored["result"] == '{"name":"Maria","age":41,"email":null}'
    assert len(harness.llm.stats.requests) == 2
