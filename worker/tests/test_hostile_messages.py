"""Hostile SQS bodies: every one is acknowledged (never redelivered until the DLQ), and a job
whose id can still be read is failed with the right code.

test_terminal.py covers plain non-JSON, arrays, bad ids, unknown versions and tasks and bad
payload values; these are the bodies that break parsers or have the wrong JSON types.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

REGION = "us-east-1"
DEPTH = 100_000
# Objects nest 5 bytes a level: 40,000 levels stay under SQS's 256 KiB message limit.
OBJECT_DEPTH = 40_000


def envelope(job_id: str, **fields: Any) -> str:
    message = {
        "version": 1,
        "job_id": job_id,
        "task": "extract_user",
        "payload": {"text": "Jason is 25 years old"},
        # Fresh: a job older than JOB_MAX_AGE_SECONDS fails as max_age_exceeded first
        "submitted_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "request_id": "req-hostile",
        **fields,
    }
    return json.dumps(message)


def table_items(harness: Any) -> list[dict[str, Any]]:
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    return list(dynamodb.scan(TableName=harness.resources.table_name)["Items"])


UNREADABLE_BODIES = {
    "array-100000-deep": "[" * DEPTH + "]" * DEPTH,
    "object-40000-deep": '{"a":' * OBJECT_DEPTH + "1" + "}" * OBJECT_DEPTH,
    "unclosed-100000-deep": "[" * DEPTH,
    "integer-of-5000-digits": "9" * 5_000,
    "json-null": "null",
    "json-number": "42",
    "json-string": '"extract_user"',
    "whitespace": " \n\t ",
    "empty-object": "{}",
}


@pytest.mark.parametrize("body", UNREADABLE_BODIES.values(), ids=UNREADABLE_BODIES.keys())
def test_unreadable_bodies_are_acknowledged_logged_and_store_nothing(
    harness: Any, captured_logs: Any, capsys: pytest.CaptureFixture[str], body: str
) -> None:
    # GIVEN a body no job can be read from, delivered by SQS
    record = harness.deliver(body)

    # WHEN the worker handles it
    response = harness.invoke(record)

    # THEN it is acknowledged (a redelivery could only fail again), logged without the body
    assert response == {"batchItemFailures": []}
    [line] = captured_logs.with_message("message rejected and acknowledged")
    assert (line["level"], line["message_id"]) == ("ERROR", record["messageId"])
    if len(body.strip()) > 4:  # shorter ones ("42") could match a timestamp by chance
        assert body.strip() not in captured_logs.text
    assert '"MessagesRejected":[1.0]' in capsys.readouterr().out
    # AND nothing was written or asked of the LLM
    assert table_items(harness) == []
    assert harness.llm.stats.calls == {}


def test_envelope_too_deep_to_parse_is_acknowledged_and_leaves_its_job_alone(
    harness: Any,
) -> None:
    # GIVEN a queued job whose message carries a payload nested past the parser's limit
    job_id = str(uuid.uuid4())
    harness.put_job(job_id, status="queued")
    body = envelope(job_id, payload={}).replace(
        '"payload": {}', '"payload": ' + '{"a":' * OBJECT_DEPTH + "1" + "}" * OBJECT_DEPTH
    )

    # WHEN it is delivered
    response = harness.invoke(harness.deliver(body))

    # THEN it is acknowledged: its job id cannot be read without parsing the body, so the job
    # keeps its record (it expires through the TTL) and the LLM is not called
    assert response == {"batchItemFailures": []}
    assert harness.job(job_id)["status"] == "queued"
    assert harness.llm.stats.calls == {}


@pytest.mark.parametrize(
    ("fields", "code", "names"),
    [
        ({"task": 5}, "invalid_message", ["task"]),
        ({"task": None}, "invalid_message", ["task"]),
        ({"payload": ["Jason is 25 years old"]}, "invalid_message", ["payload"]),
        ({"payload": None}, "invalid_message", ["payload"]),
        ({"submitted_at": 1_790_000_000_000_000}, "invalid_message", ["submitted_at"]),
        ({"submitted_at": None}, "invalid_message", ["submitted_at"]),
        ({"request_id": {"nested": True}}, "invalid_message", ["request_id"]),
        ({"version": None}, "unsupported_version", ["None"]),
        ({"version": [1]}, "unsupported_version", ["[1]"]),
        ({"version": 1e308}, "unsupported_version", ["1e+308"]),
        ({"payload": {"text": 25}}, "invalid_payload", ["text"]),
        ({"payload": {"text": ["Jason"]}}, "invalid_payload", ["text"]),
        ({"payload": {"text": None}}, "invalid_payload", ["text"]),
        ({"payload": {"text": {"a": {"b": {"c": "Jason"}}}}}, "invalid_payload", ["text"]),
        ({"payload": {"text": "x" * 20_001}}, "invalid_payload", ["text"]),
    ],
    ids=[
        "task-number",
        "task-null",
        "payload-list",
        "payload-null",
        "submitted-at-number",
        "submitted-at-null",
        "request-id-object",
        "version-null",
        "version-list",
        "version-huge-float",
        "text-number",
        "text-list",
        "text-null",
        "text-object",
        "text-over-the-limit",
    ],
)
def test_wrong_types_with_a_readable_job_id_fail_the_job_and_are_acknowledged(
    harness: Any, fields: dict[str, Any], code: str, names: list[str]
) -> None:
    # GIVEN a queued job whose message has a field of the wrong type
    job_id = str(uuid.uuid4())
    harness.put_job(job_id, status="queued")

    # WHEN the message is delivered
    response = harness.invoke(harness.deliver(envelope(job_id, **fields)))

    # THEN it is acknowledged and the job is failed with the code and the offending field named
    assert response == {"batchItemFailures": []}
    stored = harness.job(job_id)
    assert (stored["status"], stored["error"]["code"]) == ("failed", code)
    assert all(name in stored["error"]["message"] for name in names), stored["error"]
    assert "Jason" not in stored["error"]["message"]
    assert harness.llm.stats.calls == {}


def test_poison_records_do_not_spoil_the_rest_of_their_batch(harness: Any) -> None:
    # GIVEN one batch holding a good job between two poison messages
    poison_first = harness.deliver("[" * DEPTH)
    good = harness.submit()
    poison_last = harness.deliver('{"version": 1, "job_id": ' + "7" * 5_000 + "}")

    # WHEN the worker handles the batch
    response = harness.invoke(poison_first, good.record, poison_last)

    # THEN every record is acknowledged and the good job succeeds
    assert response == {"batchItemFailures": []}
    assert harness.job(good.job_id)["status"] == "succeeded"
    assert harness.calls() == 1
