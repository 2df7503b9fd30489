"""Redrive the jobs DLQ to the lanes.

Two ways: SQS's own message move task (StartMessageMoveTask, each message back to the queue it
was dead-lettered from) where the endpoint has it, or by hand: receive -> send to the lane of
the body's `priority` -> delete. By hand, a message is deleted from the DLQ only after SQS
confirmed its send: a crash in between leaves a copy in both queues, never in neither. A body
that is not a valid envelope stays in the DLQ.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from gen_ai_jobs.cli.admin._aws import error_code
from gen_ai_jobs.cli.admin._envelope import Envelope, Unreadable
from gen_ai_jobs.cli.admin._peek import DeadLetter, make_visible, receive

MOVE_VISIBILITY_SECONDS = 60  # long enough for a send and a delete; released at the end
TASK_POLL_SECONDS = 2.0
TASK_FINISHED = frozenset({"COMPLETED", "FAILED", "CANCELLED"})
SEND_BATCH_MAX_BYTES = 262_144  # SQS's limit on one SendMessageBatch's total size
# How endpoints without message move tasks answer: moto in-process raises NotImplementedError,
# moto's server answers an HTML 500 (botocore then reports the bare status as the code).
UNSUPPORTED_CODES = frozenset(
    {
        "UnsupportedOperation",
        "AWS.SimpleQueueService.UnsupportedOperation",
        "InvalidAction",
        "NotImplemented",
        "UnknownOperationException",
        "500",
        "501",
    }
)


class MoveTaskUnsupportedError(Exception):
    """The endpoint has no StartMessageMoveTask (e.g. moto): move by hand instead."""


@dataclass(frozen=True)
class Problem:
    """A message left in the DLQ (or duplicated), and why; ids only."""

    message_id: str
    job_id: str | None
    reason: str


@dataclass
class MoveReport:
    method: str  # "message-move-task" or "receive-send-delete"
    moved: int = 0
    failed: int = 0  # the send failed: still in the DLQ
    invalid: int = 0  # not a valid envelope: left in the DLQ
    not_deleted: int = 0  # sent to its lane, but the DLQ delete failed: a copy stays there
    still_hidden: int = 0  # could not be made visible again: reappear within the timeout
    problems: list[Problem] = field(default_factory=list)
    aborted: str | None = None  # why the move stopped early
    task: dict[str, Any] | None = None  # the message move task's last status
    fallback: str | None = None  # why a by-hand move followed the task

    @property
    def complete(self) -> bool:
        task_ok = self.task is None or self.task.get("Status") == "COMPLETED" or self.fallback
        return bool(
            task_ok
            and self.aborted is None
            and not (self.failed or self.invalid or self.not_deleted)
        )

    def keep(self, letter: DeadLetter, reason: str) -> None:
        self.problems.append(Problem(letter.message_id, letter.job_id, reason))


def describe(error: BaseException) -> str:
    return error_code(error) or type(error).__name__


def start_move_task(sqs: Any, dlq_arn: str, rate: int | None) -> str:
    """Start moving every DLQ message back to its source queue; the task's handle."""
    request: dict[str, Any] = {"SourceArn": dlq_arn}
    if rate is not None:
        request["MaxNumberOfMessagesPerSecond"] = rate
    try:
        response = sqs.start_message_move_task(**request)
    except NotImplementedError as error:
        raise MoveTaskUnsupportedError(str(error)) from None
    except Exception as error:
        if error_code(error) in UNSUPPORTED_CODES:
            raise MoveTaskUnsupportedError(describe(error)) from None
        raise
    return str(response.get("TaskHandle", ""))


def follow_move_task(
    sqs: Any,
    dlq_arn: str,
    *,
    wait_seconds: float,
    on_status: Callable[[dict[str, Any]], None],
    poll_seconds: float = TASK_POLL_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, Any]:
    """The DLQ's latest move task (the one just started: one runs at a time per queue),
    polled until it finished or ``wait_seconds`` passed."""
    deadline = clock() + wait_seconds
    while True:
        results = sqs.list_message_move_tasks(SourceArn=dlq_arn, MaxResults=1).get("Results", [])
        task: dict[str, Any] = dict(results[0]) if results else {}
        on_status(task)
        remaining = deadline - clock()
        if task.get("Status") in TASK_FINISHED or remaining <= 0:
            return task
        sleep(min(poll_seconds, remaining))


def move_by_hand(
    sqs: Any,
    dlq_url: str,
    lane_urls: Mapping[str, str],
    *,
    limit: int | None,
    report: MoveReport | None = None,
) -> MoveReport:
    """Move up to ``limit`` messages (all when None) to their lanes; every message left in the
    DLQ is made visible again before returning."""
    from botocore.exceptions import BotoCoreError, ClientError

    report = report or MoveReport("receive-send-delete")
    seen: set[str] = set()
    to_release: list[str] = []
    try:
        while limit is None or _attempted(report) < limit:
            room = 10 if limit is None else limit - _attempted(report)
            batch = receive(sqs, dlq_url, room, MOVE_VISIBILITY_SECONDS)
            fresh = [letter for letter in batch if letter.message_id not in seen]
            to_release.extend(old.receipt_handle for old in batch if old.message_id in seen)
            if not fresh:
                break  # empty, or only messages already left in the DLQ by this run
            seen.update(letter.message_id for letter in fresh)
            _move_batch(sqs, dlq_url, lane_urls, fresh, report, to_release)
    except (BotoCoreError, ClientError) as error:
        report.aborted = f"stopped: {describe(error)}"
    finally:
        report.still_hidden = make_visible(sqs, dlq_url, to_release)
    return report


def _attempted(report: MoveReport) -> int:
    """Messages a send was tried for: what `--max` counts (unreadable ones are only skipped)."""
    return report.moved + report.failed + report.not_deleted


def _move_batch(
    sqs: Any,
    dlq_url: str,
    lane_urls: Mapping[str, str],
    letters: list[DeadLetter],
    report: MoveReport,
    to_release: list[str],
) -> None:
    by_lane: dict[str, list[DeadLetter]] = {}
    for letter in letters:
        if isinstance(letter.content, Unreadable):
            report.invalid += 1
            report.keep(letter, letter.content.reason)
            to_release.append(letter.receipt_handle)
        else:
            by_lane.setdefault(letter.content.priority, []).append(letter)
    for lane, group in by_lane.items():
        for chunk in _by_size(group):
            sent = _send(sqs, lane_urls[lane], chunk, report, to_release)
            if sent:
                _delete(sqs, dlq_url, sent, report, to_release)


def _by_size(letters: list[DeadLetter]) -> list[list[DeadLetter]]:
    """Batches under SQS's size limit for one SendMessageBatch (each message fits alone)."""
    chunks: list[list[DeadLetter]] = []
    size = 0
    for letter in letters:
        length = len(letter.body.encode())
        if not chunks or size + length > SEND_BATCH_MAX_BYTES:
            chunks.append([])
            size = 0
        chunks[-1].append(letter)
        size += length
    return chunks


def _send(
    sqs: Any,
    queue_url: str,
    letters: list[DeadLetter],
    report: MoveReport,
    to_release: list[str],
) -> list[DeadLetter]:
    """Send ``letters`` to ``queue_url``; only those SQS confirmed (listed as Successful)."""
    from botocore.exceptions import BotoCoreError, ClientError

    entries = [_entry(str(index), letter) for index, letter in enumerate(letters)]
    try:
        response = sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
    except (BotoCoreError, ClientError) as error:
        response = {"Failed": [{"Id": entry["Id"], "Code": describe(error)} for entry in entries]}
    confirmed = {entry["Id"] for entry in response.get("Successful", [])}
    refused = {entry["Id"]: entry.get("Code", "?") for entry in response.get("Failed", [])}
    sent: list[DeadLetter] = []
    for index, letter in enumerate(letters):
        if str(index) in confirmed and str(index) not in refused:
            sent.append(letter)
            continue
        report.failed += 1
        report.keep(letter, f"send failed ({refused.get(str(index), 'not confirmed')})")
        to_release.append(letter.receipt_handle)
    return sent


def _entry(entry_id: str, letter: DeadLetter) -> dict[str, Any]:
    """The body as it was, its message attributes, and the tenant as MessageGroupId."""
    entry: dict[str, Any] = {"Id": entry_id, "MessageBody": letter.body}
    if letter.attributes:
        entry["MessageAttributes"] = {
            name: {
                key: value[key]
                for key in ("DataType", "StringValue", "BinaryValue")
                if key in value
            }
            for name, value in letter.attributes.items()
        }
    if isinstance(letter.content, Envelope) and letter.content.tenant:
        entry["MessageGroupId"] = letter.content.tenant
    return entry


def _delete(
    sqs: Any,
    dlq_url: str,
    letters: list[DeadLetter],
    report: MoveReport,
    to_release: list[str],
) -> None:
    """Delete sent messages from the DLQ; one that could not be deleted is now in both."""
    from botocore.exceptions import BotoCoreError, ClientError

    entries = [
        {"Id": str(index), "ReceiptHandle": letter.receipt_handle}
        for index, letter in enumerate(letters)
    ]
    try:
        response = sqs.delete_message_batch(QueueUrl=dlq_url, Entries=entries)
    except (BotoCoreError, ClientError) as error:
        response = {"Failed": [{"Id": entry["Id"], "Code": describe(error)} for entry in entries]}
    deleted = {entry["Id"] for entry in response.get("Successful", [])}
    for index, letter in enumerate(letters):
        if str(index) in deleted:
            report.moved += 1
            continue
        report.not_deleted += 1
        report.keep(letter, "sent to its lane, but the DLQ delete failed: a copy stays there")
        to_release.append(letter.receipt_handle)
