"""The webhook event a finished job still owes, and queueing it for the delivery function.

The event is sent before the job's SQS record is acknowledged: if the process dies between the
final write and the send, the job's message comes back, the claim finds the job finished, and
the duplicate path queues the event again (its `webhook_id` is stable, so a second copy is
harmless). Delivery itself happens in `worker.callbacks`, on its own queue and function.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from gen_ai_contracts.jobs import FINAL_STATUSES
from gen_ai_contracts.webhooks import CallbackEvent, callback_event

if TYPE_CHECKING:
    from mypy_boto3_sqs.client import SQSClient


class CallbacksNotConfiguredError(RuntimeError):
    """A job has a callback_url but this function has no CALLBACKS_QUEUE_URL to queue it on."""


def owed_event(record: Mapping[str, Any]) -> CallbackEvent | None:
    """The final event still to deliver for a job record: None without a `callback_url`,
    before a final status, or once delivery is settled (`delivered` or `failed`)."""
    status = record.get("status")
    if not record.get("callback_url") or status not in FINAL_STATUSES:
        return None
    state = record.get("callback") or {}
    if state.get("status", "pending") != "pending":
        return None
    # `updated_at` is the final transition's time: the same on every re-enqueue of the event.
    occurred_at = datetime.fromisoformat(str(record["updated_at"]))
    return callback_event(str(record["job_id"]), str(status), occurred_at)


def queue_event(sqs: SQSClient, queue_url: str | None, event: CallbackEvent) -> None:
    """Send the event to the callbacks queue; AWS errors propagate (the caller redelivers)."""
    if not queue_url:
        raise CallbacksNotConfiguredError(
            "CALLBACKS_QUEUE_URL is not set, so a job's webhook cannot be queued: set it to the "
            "callbacks queue's URL (the stack does) and redrive the job's message."
        )
    sqs.send_message(QueueUrl=queue_url, MessageBody=event.model_dump_json())
