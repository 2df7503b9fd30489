"""QueueMessage: the contract's envelope, byte for byte (docs/contracts.md)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from uuid import uuid4

import pytest
from pydantic import ValidationError

from gen_ai_contracts.queue import QueueMessage
from gen_ai_contracts.tasks.extract_user import MAX_TEXT_CHARS, ExtractUserRequest

SQS_MAX_MESSAGE_BYTES = 256 * 1024


def build_message(**overrides: Any) -> QueueMessage:
    fields: dict[str, Any] = {
        "job_id": "0b6e7c1e-2f7a-4c1e-9a55-3f0e2d9f5b10",
        "task": "extract_user",
        "payload": {"text": "Jason is 25 years old"},
        "submitted_at": datetime(2026, 11, 23, 14, 45, 0, 123456, tzinfo=UTC),
        "request_id": "c0ffee",
    }
    return QueueMessage(**(fields | overrides))


def test_serialises_exactly_the_contract_example() -> None:
    body = json.loads(build_message().model_dump_json())

    assert body == {
        "version": 1,
        "job_id": "0b6e7c1e-2f7a-4c1e-9a55-3f0e2d9f5b10",
        "task": "extract_user",
        "payload": {"text": "Jason is 25 years old"},
        "submitted_at": "2026-11-23T14:45:00.123456Z",
        "request_id": "c0ffee",
        "model": None,
        "priority": "normal",
        "tenant": None,
        "dispatch": 0,
    }


def test_carries_the_chosen_model() -> None:
    message = build_message(model="openai/gpt-4o-mini")

    assert json.loads(message.model_dump_json())["model"] == "openai/gpt-4o-mini"


def test_converts_other_time_zones_to_utc_with_z() -> None:
    paris = timezone(timedelta(hours=1))
    message = build_message(submitted_at=datetime(2026, 11, 23, 15, 45, tzinfo=paris))

    assert json.loads(message.model_dump_json())["submitted_at"] == "2026-11-23T14:45:00Z"


def test_round_trips_through_json() -> None:
    message = build_message(request_id=None)

    assert QueueMessage.model_validate_json(message.model_dump_json()) == message


@pytest.mark.parametrize(
    "overrides",
    [
        {"job_id": "0B6E7C1E-2F7A-4C1E-9A55-3F0E2D9F5B10"},  # not canonical (upper case)
        {"job_id": "0b6e7c1e2f7a4c1e9a553f0e2d9f5b10"},  # no hyphens
        {"job_id": "0b6e7c1e-2f7a-1c1e-9a55-3f0e2d9f5b10"},  # UUID1, not UUID4
        {"version": 2},
        {"submitted_at": datetime(2026, 11, 23, 14, 45)},  # naive
        {"payload": "Jason is 25"},
        {"model": ""},
        {"model": "m" * 201},
    ],
)
def test_rejects_envelopes_outside_the_contract(overrides: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        build_message(**overrides)


def test_rejects_unknown_fields() -> None:
    body = json.loads(build_message().model_dump_json()) | {"deadline": 1}

    with pytest.raises(ValidationError, match="extra"):
        QueueMessage.model_validate(body)


def test_accepts_any_generated_job_id() -> None:
    job_id = str(uuid4())

    assert build_message(job_id=job_id).job_id == job_id


@pytest.mark.parametrize("character", ["\x01", '"', "\\", "é", "\U0001f600"])
def test_worst_case_text_fits_the_sqs_message_limit(character: str) -> None:
    # GIVEN the longest text the API accepts, made of characters that JSON escapes or that
    # take several UTF-8 bytes (control characters become 6-byte \u00XX escapes)
    request = ExtractUserRequest(text=character * MAX_TEXT_CHARS)

    # WHEN it is wrapped in the envelope
    body = build_message(payload=request.model_dump(mode="json"), request_id="r" * 128)

    # THEN the UTF-8 body stays under SQS's 256 KiB
    assert len(body.model_dump_json().encode("utf-8")) < SQS_MAX_MESSAGE_BYTES


@pytest.mark.parametrize(
    ("field", "value"),
    [("priority", "urgent"), ("tenant", "has space"), ("tenant", ""), ("dispatch", -1)],
)
def test_rejects_invalid_lane_tenant_or_dispatch(field: str, value: Any) -> None:
    with pytest.raises(ValidationError, match=field):
        build_message(**{field: value})


def test_a_resent_copy_keeps_lane_and_tenant() -> None:
    message = build_message(priority="high", tenant="key-0123456789abcdef")
    copy = message.model_copy(update={"dispatch": message.dispatch + 1})
    body = json.loads(copy.model_dump_json())
    assert (body["priority"], body["tenant"], body["dispatch"]) == (
        "high",
        "key-0123456789abcdef",
        1,
    )
