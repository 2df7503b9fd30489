"""Record what became of a delivery: the job transition, one log line, a metric, and for a
finished job with a `callback_url`, its webhook event on the callbacks queue.

Returning acknowledges the SQS record; raising RecordRetry lists it in ``batchItemFailures``.
A job that must run again is re-sent (services.requeue), so its old message is acknowledged.
"""

from __future__ import annotations

import asyncio

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel

from gen_ai_contracts.queue import QueueMessage
from worker.errors import ErrorCode, JobError, RecordRetry, RejectedMessageError, RetryableJobError
from worker.log import logger
from worker.models.job import Claim, JobRecord, JobRef, JobSpend
from worker.services.callback_events import CallbacksNotConfiguredError, owed_event, queue_event
from worker.services.failures import classify
from worker.services.invocation import Invocation
from worker.services.messages import Delivery, log_keys
from worker.services.redelivery import Redelivery
from worker.services.requeue import Requeue
from worker.services.resend import DeadLetterNotConfiguredError, copy_to_dead_letters
from worker.services.tracing import JobTrace

_AWS_ERRORS = (ClientError, BotoCoreError)


class Outcomes:
    """Settles deliveries for one invocation."""

    def __init__(self, invocation: Invocation) -> None:
        self._run = invocation
        self._worker = invocation.worker
        self.redelivery = Redelivery(invocation)
        self.requeue = Requeue(invocation, self.redelivery, self.fail)

    async def succeeded(
        self,
        job: JobRef,
        delivery: Delivery,
        output: BaseModel,
        trace: JobTrace,
        *,
        message: QueueMessage | None = None,
        spend: JobSpend | None = None,
    ) -> str:
        result_json = output.model_dump_json()
        try:
            stored = await asyncio.to_thread(
                self._worker.jobs.succeed, job, result_json=result_json, spend=spend
            )
        except _AWS_ERRORS as exc:
            error = classify(exc)
            return await self.failed(job, delivery, error, trace, message=message, spend=spend)
        if stored is None:
            # A takeover after our lease expired: the other attempt owns the job now.
            logger.warning("lease lost; result discarded", extra=log_keys(delivery, job))
            trace.outcome(status="lease_lost")
            return "lease_lost"
        tenant = _tenant(message.tenant if message is not None else None, stored)
        self._run.metrics.succeeded(tenant)
        if spend is not None and spend.cost_usd is not None:
            self._run.metrics.job_cost(spend.cost_usd, tenant)
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
        message: QueueMessage | None = None,
        spend: JobSpend | None = None,
    ) -> str:
        """Terminal: fail, ack. Retryable: run again from a re-sent copy, unless it was a real
        attempt and the job has spent JOB_MAX_ATTEMPTS. ``spend`` (this attempt's tokens and
        cost) is added to the job's totals either way."""
        tenant = message.tenant if message is not None else None
        if not error.retryable:
            await self.fail(job, delivery, error.code, error.message, trace, spend, tenant=tenant)
            return "failed"
        if error.counts_as_attempt and job.attempts >= self._worker.settings.job_max_attempts:
            text = (
                f"gave up after {job.attempts} attempts; last error {error.code}: {error.message}"
            )
            return await self.exhausted(job, delivery, text, trace, tenant=tenant, spend=spend)
        return await self.requeue.again(job, delivery, error, trace, message=message, spend=spend)

    async def exhausted(
        self,
        job: JobRef,
        delivery: Delivery,
        text: str,
        trace: JobTrace,
        *,
        tenant: str | None,
        spend: JobSpend | None = None,
    ) -> str:
        """Fail the job as ``retries_exhausted``, copy its message to the DLQ, and ack."""
        stored = await self.fail(
            job, delivery, ErrorCode.RETRIES_EXHAUSTED, text, trace, spend, tenant=tenant
        )
        if stored is None:
            return "failed"  # another attempt holds the job now; it decides
        keys = log_keys(delivery, job)
        try:
            await asyncio.to_thread(
                copy_to_dead_letters,
                self._worker.sqs,
                self._worker.settings.dlq_url,
                delivery.body,
                tenant=tenant,
            )
        except (*_AWS_ERRORS, DeadLetterNotConfiguredError) as exc:
            # The job is final either way: its record says why; only the copy is missing.
            logger.error("job not copied to the DLQ", extra={**keys, "reason": str(exc)})
        else:
            logger.info("job copied to the DLQ", extra=keys)
        return "failed"

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

    def stale(self, job: JobRef, delivery: Delivery, claim: Claim) -> str:
        """Ack a copy the job has moved past: a newer copy (higher ``dispatch``) carries it."""
        keys = {**log_keys(delivery, job), "dispatch": job.dispatch, "newest": claim.dispatch}
        logger.info("superseded copy of a re-sent job; acknowledged", extra=keys)
        self._run.metrics.stale()
        return "stale"

    def absent(self, job: JobRef, delivery: Delivery) -> str:
        """Ack a message whose job has no record: the API never created it (an enqueue it
        reported as failed) or its TTL removed it. Running it would charge for a result under an
        id no client knows, so it is not run."""
        logger.error("no job record for this message; acknowledged", extra=log_keys(delivery, job))
        self._run.metrics.absent()
        return "absent"

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
            await self.redelivery.redeliver(delivery, error, job=job)
        logger.info("webhook event queued", extra=keys)

    async def fail(
        self,
        job: JobRef,
        delivery: Delivery,
        code: ErrorCode,
        message: str,
        trace: JobTrace,
        spend: JobSpend | None = None,
        *,
        tenant: str | None = None,
    ) -> JobRecord | None:
        """Fail the job for good and queue its webhook event; the record as stored, or None
        when another attempt holds the job now. ``tenant``: the message's, when the caller
        read it (else the record's is counted)."""
        keys = {**log_keys(delivery, job), "error_code": code}
        try:
            stored = await asyncio.to_thread(
                self._worker.jobs.fail,
                job,
                code=code,
                message=message,
                spend=spend,
                # Spent jobs go to the DLQ (copied, or by SQS's redrive): a redrive may rerun them.
                dead_lettered=code is ErrorCode.RETRIES_EXHAUSTED,
            )
        except _AWS_ERRORS as exc:
            # Acking now would leave the job running with nobody to finish it.
            logger.error("failure not recorded; message will be redelivered", extra=keys)
            raise RecordRetry(ErrorCode.AWS_UNAVAILABLE) from exc
        self._run.metrics.failed(_tenant(tenant, stored))
        trace.outcome(status="failed", error_code=code)
        logger.error("job failed", extra=keys)
        if stored is not None:
            await self.queue_callback(stored, delivery, job)
        return stored


def _tenant(from_message: str | None, stored: JobRecord | None) -> str | None:
    """Whose job it is, for the per-tenant metrics: the message's tenant, else the record's
    (paths that never parsed the message: rejected, too old, re-sent and given up)."""
    if from_message:
        return from_message
    recorded = stored.get("tenant") if stored is not None else None
    return recorded if isinstance(recorded, str) else None
