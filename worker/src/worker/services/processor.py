"""The record handler: parse -> claim -> check the budget -> run the task -> record the outcome.

Concurrency is bounded by WORKER_MAX_CONCURRENCY per invocation; every record must settle
before the invocation's deadline (remaining time minus WORKER_DEADLINE_MARGIN_SECONDS).
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, ValidationError

from gen_ai_contracts.queue import QueueMessage
from gen_ai_contracts.tasks import TASKS, get_task
from worker.errors import DeferJobError, ErrorCode, RejectedMessageError, TerminalJobError
from worker.models.job import Claim, ClaimOutcome, JobRecord, JobRef, JobSpend
from worker.services.failures import classify
from worker.services.invocation import Invocation
from worker.services.llm import JobLlm
from worker.services.messages import Delivery, describe_errors, log_keys, read_message
from worker.services.outcomes import Outcomes
from worker.services.tracing import JobTrace


class RecordProcessor:
    """Powertools record handler for one invocation: return to ack, raise to redeliver."""

    def __init__(self, invocation: Invocation) -> None:
        self._run = invocation
        self._worker = invocation.worker
        self._outcomes = Outcomes(invocation)
        self._redelivery = self._outcomes.redelivery

    async def handle(self, record: SQSRecord) -> str:
        delivery = Delivery.from_record(record)
        if not await self._acquire_slot():
            return await self._out_of_time(delivery)
        try:
            return await self._process(delivery)
        finally:
            self._run.semaphore.release()

    async def _acquire_slot(self) -> bool:
        try:
            async with asyncio.timeout_at(self._run.deadline):
                await self._run.semaphore.acquire()
        except TimeoutError:
            return False
        return True

    async def _out_of_time(self, delivery: Delivery) -> str:
        """Never started (not the job's fault): re-send the same copy after a short wait. If SQS
        refuses, redeliver; on the message's last receive the job is claimed and settled first,
        so SQS never dead-letters an open job."""
        late = DeferJobError(
            ErrorCode.DEADLINE_EXCEEDED, "no time left to start the job", retry_after=0
        )
        try:
            message = read_message(delivery.body)
        except RejectedMessageError:
            await self._redelivery.redeliver(delivery, late, job=None)  # rejected when it runs
        job = self._job_ref(delivery, message)
        if await self._outcomes.requeue.unclaimed(job, delivery, message, late):
            return "deferred"
        if delivery.receive_count < self._worker.settings.queue_max_receive_count:
            await self._redelivery.redeliver(delivery, late, job=job)
        claim = await self._claim(job, delivery)
        if claim.outcome is not ClaimOutcome.CLAIMED:
            return await self._not_claimed(job, delivery, claim)
        job = replace(job, attempts=claim.attempts)
        return await self._outcomes.failed(job, delivery, late, JobTrace(None), message=message)

    async def _process(self, delivery: Delivery) -> str:
        try:
            message = read_message(delivery.body)
        except RejectedMessageError as rejected:
            return await self._reject(delivery, rejected)
        self._run.metrics.queue_wait(message.submitted_at)
        job = self._job_ref(delivery, message)
        claim = await self._claim(job, delivery)
        if claim.outcome is not ClaimOutcome.CLAIMED:
            return await self._not_claimed(job, delivery, claim)
        job = replace(job, attempts=claim.attempts)
        if (ended := await self._end_if_spent(job, delivery, message, claim.record)) is not None:
            return ended
        tracing = self._worker.tracing
        spend = JobSpend()
        with tracing.job(job_id=job.job_id, request_id=job.request_id, task=job.task) as trace:
            try:
                output = await self._execute(message, trace, spend, log_keys(delivery, job))
            except Exception as exc:
                error = classify(exc)
                return await self._outcomes.failed(
                    job, delivery, error, trace, message=message, spend=spend
                )
            return await self._outcomes.succeeded(
                job, delivery, output, trace, message=message, spend=spend
            )

    async def _end_if_spent(
        self, job: JobRef, delivery: Delivery, message: QueueMessage, record: JobRecord | None
    ) -> str | None:
        """End a claimed job that may not run again, without calling the LLM: attempts that
        never recorded an outcome (crashes, lost writes) spent its budget, or it is too old."""
        settings = self._worker.settings
        if job.attempts > settings.job_max_attempts:
            text = _spent_by_crashes(job.attempts - 1, record or {})
            trace = JobTrace(None)
            return await self._outcomes.exhausted(job, delivery, text, trace, tenant=message.tenant)
        age = (datetime.now(UTC) - message.submitted_at).total_seconds()
        if age > settings.job_max_age_seconds:
            # No DLQ copy: the job did nothing wrong (it outwaited a backlog or an outage), and a
            # long outage would bury the DLQ's real poison jobs under thousands of expired ones.
            detail = f"not finished within JOB_MAX_AGE_SECONDS ({settings.job_max_age_seconds} s)"
            error = TerminalJobError(ErrorCode.MAX_AGE_EXCEEDED, f"{detail} of its submission")
            return await self._outcomes.failed(job, delivery, error, JobTrace(None))
        return None

    async def _reject(self, delivery: Delivery, rejected: RejectedMessageError) -> str:
        """Fail the job named by a bad message (if any and if still open), then ack."""
        if rejected.job_id is None:
            return self._outcomes.rejected(delivery, rejected)
        owner = self._owner(delivery)
        job = JobRef(job_id=rejected.job_id, owner=owner, task=rejected.task or "unknown")
        claim = await self._claim(job, delivery)
        if claim.outcome is not ClaimOutcome.CLAIMED:
            return self._outcomes.rejected(delivery, rejected)
        return await self._outcomes.failed(job, delivery, rejected, JobTrace(None))

    async def _not_claimed(self, job: JobRef, delivery: Delivery, claim: Claim) -> str:
        """Another live attempt holds the job (retry later), a newer copy of its message
        exists (ack this stale one), it has no record (ack) or it is finished (ack)."""
        if claim.outcome is ClaimOutcome.BUSY:
            await self._redelivery.busy(job, delivery, claim)
        if claim.outcome is ClaimOutcome.STALE:
            return self._outcomes.stale(job, delivery, claim)
        if claim.outcome is ClaimOutcome.ABSENT:
            return self._outcomes.absent(job, delivery)
        return await self._outcomes.duplicate(job, delivery, claim)

    async def _claim(self, job: JobRef, delivery: Delivery) -> Claim:
        lease_end = self._run.lease_expires_at
        try:
            return await asyncio.to_thread(self._worker.jobs.claim, job, lease_expires_at=lease_end)
        except (ClientError, BotoCoreError) as exc:
            await self._redelivery.redeliver(delivery, classify(exc), job=job)

    async def _execute(
        self, message: QueueMessage, trace: JobTrace, spend: JobSpend, keys: dict[str, Any]
    ) -> BaseModel:
        task = get_task(message.task)
        if task is None:
            known = ", ".join(sorted(TASKS))
            detail = f"unknown task {message.task[:100]!r}; this worker runs: {known}"
            raise TerminalJobError(ErrorCode.UNKNOWN_TASK, detail)
        try:
            request = task.input_model.model_validate(message.payload)
        except ValidationError as exc:
            detail = f"invalid payload for {task.name}: {describe_errors(exc)}"
            raise TerminalJobError(ErrorCode.INVALID_PAYLOAD, detail) from None
        settings = self._worker.settings
        llm = JobLlm(
            client=self._worker.llm,
            models=settings.models_to_try(message.model),
            deadline=self._run.deadline,
            timeout_seconds=settings.llm_timeout_seconds,
            trace=trace,
            metrics=self._run.metrics,
            spend=spend,
            log_keys=keys,
            gate=self._worker.gate,
            priority=message.priority,
            max_wait_seconds=settings.llm_limit_max_wait_seconds,
        )
        try:
            async with asyncio.timeout_at(self._run.deadline):
                output: BaseModel = await task.run(request, llm)
        except TimeoutError:
            detail = "the invocation's deadline came before the task finished"
            raise DeferJobError(ErrorCode.DEADLINE_EXCEEDED, detail, retry_after=0) from None
        return output

    def _job_ref(self, delivery: Delivery, message: QueueMessage) -> JobRef:
        return JobRef(
            job_id=message.job_id,
            owner=self._owner(delivery),
            task=message.task,
            request_id=message.request_id,
            dispatch=message.dispatch,
        )

    def _owner(self, delivery: Delivery) -> str:
        """One owner per delivery attempt: the Lambda request id plus the SQS message id."""
        return f"{self._run.request_id}:{delivery.message_id}"


def _spent_by_crashes(attempts: int, record: JobRecord) -> str:
    """Why the job gave up: the record's last error, when an earlier attempt left one."""
    last = record.get("last_error")
    if isinstance(last, dict) and "code" in last:
        return (
            f"gave up after {attempts} attempts; last error {last['code']}: {last.get('message')}"
        )
    return f"gave up after {attempts} attempts that ended without recording an outcome"
