"""The DLQ settler: every job whose message reached the dead-letter queue ends `failed`.

SQS moves a message to the DLQ when its receives run out, whatever the worker managed to record:
a claim that failed on the last receive, or a Lambda that crashed, ran out of memory or timed
out. Nothing else would ever finish such a job, so its client would see it `queued` or
`running` until the TTL. A scheduled run reads the DLQ, fails each open job whose newest copy
is there (`retries_exhausted`, with its last error) and queues its webhook event. Messages are
only peeked: they stay in the DLQ for inspection and redrive, and a redriven message may run
its job again (the claim accepts a dead-lettered job).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from worker.log import logger
from worker.models.job import JobRecord, SettleOutcome
from worker.services.callback_events import CallbacksNotConfiguredError, owed_event, queue_event
from worker.services.jobs import JobStore

if TYPE_CHECKING:
    from mypy_boto3_sqs.client import SQSClient
    from mypy_boto3_sqs.type_defs import ChangeMessageVisibilityBatchRequestEntryTypeDef

_AWS_ERRORS = (ClientError, BotoCoreError)
# Stop receiving when less than this is left of the invocation: time to put messages back.
_MARGIN_SECONDS = 5.0


@dataclass
class SettleReport:
    """What one run saw: messages read, and per outcome how many jobs (plus unreadable ones)."""

    received: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, int]:
        return {"received": self.received, **dict(sorted(self.outcomes.items()))}


@dataclass(frozen=True)
class DeadLetterSettler:
    """Settles the jobs of one DLQ. ``queue_url`` of the callbacks queue may be None (no
    webhooks configured); ``max_messages`` bounds one run's reads (and cost)."""

    sqs: SQSClient
    jobs: JobStore
    dlq_url: str
    callbacks_queue_url: str | None
    max_messages: int = 1000
    visibility_seconds: int = 60

    def run(self, *, seconds_left: Callable[[], float]) -> SettleReport:
        """Read the DLQ once through (up to ``max_messages``), settle what can be settled, and
        make every message visible again."""
        report = SettleReport()
        peeked: list[dict[str, Any]] = []
        try:
            while report.received < self.max_messages and seconds_left() > _MARGIN_SECONDS:
                batch = self._receive(min(10, self.max_messages - report.received))
                if not batch:
                    break
                peeked.extend(batch)
                report.received += len(batch)
                for message in batch:
                    report.outcomes[self._settle(message)] += 1
        finally:
            self._put_back(peeked)
        return report

    def _receive(self, count: int) -> list[dict[str, Any]]:
        response = self.sqs.receive_message(
            QueueUrl=self.dlq_url,
            MaxNumberOfMessages=count,
            VisibilityTimeout=self.visibility_seconds,
            WaitTimeSeconds=1,  # long polling: asks every SQS host, so a small DLQ is not missed
            MessageSystemAttributeNames=["ApproximateReceiveCount"],
        )
        return list(response.get("Messages", []))  # type: ignore[arg-type]

    def _settle(self, message: dict[str, Any]) -> str:
        envelope = _envelope(str(message.get("Body", "")))
        if envelope is None:
            logger.warning("dead letter without a job id; left for inspection")
            return "unreadable"
        job_id, dispatch = envelope
        keys = {"job_id": job_id, "dispatch": dispatch, "message_id": message.get("MessageId")}
        try:
            settled = self.jobs.settle_dead_letter(job_id, dispatch=dispatch)
        except _AWS_ERRORS as exc:
            logger.warning("dead letter not settled; next run", extra={**keys, "reason": str(exc)})
            return "error"
        if settled.outcome is SettleOutcome.SETTLED and settled.record is not None:
            logger.error("dead-lettered job failed (retries_exhausted)", extra=keys)
            self._queue_callback(settled.record, keys)
        else:
            logger.debug("dead letter seen", extra={**keys, "outcome": settled.outcome.value})
        return settled.outcome.value

    def _queue_callback(self, record: JobRecord, keys: dict[str, Any]) -> None:
        event = owed_event(record)
        if event is None:
            return
        try:
            queue_event(self.sqs, self.callbacks_queue_url, event)
        except (*_AWS_ERRORS, CallbacksNotConfiguredError) as exc:
            # The job is final and says why; only its notification is missing.
            logger.error("webhook event not queued", extra={**keys, "reason": str(exc)})

    def _put_back(self, messages: list[dict[str, Any]]) -> None:
        """Visible again at once, for `admin dlq list` and redrive (best effort: otherwise
        they return when the peek's visibility timeout ends)."""
        for start in range(0, len(messages), 10):
            entries: list[ChangeMessageVisibilityBatchRequestEntryTypeDef] = [
                {"Id": str(index), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
                for index, m in enumerate(messages[start : start + 10])
            ]
            try:
                self.sqs.change_message_visibility_batch(QueueUrl=self.dlq_url, Entries=entries)
            except _AWS_ERRORS as exc:
                logger.warning(
                    "dead letters stay hidden until their peek ends", extra={"reason": str(exc)}
                )


def _envelope(body: str) -> tuple[str, int] | None:
    """The job id and copy number of a queue message body, read leniently: dead letters include
    messages the worker rejected, so only these two fields are trusted."""
    try:
        data = json.loads(body)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    job_id, dispatch = data.get("job_id"), data.get("dispatch", 0)
    if not isinstance(job_id, str) or not job_id or len(job_id) > 100:
        return None
    return job_id, dispatch if isinstance(dispatch, int) and dispatch >= 0 else 0
