"""Look at dead letters without consuming them, and at their jobs' records.

A receive hides a message for ``PEEK_VISIBILITY_SECONDS`` (and counts as a receive); every
message received is made visible again at once, and if that fails, SQS does it when the short
timeout ends. Nothing is deleted.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from gen_ai_jobs.cli.admin._envelope import Envelope, Unreadable, read_envelope

PEEK_VISIBILITY_SECONDS = 10
RECEIVE_WAIT_SECONDS = 1  # long polling asks every SQS server, short polling only some
SYSTEM_ATTRIBUTES = ["SentTimestamp", "ApproximateReceiveCount"]
_BATCH_GET_LIMIT = 100
_BATCH_GET_ROUNDS = 5


@dataclass(frozen=True)
class DeadLetter:
    """One received DLQ message: its envelope (or why it is unreadable); the body is kept for
    a re-send only."""

    message_id: str
    receipt_handle: str
    sent_at: float | None  # epoch seconds
    receive_count: int
    content: Envelope | Unreadable
    attributes: dict[str, Any]  # MessageAttributes, re-sent as they were
    body: str = field(repr=False)  # kept only to re-send it; never shown

    @property
    def job_id(self) -> str | None:
        return self.content.job_id

    @classmethod
    def from_sqs(cls, message: dict[str, Any]) -> DeadLetter:
        system = message.get("Attributes", {})
        sent = system.get("SentTimestamp")
        return cls(
            message_id=str(message["MessageId"]),
            receipt_handle=str(message["ReceiptHandle"]),
            sent_at=int(sent) / 1000 if sent is not None else None,
            receive_count=int(system.get("ApproximateReceiveCount", 0)),
            content=read_envelope(str(message.get("Body", ""))),
            attributes=dict(message.get("MessageAttributes") or {}),
            body=str(message.get("Body", "")),
        )


@dataclass(frozen=True)
class JobState:
    status: str  # a job status, or "missing" (expired or never written)
    error_code: str | None = None
    last_error_code: str | None = None


def receive(sqs: Any, queue_url: str, count: int, visibility_seconds: int) -> list[DeadLetter]:
    """One ReceiveMessage of up to ``count`` (at most 10) messages, hidden for the given time."""
    response = sqs.receive_message(
        QueueUrl=queue_url,
        MaxNumberOfMessages=max(1, min(count, 10)),
        VisibilityTimeout=visibility_seconds,
        WaitTimeSeconds=RECEIVE_WAIT_SECONDS,
        MessageSystemAttributeNames=SYSTEM_ATTRIBUTES,
        MessageAttributeNames=["All"],
    )
    return [DeadLetter.from_sqs(message) for message in response.get("Messages", [])]


def make_visible(sqs: Any, queue_url: str, handles: Sequence[str]) -> int:
    """Visibility 0 for every handle, ten per call; the number that failed (those reappear
    when their visibility timeout ends)."""
    failed = 0
    for start in range(0, len(handles), 10):
        chunk = handles[start : start + 10]
        entries = [
            {"Id": str(index), "ReceiptHandle": handle, "VisibilityTimeout": 0}
            for index, handle in enumerate(chunk)
        ]
        try:
            response = sqs.change_message_visibility_batch(QueueUrl=queue_url, Entries=entries)
        except Exception:  # best effort: the short visibility timeout is the fallback
            failed += len(chunk)
            continue
        failed += len(response.get("Failed", []))
    return failed


def peek(sqs: Any, queue_url: str, sample: int) -> tuple[list[DeadLetter], int]:
    """Up to ``sample`` distinct messages, all made visible again before returning; and how
    many could not be (they stay hidden at most ``PEEK_VISIBILITY_SECONDS``)."""
    seen: dict[str, DeadLetter] = {}
    handles: list[str] = []
    try:
        for _ in range(sample // 10 + 3):  # bounded even if SQS keeps returning repeats
            if len(seen) >= sample:
                break
            batch = receive(sqs, queue_url, sample - len(seen), PEEK_VISIBILITY_SECONDS)
            handles.extend(letter.receipt_handle for letter in batch)
            fresh = [letter for letter in batch if letter.message_id not in seen]
            if not fresh:
                break
            seen.update((letter.message_id, letter) for letter in fresh)
    finally:
        not_released = make_visible(sqs, queue_url, handles)
    return list(seen.values())[:sample], not_released


def job_states(dynamodb: Any, table: str, job_ids: Iterable[str]) -> dict[str, JobState]:
    """Status and error codes of each job (never `error.message`: it may quote user text)."""
    wanted = sorted(set(job_ids))
    states: dict[str, JobState] = {}
    for start in range(0, len(wanted), _BATCH_GET_LIMIT):
        keys: list[dict[str, Any]] = [
            {"job_id": {"S": job_id}} for job_id in wanted[start : start + _BATCH_GET_LIMIT]
        ]
        request: dict[str, Any] = {
            table: {
                "Keys": keys,
                "ProjectionExpression": "job_id, #status, #error.#code, #last.#code",
                "ExpressionAttributeNames": {
                    "#status": "status",
                    "#error": "error",
                    "#last": "last_error",
                    "#code": "code",
                },
            }
        }
        for _ in range(_BATCH_GET_ROUNDS):
            response = dynamodb.batch_get_item(RequestItems=request)
            for item in response.get("Responses", {}).get(table, []):
                states[item["job_id"]["S"]] = JobState(
                    status=item.get("status", {}).get("S", "?"),
                    error_code=_code(item, "error"),
                    last_error_code=_code(item, "last_error"),
                )
            request = response.get("UnprocessedKeys") or {}
            if not request:
                break
        for key in request.get(table, {}).get("Keys", []):  # throttled every round
            states[key["job_id"]["S"]] = JobState("unknown")
    return {job_id: states.get(job_id, JobState("missing")) for job_id in wanted}


def _code(item: dict[str, Any], name: str) -> str | None:
    code = item.get(name, {}).get("M", {}).get("code", {}).get("S")
    return str(code) if code is not None else None
