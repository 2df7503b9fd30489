"""A job that must run again goes back as a new message, not a redelivery of the old one.

SQS counts every receive of a message towards its queue's maxReceiveCount, throttled or not;
a fresh copy (``dispatch`` + 1, DelaySeconds for the wait) starts at receive 1, so only the
job's own ``attempts`` budget decides when it has failed. The copy goes to the lane the job
was submitted to, in the same MessageGroupId (tenant), so fairness and priority survive it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gen_ai_contracts.queue import QueueMessage
from gen_ai_contracts.settings import SharedSettings
from worker.services.backoff import MAX_DELAY_SECONDS

if TYPE_CHECKING:
    from mypy_boto3_sqs.client import SQSClient


class DeadLetterNotConfiguredError(RuntimeError):
    """DLQ_URL is unset: a job that spent its budget is failed without a copy to inspect."""


def send_again(
    sqs: SQSClient,
    settings: SharedSettings,
    message: QueueMessage,
    *,
    dispatch: int,
    delay_seconds: int,
) -> None:
    """Send ``message`` as copy number ``dispatch`` to its lane's queue, visible after
    ``delay_seconds``; raises botocore's errors when SQS did not take it."""
    copy = message.model_copy(update={"dispatch": dispatch})
    sqs.send_message(
        QueueUrl=settings.queue_url_for(message.priority),
        MessageBody=copy.model_dump_json(),
        DelaySeconds=min(max(delay_seconds, 0), MAX_DELAY_SECONDS),
        **_group(message.tenant),
    )


def copy_to_dead_letters(
    sqs: SQSClient, dlq_url: str | None, body: str, *, tenant: str | None
) -> None:
    """Put ``body`` on the lanes' DLQ, where operators inspect and redrive spent jobs (the
    message itself is acknowledged, so SQS's redrive never sees it)."""
    if not dlq_url:
        raise DeadLetterNotConfiguredError("DLQ_URL is not set")
    sqs.send_message(QueueUrl=dlq_url, MessageBody=body, **_group(tenant))


def _group(tenant: str | None) -> dict[str, Any]:
    """MessageGroupId only when the job has a tenant (a standard queue accepts either)."""
    return {"MessageGroupId": tenant} if tenant else {}
