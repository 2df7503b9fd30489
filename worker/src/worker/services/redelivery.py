"""The same message again, through its visibility timeout: for a job another attempt holds,
a claim or webhook that could not be written, or a re-send SQS refused. Each of these spends
one of the message's receives (QUEUE_MAX_RECEIVE_COUNT, the poison backstop), unlike a re-send.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, NoReturn

from botocore.exceptions import BotoCoreError, ClientError

from worker.errors import ErrorCode, JobError, RecordRetry
from worker.log import logger
from worker.models.job import Claim, JobRef
from worker.services.backoff import lease_wait_seconds, retry_delay_seconds
from worker.services.invocation import Invocation
from worker.services.messages import Delivery, log_keys


class Redelivery:
    """Reports records to SQS (``batchItemFailures``) with the wait before their next receive."""

    def __init__(self, invocation: Invocation) -> None:
        self._run = invocation
        self._worker = invocation.worker

    async def busy(self, job: JobRef, delivery: Delivery, claim: Claim) -> NoReturn:
        """Never ack: the holder may still crash. Come back when its lease ends."""
        delay = lease_wait_seconds(claim.lease_expires_at or 0.0, now=time.time())
        keys = {**log_keys(delivery, job), "retry_in_seconds": delay}
        logger.info("job held by another live attempt; retrying later", extra=keys)
        await self._set_visibility(delivery, delay, keys)
        raise RecordRetry(ErrorCode.JOB_BUSY)

    async def redeliver(
        self, delivery: Delivery, error: JobError, *, job: JobRef | None, delay: int | None = None
    ) -> NoReturn:
        """Report the record; it comes back after ``delay`` (default: the back-off for its
        receive count, or the error's Retry-After)."""
        if delay is None:
            settings = self._worker.settings
            delay = retry_delay_seconds(
                error,
                attempt=delivery.receive_count,
                base_seconds=settings.worker_retry_base_seconds,
                cap_seconds=settings.worker_retry_cap_seconds,
            )
        keys = {**log_keys(delivery, job), "error_code": error.code, "retry_in_seconds": delay}
        logger.warning("retryable failure; message will be redelivered", extra=keys)
        self._run.metrics.retried()
        await self._set_visibility(delivery, delay, keys)
        raise RecordRetry(error.code)

    async def _set_visibility(self, delivery: Delivery, seconds: int, keys: dict[str, Any]) -> None:
        try:
            await asyncio.to_thread(
                self._worker.sqs.change_message_visibility,
                QueueUrl=delivery.queue_url(self._worker.settings),
                ReceiptHandle=delivery.receipt_handle,
                VisibilityTimeout=seconds,
            )
        except (ClientError, BotoCoreError):
            logger.warning("visibility unchanged; the queue's timeout applies", extra=keys)
