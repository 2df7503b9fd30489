"""Submit many jobs: per 10, one BatchWriteItem of `queued` records, then SendMessageBatch.

An item whose record was not written is reported, not sent; an item whose message SQS did
not accept has its record deleted again, so no `queued` job exists that no worker will run.
"""

from collections.abc import Sequence
from datetime import datetime
from uuid import uuid4

from gen_ai_on_aws.logs import logger
from gen_ai_on_aws.services.errors import QueueUnavailableError, ServiceError, StoreUnavailableError
from gen_ai_on_aws.services.job_records import QueuedJob
from gen_ai_on_aws.services.job_submission import NewJob, delete_orphan, queue_message
from gen_ai_on_aws.services.jobs_repository import JobsRepository
from gen_ai_on_aws.services.queue_service import QueueService, message_groups

# The unit of work: one DynamoDB write and (size permitting) one SQS send per 10 jobs.
CHUNK_SIZE = 10

# Per submitted job, in input order: its new job id, or why it was not queued.
Outcome = str | ServiceError


def submit_jobs(
    *,
    jobs: JobsRepository,
    queue: QueueService,
    new_jobs: Sequence[NewJob],
    request_id: str | None,
    now: datetime,
) -> list[Outcome]:
    """Record and enqueue every job, 10 at a time; a failure only affects its own items."""
    outcomes: list[Outcome] = []
    for start in range(0, len(new_jobs), CHUNK_SIZE):
        chunk = new_jobs[start : start + CHUNK_SIZE]
        outcomes += _submit_chunk(
            jobs=jobs, queue=queue, chunk=chunk, request_id=request_id, now=now
        )
    return outcomes


def _submit_chunk(
    *,
    jobs: JobsRepository,
    queue: QueueService,
    chunk: Sequence[NewJob],
    request_id: str | None,
    now: datetime,
) -> list[Outcome]:
    new = {str(uuid4()): job for job in chunk}
    records = [QueuedJob(job_id, job.task, job.callback_url) for job_id, job in new.items()]
    try:
        unwritten = jobs.put_queued_jobs(jobs=records, request_id=request_id, now=now)
    except StoreUnavailableError as exc:
        logger.warning("batch write failed", extra={"jobs": len(new), "error": str(exc)})
        return [exc] * len(new)
    failures: dict[str, ServiceError] = {
        job_id: StoreUnavailableError("record not written") for job_id in unwritten
    }
    messages = [
        queue_message(job, job_id=job_id, request_id=request_id, now=now)
        for job_id, job in new.items()
        if job_id not in unwritten
    ]
    for group in message_groups(messages):
        group_ids = [message.job_id for message in group]
        try:
            refused = queue.send_message_batch(messages=group)
        except QueueUnavailableError as exc:
            # SQS may have taken them after all: delete only records still `queued`.
            failures |= dict.fromkeys(group_ids, exc)
            for job_id in group_ids:
                delete_orphan(jobs=jobs, job_id=job_id)
            continue
        failures |= {job_id: QueueUnavailableError("message refused") for job_id in refused}
        _delete_refused(jobs=jobs, job_ids=sorted(refused))
    _log_chunk(new=new, failures=failures)
    return [failures.get(job_id, job_id) for job_id in new]


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


def _log_chunk(*, new: dict[str, NewJob], failures: dict[str, ServiceError]) -> None:
    for job_id, job in new.items():
        keys = {"job_id": job_id, "task": job.task, "model": job.model, "batch": True}
        if job_id in failures:
            logger.warning("job not queued", extra={**keys, "error": str(failures[job_id])})
        else:
            logger.info("job queued", extra={**keys, "callback": job.callback_url is not None})
