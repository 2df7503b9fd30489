"""Submit a job: record it as `queued`, then enqueue it in its lane; never leave an orphan."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import uuid4

from gen_ai_contracts.queue import Priority, QueueMessage
from gen_ai_on_aws.logs import logger
from gen_ai_on_aws.services.errors import QueueUnavailableError, StoreUnavailableError
from gen_ai_on_aws.services.job_records import QueuedJob
from gen_ai_on_aws.services.jobs_repository import JobsRepository
from gen_ai_on_aws.services.queue_service import JobQueues


@dataclass(frozen=True)
class NewJob:
    """A submission that passed every check: task and model known, input and callback valid."""

    task: str
    payload: dict[str, Any]
    model: str | None = None
    callback_url: str | None = None
    priority: Priority = "normal"


def queue_message(
    job: NewJob, *, job_id: str, tenant: str, request_id: str | None, now: datetime
) -> QueueMessage:
    """The envelope the worker receives for `job` (the callback URL stays in the record)."""
    return QueueMessage(
        job_id=job_id,
        task=job.task,
        payload=job.payload,
        submitted_at=now,
        request_id=request_id,
        model=job.model,
        priority=job.priority,
        tenant=tenant,
    )


def queued_record(job: NewJob, *, job_id: str, tenant: str) -> QueuedJob:
    """What the `queued` record of `job` stores beyond its timestamps."""
    return QueuedJob(
        job_id=job_id,
        task=job.task,
        callback_url=job.callback_url,
        priority=job.priority,
        tenant=tenant,
    )


def submit_job(
    *,
    jobs: JobsRepository,
    queues: JobQueues,
    job: NewJob,
    tenant: str,
    request_id: str | None,
    now: datetime,
) -> str:
    """Return the new job's id. The record is written first so the worker always finds it;
    the message goes to the queue of the job's lane, with `tenant` as its MessageGroupId.

    `job` is already checked (registry, allow-list, SSRF guard); `tenant` is a non-secret id
    (`client_scope`), never the API key."""
    job_id = str(uuid4())
    message = queue_message(job, job_id=job_id, tenant=tenant, request_id=request_id, now=now)
    jobs.put_queued_job(
        job=queued_record(job, job_id=job_id, tenant=tenant), request_id=request_id, now=now
    )
    try:
        message_id = queues.lane(job.priority).send_message(message=message, group_id=tenant)
    except QueueUnavailableError as exc:
        logger.warning(
            "enqueue failed; removing the job", extra={"job_id": job_id, "error": str(exc)}
        )
        delete_orphan(jobs=jobs, job_id=job_id)
        raise
    logger.info(
        "job queued",
        extra={
            "job_id": job_id,
            "task": job.task,
            "model": job.model,
            "priority": job.priority,
            "tenant": tenant,
            "message_id": message_id,
            "callback": job.callback_url is not None,  # never the URL: it may hold a token
        },
    )
    return job_id


def delete_orphan(*, jobs: JobsRepository, job_id: str) -> None:
    """Remove a record whose message may not be queued; a job a worker claimed is kept."""
    try:
        jobs.delete_queued_job(job_id=job_id)
    except StoreUnavailableError as exc:
        # Nothing more to do here: the record expires through the table's TTL.
        logger.error(
            "could not remove the unqueued job", extra={"job_id": job_id, "error": str(exc)}
        )
