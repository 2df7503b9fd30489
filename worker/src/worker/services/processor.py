"""The record handler: parse -> claim -> run the task -> record the outcome.

Concurrency is bounded by WORKER_MAX_CONCURRENCY per invocation; every record must settle
before the invocation's deadline (remaining time minus WORKER_DEADLINE_MARGIN_SECONDS).
"""

from __future__ import annotations

import asyncio
from typing import Any

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, ValidationError

from gen_ai_contracts.queue import QueueMessage
from gen_ai_contracts.tasks import TASKS, get_task
from worker.errors import ErrorCode, RejectedMessageError, RetryableJobError, TerminalJobError
from worker.models.job import Claim, ClaimOutcome, JobRef, JobSpend
from worker.services.failures import classify
from worker.services.invocation import Invocation
from worker.services.llm import JobLlm
from worker.services.messages import Delivery, describe_errors, read_message
from worker.services.outcomes import Outcomes, log_keys
from worker.services.tracing import JobTrace


class RecordProcessor:
    """Powertools record handler for one invocation: return to ack, raise to redeliver."""

    def __init__(self, invocation: Invocation) -> None:
        self._run = invocation
        self._worker = invocation.worker
        self._outcomes = Outcomes(invocation)

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
        """Never started: redeliver, except on the last receive, where the job is failed."""
        late = RetryableJobError(ErrorCode.DEADLINE_EXCEEDED, "no time left to start the job")
        last = delivery.receive_count >= self._worker.settings.queue_max_receive_count
        try:
            message = read_message(delivery.body) if last else None
        except RejectedMessageError:
            message = None
        if message is None:
            await self._outcomes.redeliver(delivery, late, job=None)
        job = self._job_ref(delivery, message.job_id, message.task, message.request_id)
        claim = await self._claim(job, delivery)
        if claim.outcome is not ClaimOutcome.CLAIMED:
            return await self._not_claimed(job, delivery, claim)
        return await self._outcomes.failed(job, delivery, late, JobTrace(None))

    async def _process(self, delivery: Delivery) -> str:
        try:
            message = read_message(delivery.body)
        except RejectedMessageError as rejected:
            return await self._reject(delivery, rejected)
        self._run.metrics.queue_wait(message.submitted_at)
        job = self._job_ref(delivery, message.job_id, message.task, message.request_id)
        claim = await self._claim(job, delivery)
        if claim.outcome is not ClaimOutcome.CLAIMED:
            return await self._not_claimed(job, delivery, claim)
        tracing = self._worker.tracing
        spend = JobSpend()
        with tracing.job(job_id=job.job_id, request_id=job.request_id, task=job.task) as trace:
            try:
                output = await self._execute(message, trace, spend, log_keys(delivery, job))
            except Exception as exc:
                error = classify(exc)
                return await self._outcomes.failed(job, delivery, error, trace, spend=spend)
            return await self._outcomes.succeeded(job, delivery, output, trace, spend=spend)

    async def _reject(self, delivery: Delivery, rejected: RejectedMessageError) -> str:
        """Fail the job named by a bad message (if any and if still open), then ack."""
        if rejected.job_id is None:
            return self._outcomes.rejected(delivery, rejected)
        job = self._job_ref(delivery, rejected.job_id, rejected.task or "unknown", None)
        claim = await self._claim(job, delivery)
        if claim.outcome is not ClaimOutcome.CLAIMED:
            return self._outcomes.rejected(delivery, rejected)
        return await self._outcomes.failed(job, delivery, rejected, JobTrace(None))

    async def _not_claimed(self, job: JobRef, delivery: Delivery, claim: Claim) -> str:
        """Another live attempt holds the job (retry later) or it is finished (ack)."""
        if claim.outcome is ClaimOutcome.BUSY:
            await self._outcomes.busy(job, delivery, claim)
        return await self._outcomes.duplicate(job, delivery, claim)

    async def _claim(self, job: JobRef, delivery: Delivery) -> Claim:
        lease_end = self._run.lease_expires_at
        try:
            return await asyncio.to_thread(self._worker.jobs.claim, job, lease_expires_at=lease_end)
        except (ClientError, BotoCoreError) as exc:
            await self._outcomes.redeliver(delivery, classify(exc), job=job)

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
        )
        try:
            async with asyncio.timeout_at(self._run.deadline):
                output: BaseModel = await task.run(request, llm)
        except TimeoutError:
            detail = "the invocation's deadline came before the task finished"
            raise RetryableJobError(ErrorCode.DEADLINE_EXCEEDED, detail) from None
        return output

    def _job_ref(
        self, delivery: Delivery, job_id: str, task: str, request_id: str | None
    ) -> JobRef:
        # One owner per delivery attempt: the Lambda request id plus the SQS message id.
        owner = f"{self._run.request_id}:{delivery.message_id}"
        return JobRef(job_id=job_id, owner=owner, task=task, request_id=request_id)
