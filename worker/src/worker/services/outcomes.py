"""Record what became of a delivery: the job transition, one log line, a metric, the visibility,
and for a finished job with a `callback_url`, its webhook event on the callbacks queue.

Returning acknowledges the SQS record; raising RecordRetry lists it in ``batchItemFailures``.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, NoReturn

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel

from worker.errors import ErrorCode, JobError, RecordRetry, RejectedMessageError, RetryableJobError
from worker.log import logger
from worker.models.job import Claim, JobRecord, JobRef, JobSpend
from worker.services.backoff import lease_wait_seconds, retry_delay_seconds
from worker.services.callback_events import CallbacksNotConfiguredError, owed_event, queue_event
from worker.services.failures import classify
from worker.services.invocation import Invocation
from worker.services.messages import Delivery
from worker.services.tracing import JobTrace

_AWS_ERRORS = (ClientError, BotoCoreError)


def log_keys(delivery: Delivery, job: JobRef | None = None) -> dict[str, Any]:
    """Identifiers for a log line about this delivery: never the body, text or result."""
    keys: dict[str, Any] = {"message_id": delivery.message_id}
    keys["receive_count"] = delivery.receive_count
    if job is not None:
        keys.update(job_id=job.job_id, request_id=job.request_id, task=job.task)
    return keys


class Outcomes:
    """Settles deliveries for one invocation."""

    def __init__(self, invocation: Invocation) -> None:
        self._run = invocation
        self._worker = invocation.worker

    async def succeeded(
        self,
        job: JobRef,
        delivery: Delivery,
        output: BaseModel,
        trace: JobTrace,
        *,
        spend: JobSpend | None = None,
    ) -> str:
        result_json = output.model_dump_json()
        try:
            stored = await asyncio.to_thread(
                self._worker.jobs.succeed, job, result_json=result_json, spend=spend
            )
        except _AWS_ERRORS as exc:
            return await self.failed(job, delivery, classify(exc), trace, spend=spend)
        if stored is None:
            # A takeover after our lease expired: the other attempt owns the job now.
            logger.warning("lease lost; result discarded", extra=log_keys(delivery, job))
            trace.outcome(status="lease_lost")
            return "lease_lost"
        self._run.metrics.succeeded()
        if spend is not None and spend.cost_usd is not None:
            self._run.metrics.job_cost(spend.cost_usd)
        trace.outcome(status="succeeded")
        logger.info("job succeeded", extra=log_keys(delivery, job))
        await self.queue_callback(stored, delivery, job)
        return "succeeded"

    async def failed(
        self,
        job: JobRef,
        delivery: Delivery,
        error: JobError,
        trace: JobTrace,
        *,
        spend: JobSpend | None = None,
    ) -> str:
        """Terminal: fail, ack. Retryable: release, redeliver; give up on the last receive.
        ``spend`` (tokens and cost of this attempt) is added to the job's totals either way."""
        if not error.retryable:
            await self._fail(job, delivery, error.code, error.message, trace, spend)
            return "failed"
        if delivery.receive_count >= self._worker.settings.queue_max_receive_count:
            message = (
                f"gave up after {delivery.receive_count} deliveries;"
                f" last error {error.code}: {error.message}"
            )
            code = ErrorCode.RETRIES_EXHAUSTED
            await self._fail(job, delivery, code, message, trace, spend)
            raise RecordRetry(
                ErrorCode.RETRIES_EXHAUSTED
            )  # still reported: SQS moves it to the DLQ
        trace.outcome(status="queued", error_code=error.code)
        try:
            await asyncio.to_thread(
                self._worker.jobs.release, job, code=error.code, message=error.message, spend=spend
            )
        except _AWS_ERRORS:
            logger.warning(
                "claim not released; it ends with the lease", extra=log_keys(delivery, job)
            )
        await self.redeliver(delivery, error, job=job)

    def rejected(self, delivery: Delivery, rejected: RejectedMessageError) -> str:
        """A message that is not a runnable job and whose job cannot be (or is already) settled."""
        keys = {**log_keys(delivery), "job_id": rejected.job_id, "error_code": rejected.code}
        logger.error("message rejected and acknowledged", extra=keys)
        self._run.metrics.rejected()
        return "rejected"

    async def duplicate(self, job: JobRef, delivery: Delivery, claim: Claim) -> str:
        """Ack, after queueing the job's webhook event again if it is still owed: the attempt
        that finished the job may have died before queueing it (or the API before queueing a
        cancellation's)."""
        keys = {**log_keys(delivery, job), "status": claim.status}
        logger.info("job already finished; duplicate delivery acknowledged", extra=keys)
        self._run.metrics.duplicate()
        if claim.record is not None:
            await self.queue_callback(claim.record, delivery, job)
        return "duplicate"

    async def queue_callback(self, record: JobRecord, delivery: Delivery, job: JobRef) -> None:
        """Queue the webhook event the finished ``record`` owes, if any; if that fails, the
        record is redelivered rather than acknowledged, so the event is never lost."""
        event = owed_event(record)
        if event is None:
            return
        keys = {**log_keys(delivery, job), "webhook_id": event.webhook_id, "event": event.type}
        settings = self._worker.settings
        try:
            await asyncio.to_thread(
                queue_event, self._worker.sqs, settings.callbacks_queue_url, event
            )
        except (*_AWS_ERRORS, CallbacksNotConfiguredError) as exc:
            logger.error("webhook event not queued", extra={**keys, "reason": str(exc)})
            error = RetryableJobError(ErrorCode.CALLBACK_NOT_QUEUED, "webhook event not queued")
            await self.redeliver(delivery, error, job=job)
        logger.info("webhook event queued", extra=keys)

    async def busy(self, job: JobRef, delivery: Delivery, claim: Claim) -> NoReturn:
        """Never ack: the holder may still crash. Come back when its lease ends."""
        delay = lease_wait_seconds(claim.lease_expires_at or 0.0, now=time.time())
        keys = {**log_keys(delivery, job), "retry_in_seconds": delay}
        logger.info("job held by another live attempt; retrying later", extra=keys)
        await self._set_visibility(delivery, delay, keys)
        raise RecordRetry(ErrorCode.JOB_BUSY)

    async def redeliver(
        self, delivery: Delivery, error: JobError, *, job: JobRef | None
    ) -> NoReturn:
        settings = self._worker.settings
        delay = retry_delay_seconds(
            error,
            receive_count=delivery.receive_count,
            base_seconds=settings.worker_retry_base_seconds,
            cap_seconds=settings.worker_retry_cap_seconds,
        )
        keys = {**log_keys(delivery, job), "error_code": error.code, "retry_in_seconds": delay}
        logger.warning("retryable failure; message will be redelivered", extra=keys)
        self._run.metrics.retried()
        await self._set_visibility(delivery, delay, keys)
        raise RecordRetry(error.code)

    async def _fail(
        self,
        job: JobRef,
        delivery: Delivery,
        code: ErrorCode,
        message: str,
        trace: JobTrace,
        spend: JobSpend | None = None,
    ) -> None:
        keys = {**log_keys(delivery, job), "error_code": code}
        try:
            stored = await asyncio.to_thread(
                self._worker.jobs.fail, job, code=code, message=message, spend=spend
            )
        except _AWS_ERRORS as exc:
            # Acking now would leave the job running with nobody to finish it.
            logger.error("failure not recorded; message will be redelivered", extra=keys)
            raise RecordRetry(ErrorCode.AWS_UNAVAILABLE) from exc
        self._run.metrics.failed()
        trace.outcome(status="failed", error_code=code)
        logger.error("job failed", extra=keys)
        if stored is not None:
            await self.queue_callback(stored, delivery, job)

    async def _set_visibility(self, delivery: Delivery, seconds: int, keys: dict[str, Any]) -> None:
        try:
            await asyncio.to_thread(
                self._worker.sqs.change_message_visibility,
                QueueUrl=self._worker.settings.queue_url,
                ReceiptHandle=delivery.receipt_handle,
                VisibilityTimeout=seconds,
            )
        except _AWS_ERRORS:
            logger.warning("visibility unchanged; the queue's timeout applies", extra=keys)
