"""Terminal failures: the job is failed with {code, message} and the message acknowledged."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest


def _fail_case(harness: Any, body: str) -> tuple[dict[str, Any], str]:
    """Deliver ``body`` for a queued job; return the handler's response and the job id."""
    job_id = json.loads(body)["job_id"]
    harness.put_job(job_id, status="queued")
    return harness.invoke(harness.deliver(body)), job_id


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"version": 2}, "unsupported_version"),
        ({"task": "summarise"}, "unknown_task"),
        ({"payload": {"text": "   "}}, "invalid_payload"),
        ({"payload": {"text": "Jason", "extra": 1}}, "invalid_payload"),
        ({"payload": {}}, "invalid_payload"),
        ({"payload": {"text": "Jason\u0000 is 25"}}, "invalid_payload"),
        ({"payload": {"text": "Jason \ud800 is 25"}}, "invalid_payload"),
        ({"surprise": True}, "invalid_message"),
        ({"submitted_at": "yesterday"}, "invalid_message"),
    ],
)
def test_bad_messages_fail_the_job_and_are_acknowledged(
    harness: Any, fields: dict[str, Any], code: str
) -> None:
    response, job_id = _fail_case(harness, harness.body(**fields))
    assert response == {"batchItemFailures": []}
    stored = harness.job(job_id)
    assert stored["status"] == "failed"
    assert stored["error"]["code"] == code
    assert stored["error"]["message"]
    assert stored["attempts"] == 1
    assert harness.llm.stats.calls == {}


@pytest.mark.parametrize("body", ["not json", "[1, 2]", '{"job_id": "not-a-uuid", "version": 1}'])
def test_messages_without_a_readable_job_are_acknowledged_and_logged(
    harness: Any, captured_logs: Any, capsys: pytest.CaptureFixture[str], body: str
) -> None:
    record = harness.deliver(body)
    response = harness.invoke(record)
    assert response == {"batchItemFailures": []}
    [line] = captured_logs.with_message("message rejected and acknowledged")
    assert line["level"] == "ERROR"
    assert line["message_id"] == record["messageId"]
    assert body not in captured_logs.text
    assert '"MessagesRejected":[1.0]' in capsys.readouterr().out


def test_a_bad_message_of_a_job_without_a_record_creates_none(harness: Any) -> None:
    # The API's record is gone (TTL) or was never written: nobody was told about this job
    job_id = str(uuid.uuid4())
    response = harness.invoke(harness.deliver(harness.body(job_id=job_id, version=7)))
    assert response == {"batchItemFailures": []}
    key = {"job_id": {"S": job_id}}
    assert "Item" not in harness.dynamodb.get_item(TableName=harness.resources.table_name, Key=key)


def test_unsupported_version_of_a_queued_job_fails_it(harness: Any) -> None:
    job = harness.submit(version=7)
    assert harness.invoke(job.record) == {"batchItemFailures": []}
    stored = harness.job(job.job_id)
    assert (stored["status"], stored["error"]["code"]) == ("failed", "unsupported_version")


def test_bad_message_for_a_finished_job_leaves_the_job_alone(harness: Any) -> None:
    job = harness.submit()
    harness.invoke(job.record)
    response = harness.invoke(harness.deliver(harness.body(job_id=job.job_id, version=2)))
    assert response == {"batchItemFailures": []}
    assert harness.job(job.job_id)["status"] == "succeeded"


def test_output_failing_validation_after_retries_is_extraction_failed(
    harness: Any, captured_logs: Any
) -> None:
    # GIVEN a text the model cannot turn into a valid User (LLM_MAX_RETRIES defaults to 2)
    text = "nobody is described here"
    job = harness.submit(text)
    response = harness.invoke(job.record)
    assert response == {"batchItemFailures": []}
    stored = harness.job(job.job_id)
    assert stored["status"] == "failed"
    assert stored["error"]["code"] == "extraction_failed"
    assert "name" in stored["error"]["message"]
    assert "age" in stored["error"]["message"]
    assert harness.calls(text) == 3
    [line] = captured_logs.with_message("job failed")
    assert (line["job_id"], line["error_code"]) == (job.job_id, "extraction_failed")


def test_unparseable_output_is_extraction_failed(harness: Any) -> None:
    text = "Jason is 25 years old !badjson"
    job = harness.submit(text)
    assert harness.invoke(job.record) == {"batchItemFailures": []}
    assert harness.job(job.job_id)["error"]["code"] == "extraction_failed"


def test_provider_rejection_is_terminal(harness: Any) -> None:
    text = "Jason is 25 years old !400"
    job = harness.submit(text)
    assert harness.invoke(job.record) == {"batchItemFailures": []}
    stored = harness.job(job.job_id)
    assert stored["error"] == {
        "code": "provider_rejected",
        "message": "the LLM provider rejected the request with HTTP 400",
    }
    assert harness.calls(text) == 1


def test_job_logs_carry_ids_and_never_the_text(
    harness: Any, captured_logs: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    text = "Jason is 25 years old, jason@example.com"
    job = harness.submit(text)
    harness.invoke(job.record)
    job_lines = [line for line in captured_logs.lines if "job_id" in line]
    assert job_lines
    assert all(line["request_id"] == "req-test-1" for line in job_lines)
    everything = captured_logs.text + capsys.readouterr().out
    assert "Jason" not in everything
    assert "jason@example.com" not in everything
    assert "sk-test-not-a-real-key" not in everything
