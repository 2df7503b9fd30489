"""Reading the envelope: what counts as a job, and which job a bad message names."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from gen_ai_contracts.queue import QueueMessage
from worker.config import Settings
from worker.errors import ErrorCode, RejectedMessageError
from worker.services.messages import Delivery, read_message

JOB_ID = "0b6e7c1e-2f7a-4c1e-9a55-3f0e2d9f5b10"


def _body(**fields: Any) -> str:
    message = {
        "version": 1,
        "job_id": JOB_ID,
        "task": "extract_user",
        "payload": {"text": "Jason is 25 years old"},
        "submitted_at": "2026-11-23T14:45:00.123456Z",
        "request_id": None,
    }
    return json.dumps({**message, **fields})


def test_contract_example_is_read() -> None:
    message = read_message(_body())
    assert message.job_id == JOB_ID
    assert message.submitted_at.utcoffset() is not None
    assert json.loads(message.model_dump_json())["submitted_at"] == "2026-11-23T14:45:00.123456Z"


def test_submitted_at_is_normalised_to_utc() -> None:
    message = read_message(_body(submitted_at="2026-11-23T15:45:00+01:00"))
    assert message.model_dump_json().count("14:45:00Z") == 1


@pytest.mark.parametrize(
    ("fields", "code", "job_id"),
    [
        ({"version": 2}, ErrorCode.UNSUPPORTED_VERSION, JOB_ID),
        ({"version": True}, ErrorCode.UNSUPPORTED_VERSION, JOB_ID),
        ({"version": "1"}, ErrorCode.UNSUPPORTED_VERSION, JOB_ID),
        ({"job_id": JOB_ID.upper()}, ErrorCode.INVALID_MESSAGE, None),
        ({"job_id": "0b6e7c1e-2f7a-1c1e-9a55-3f0e2d9f5b10"}, ErrorCode.INVALID_MESSAGE, None),
        ({"job_id": 42}, ErrorCode.INVALID_MESSAGE, None),
        ({"submitted_at": "2026-11-23T14:45:00"}, ErrorCode.INVALID_MESSAGE, JOB_ID),
        ({"payload": "text"}, ErrorCode.INVALID_MESSAGE, JOB_ID),
    ],
)
def test_rejections_carry_the_code_and_the_readable_job_id(
    fields: dict[str, Any], code: ErrorCode, job_id: str | None
) -> None:
    with pytest.raises(RejectedMessageError) as raised:
        read_message(_body(**fields))
    assert (raised.value.code, raised.value.job_id) == (code, job_id)
    assert raised.value.task == "extract_user"


def test_rejection_messages_never_quote_the_payload() -> None:
    with pytest.raises(RejectedMessageError) as raised:
        read_message(_body(payload=["Jason is 25 years old"], surprise="secret-ish"))
    assert "Jason" not in raised.value.message
    assert "secret-ish" not in raised.value.message
    assert "payload" in raised.value.message


def test_model_round_trips_its_own_json() -> None:
    message = read_message(_body())
    assert QueueMessage.model_validate_json(message.model_dump_json()) == message


@pytest.mark.parametrize(
    ("arn", "url"),
    [
        ("arn:aws:sqs:us-east-1:123456789012:gen-ai-jobs-high", "https://q/1/gen-ai-jobs-high"),
        ("arn:aws:sqs:us-east-1:123456789012:gen-ai-jobs-low", "https://q/1/gen-ai-jobs-low"),
        ("arn:aws:sqs:us-east-1:123456789012:gen-ai-jobs", "https://q/1/gen-ai-jobs"),
        ("arn:aws:sqs:us-east-2:123456789012:elsewhere", "https://q/1/gen-ai-jobs"),
        (None, "https://q/1/gen-ai-jobs"),
    ],
)
def test_a_delivery_knows_the_url_of_its_lanes_queue(arn: str | None, url: str) -> None:
    # A receipt handle is only valid on the queue the message came from
    settings = Settings(
        queue_url="https://q/1/gen-ai-jobs",
        queue_url_high="https://q/1/gen-ai-jobs-high",
        queue_url_low="https://q/1/gen-ai-jobs-low",
        jobs_table_name="t",
    )
    attributes = {"ApproximateReceiveCount": "1"}
    record = {"messageId": "m", "receiptHandle": "r", "body": "{}", "attributes": attributes}
    if arn is not None:
        record["eventSourceARN"] = arn
    assert Delivery.from_record(SQSRecord(record)).queue_url(settings) == url
