"""Read one SQS record: the delivery facts Lambda gives us and the job envelope in its body."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from pydantic import ValidationError

from gen_ai_contracts.queue import QUEUE_MESSAGE_VERSION, QueueMessage
from gen_ai_contracts.settings import SharedSettings
from worker.errors import ErrorCode, RejectedMessageError
from worker.models.job import JobRef


@dataclass(frozen=True)
class Delivery:
    """One receive of a message; ``receive_count`` is SQS's ApproximateReceiveCount and
    ``queue_name`` the lane's queue it came from (the last part of its eventSourceARN)."""

    message_id: str
    receipt_handle: str
    body: str
    receive_count: int
    queue_name: str = ""

    @classmethod
    def from_record(cls, record: SQSRecord) -> Delivery:
        return cls(
            message_id=record.message_id,
            receipt_handle=record.receipt_handle,
            body=record.body,
            receive_count=int(record.attributes.approximate_receive_count or 1),
            queue_name=str(record.get("eventSourceARN") or "").rpartition(":")[2],
        )

    def queue_url(self, settings: SharedSettings) -> str:
        """The URL of the queue this message is on (a receipt handle is only valid there): the
        configured lane whose URL ends with its name, else the normal lane's."""
        lanes = (settings.queue_url_high, settings.queue_url_low, settings.queue_url)
        for url in lanes:
            if url and self.queue_name and url.rstrip("/").endswith(f"/{self.queue_name}"):
                return url
        return settings.queue_url


def log_keys(delivery: Delivery, job: JobRef | None = None) -> dict[str, Any]:
    """Identifiers for a log line about this delivery: never the body, text or result."""
    keys: dict[str, Any] = {"message_id": delivery.message_id}
    keys["receive_count"] = delivery.receive_count
    if job is not None:
        keys.update(job_id=job.job_id, request_id=job.request_id, task=job.task)
    return keys


def read_message(body: str) -> QueueMessage:
    """The envelope, or RejectedMessageError with whatever job id could still be read."""
    try:
        raw = json.loads(body)
    # Not only JSONDecodeError: nesting deeper than the interpreter's recursion limit raises
    # RecursionError, and an integer over 4,300 digits ValueError; unreadable all the same, so
    # acknowledged rather than redelivered until the DLQ.
    except (ValueError, RecursionError):
        raise RejectedMessageError(
            ErrorCode.INVALID_MESSAGE, "the message body is not JSON", job_id=None, task=None
        ) from None
    if not isinstance(raw, dict):
        raise RejectedMessageError(
            ErrorCode.INVALID_MESSAGE,
            "the message body is not a JSON object",
            job_id=None,
            task=None,
        )
    job_id, task = _readable_job_id(raw), _readable_task(raw)
    version = raw.get("version")
    if "version" in raw and (isinstance(version, bool) or version != QUEUE_MESSAGE_VERSION):
        message = f"message version {version!r} is not supported; this worker reads version 1"
        raise RejectedMessageError(ErrorCode.UNSUPPORTED_VERSION, message, job_id=job_id, task=task)
    try:
        return QueueMessage.model_validate(raw)
    except ValidationError as exc:
        message = f"the message is not a job envelope: {describe_errors(exc)}"
        raise RejectedMessageError(
            ErrorCode.INVALID_MESSAGE, message, job_id=job_id, task=task
        ) from None


def describe_errors(exc: ValidationError) -> str:
    """Field paths and reasons, without the input values (they may be personal data)."""
    return "; ".join(
        f"{'.'.join(map(str, error['loc'])) or '<root>'}: {error['msg']}" for error in exc.errors()
    )


def _readable_job_id(raw: dict[str, Any]) -> str | None:
    value = raw.get("job_id")
    if not isinstance(value, str):
        return None
    try:
        parsed = uuid.UUID(value)
    except ValueError:
        return None
    return value if str(parsed) == value and parsed.version == 4 else None


def _readable_task(raw: dict[str, Any]) -> str | None:
    value = raw.get("task")
    return value if isinstance(value, str) and value else None
