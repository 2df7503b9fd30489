"""Submit many jobs: per lane and per 10, one BatchWriteItem of `queued` records, then
SendMessageBatch to that lane's queue.

An item whose record was not written is reported, not sent; an item whose message SQS refused
has its record deleted again, so no `queued` job exists that no worker will run; an item whose
send SQS did not confirm is ended (`not_queued`), so its message never runs if SQS took it.
"""

from collections.abc import Sequence
from datetime import datetime
from uuid import uuid4

from gen_ai_contracts.queue import PRIORITIES
from gen_ai_on_aws.logs import logger
from gen_ai_on_aws.services.errors import (
    EnqueueUncertainError,
    QueueUnavailableError,
    ServiceError,
    StoreUnavailableError,
)
from gen_ai_on_aws.services.job_submission import (
    NewJob,
    end_unqueued,
    queue_message,
    queued_record,
)
from gen_ai_on_aws.services.jobs_repository import JobsRepository
from gen_ai_on_aws.services.queue_service import JobQueues, QueueService, message_groups

# The unit of work: one DynamoDB write and (size permitting) one SQS send per 10 jobs.
CHUNK_SIZE = 10

# Per submitted job, in input order: its new job id, or why it was not queued.
Outcome = str | ServiceError


def submit_jobs(
    *,
    jobs: JobsRepository,
    queues: JobQueues,
    new_jobs: Sequence[NewJob],
    tenant: str,
    request_id: str | None,
    now: datetime,
) -> list[Outcome]:
    """Record and enqueue every job, lane by lane (high first; a SendMessageBatch goes to one
    queue) and 10 at a time; a failure only affects its own items. Outcomes are returned in
    input order."""
    outcomes: dict[int, Outcome] = {}
    for priority in PRIORITIES:
        indexes = [index for index, job in enumerate(new_jobs) if job.priority == priority]
        for start in range(0, len(indexes), CHUNK_SIZE):
            chunk = indexes[start : start + CHUNK_SIZE]
            submitted = _submit_chunk(
                jobs=jobs,
                queue=queues.lane(priority),
                chunk=[new_jobs[index] for index in chunk],
                tenant=tenant,
                request_id=request_id,
                now=now,
            )
            outcomes.update(zip(chunk, submitted, strict=True))
    return [outcomes[index] for index in range(len(new_jobs))]


def _submit_chunk(
    *,
    jobs: JobsRepository,
    queue: QueueService,
    chunk: Sequence[NewJob],
    tenant: str,
    request_id: str | None,
    now: datetime,
) -> list[Outcome]:
    new = {str(uuid4()): job for job in chunk}
    records = [queued_record(job, job_id=job_id, tenant=tenant) for job_id, job in new.items()]
    try:
        unwritten = jobs.put_queued_jobs(jobs=records, request_id=request_id, now=now)
    except StoreUnavailableError as exc:
        logger.warning("batch write failed", extra={"jobs": len(new), "error": str(exc)})
        return [exc] * len(new)
    failures: dict[str, ServiceError] = {
        job_id: StoreUnavailableError("record not written") for job_id in unwritten
    }
    messages = [
        queue_message(job, job_id=job_id, tenant=tenant, request_id=request_id, now=now)
        for job_id, job in new.items()
        if job_id not in unwritten
    ]
    for group in message_groups(messages):
        group_ids = [message.job_id for message in group]
        try:
            refused = queue.send_message_batch(messages=group)
        except QueueUnavailableError as exc:
            if not exc.maybe_sent:
                failures |= dict.fromkeys(group_ids, exc)
                _delete_refused(jobs=jobs, job_ids=group_ids)
                continue
            # SQS may have taken them after all: end each job still `queued` (its message, if
            # any, then never runs); one a worker already claimed was queued after all.
            failures |= _end_unconfirmed(jobs=jobs, job_ids=group_ids, error=exc, now=now)
            continue
        failures |= refused
        _delete_refused(jobs=jobs, job_ids=sorted(refused))
    _log_chunk(new=new, tenant=tenant, failures=failures)
    return [failures.get(job_id, job_id) for job_id in new]


def _end_unconfirmed(
    *, jobs: JobsRepository, job_ids: Sequence[str], error: ServiceError, now: datetime
) -> dict[str, ServiceError]:
    """The failures among `job_ids` after a send SQS did not confirm (see `end_unqueued`)."""
    failures: dict[str, ServiceError] = {}
    for job_id in job_ids:
        try:
            if end_unqueued(jobs=jobs, job_id=job_id, now=now):
                failures[job_id] = error
        except EnqueueUncertainError as uncertain:
            failures[job_id] = uncertain
    return failures


def _delete_refused(*, jobs: JobsRepository, job_ids: Sequence[str]) -> None:
    """SQS refused these messages, so no worker holds the jobs: one batch delete."""
    if not job_ids:
        return
    try:
        left = jobs.delete_unqueued_jobs(job_ids=job_ids)
    except StoreUnavailableError as exc:
        left, reason = set(job_ids), str(exc)
    else:
        reason = "unprocessed after retries"
    for job_id in sorted(left):
        # Nothing more to do here: the record expires through the table's TTL.
        logger.error("could not remove the unqueued job", extra={"job_id": job_id, "error": reason})


def _log_chunk(*, new: dict[str, NewJob], tenant: str, failures: dict[str, ServiceError]) -> None:
    for job_id, job in new.items():
        keys = {
            "job_id": job_id,
            "task": job.task,
            "model": job.model,
            "priority": job.priority,
            "tenant": tenant,
            "batch": True,
        }
        if job_id in failures:
            logger.warning("job not queued", extra={**keys, "error": str(failures[job_id])})
        else:
            logger.info("job queued", extra={**keys, "callback": job.callback_url is not None})
