"""A job that must run again: re-sent as a new copy of its message, or, when SQS refuses the
copy, redelivered through the old message's visibility timeout.

The copy is sent before the claim is released: a crash in between leaves the job held, never
queued with no message to carry it, and the copy (newer ``dispatch``) takes the job over. The
release is one write that bumps ``dispatch`` (older copies become stale) and, for a deferral,
gives back the attempt the claim counted.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, NoReturn

from botocore.exceptions import BotoCoreError, ClientError

from gen_ai_contracts.queue import QueueMessage
from worker.errors import ErrorCode, JobError, RecordRetry
from worker.log import logger
from worker.models.job import JobRef, JobSpend
from worker.services.backoff import defer_delay_seconds, lease_wait_seconds, retry_delay_seconds
from worker.services.invocation import Invocation
from worker.services.messages import Delivery, log_keys
from worker.services.redelivery import Redelivery
from worker.services.resend import send_again
from worker.services.tracing import JobTrace

_AWS_ERRORS = (ClientError, BotoCoreError)

# Outcomes.fail: record the job as failed for good (raises RecordRetry if that write fails).
FailJob = Callable[[JobRef, Delivery, ErrorCode, str, JobTrace, JobSpend | None], Awaitable[object]]


class Requeue:
    """Sends jobs of one invocation back to their queue."""

    def __init__(self, invocation: Invocation, redelivery: Redelivery, fail: FailJob) -> None:
        self._run = invocation
        self._worker = invocation.worker
        self._redelivery = redelivery
        self._fail = fail

    async def again(
        self,
        job: JobRef,
        delivery: Delivery,
        error: JobError,
        trace: JobTrace,
        *,
        message: QueueMessage | None,
        spend: JobSpend | None = None,
    ) -> str:
        """Re-send the claimed ``job`` as copy ``dispatch + 1`` after its wait, release it, and
        ack this delivery; a deferral (``counts_as_attempt`` false) refunds its attempt."""
        delay = self._delay(error, job)
        dispatch = job.dispatch + 1
        if message is None or not await self._send(job, delivery, message, dispatch, delay):
            await self._redeliver(job, delivery, error, trace, spend, delay)
        trace.outcome(status="queued", error_code=error.code)
        await self._release(job, delivery, error, spend, dispatch=dispatch)
        keys = {**log_keys(delivery, job), "error_code": error.code, "retry_in_seconds": delay}
        keys["dispatch"] = dispatch
        if error.counts_as_attempt:
            logger.warning("retryable failure; job re-sent", extra=keys)
            self._run.metrics.retried()
            return "retried"
        logger.info("job deferred without spending an attempt; re-sent", extra=keys)
        self._run.metrics.deferred()
        return "deferred"

    async def unclaimed(
        self, job: JobRef, delivery: Delivery, message: QueueMessage, error: JobError
    ) -> bool:
        """Re-send a job this invocation never claimed (no time left to start it) as the same
        copy: without a claim there is no record write to bump ``dispatch`` under. False when
        SQS refused it."""
        delay = defer_delay_seconds(error.retry_after)
        if not await self._send(job, delivery, message, job.dispatch, delay):
            return False
        keys = {**log_keys(delivery, job), "error_code": error.code, "retry_in_seconds": delay}
        keys["dispatch"] = job.dispatch
        logger.info("no time left to start the job; re-sent", extra=keys)
        self._run.metrics.deferred()
        return True

    def _delay(self, error: JobError, job: JobRef) -> int:
        """A deferral waits its Retry-After (jittered); a failure backs off by attempt."""
        if not error.counts_as_attempt:
            return defer_delay_seconds(error.retry_after)
        settings = self._worker.settings
        return retry_delay_seconds(
            error,
            attempt=job.attempts,
            base_seconds=settings.worker_retry_base_seconds,
            cap_seconds=settings.worker_retry_cap_seconds,
        )

    async def _send(
        self, job: JobRef, delivery: Delivery, message: QueueMessage, dispatch: int, delay: int
    ) -> bool:
        worker = self._worker
        try:
            await asyncio.to_thread(
                send_again,
                worker.sqs,
                worker.settings,
                message,
                dispatch=dispatch,
                delay_seconds=delay,
            )
        except _AWS_ERRORS as exc:
            keys = {**log_keys(delivery, job), "reason": type(exc).__name__}
            logger.warning("job not re-sent; its message will be redelivered instead", extra=keys)
            return False
        return True

    async def _redeliver(
        self,
        job: JobRef,
        delivery: Delivery,
        error: JobError,
        trace: JobTrace,
        spend: JobSpend | None,
        delay: int,
    ) -> NoReturn:
        """The old message comes back instead (same dispatch); on its last receive SQS would
        dead-letter it with the job still open, so the job is failed first."""
        if delivery.receive_count >= self._worker.settings.queue_max_receive_count:
            text = (
                f"gave up after {delivery.receive_count} deliveries;"
                f" last error {error.code}: {error.message}"
            )
            await self._fail(job, delivery, ErrorCode.RETRIES_EXHAUSTED, text, trace, spend)
            raise RecordRetry(ErrorCode.RETRIES_EXHAUSTED)  # still reported: SQS dead-letters it
        trace.outcome(status="queued", error_code=error.code)
        if not await self._release(job, delivery, error, spend, dispatch=None):
            # Our lease still holds the job: coming back before it ends would only find the
            # job BUSY and spend a receive (on the last one, dead-letter it).
            delay = max(delay, lease_wait_seconds(self._run.lease_expires_at, now=time.time()))
        await self._redelivery.redeliver(delivery, error, job=job, delay=delay)

    async def _release(
        self,
        job: JobRef,
        delivery: Delivery,
        error: JobError,
        spend: JobSpend | None,
        *,
        dispatch: int | None,
    ) -> bool:
        """Best effort: a claim not released ends with its lease. A re-sent copy takes over at
        once (its ``dispatch`` is newer than the holder's); a redelivery waits for the lease.
        False when the write failed."""
        keys: dict[str, Any] = log_keys(delivery, job)
        try:
            await asyncio.to_thread(
                self._worker.jobs.release,
                job,
                code=error.code,
                message=error.message,
                spend=spend,
                dispatch=dispatch,
                refund=not error.counts_as_attempt,
            )
        except _AWS_ERRORS:
            logger.warning("claim not released; it ends with the lease", extra=keys)
            return False
        return True
