"""Submit a job: record it as `queued`, then enqueue it in its lane; never leave a job that
might run unseen (a send SQS did not confirm ends the job, which its message then honours)."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import uuid4

from gen_ai_contracts.queue import Priority, QueueMessage
from gen_ai_on_aws.logs import logger
from gen_ai_on_aws.services.errors import (
    EnqueueUncertainError,
    MessageRejectedError,
    QueueUnavailableError,
    StoreUnavailableError,
)
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
    (`api.auth`: a tenant name), never the API key."""
    job_id = str(uuid4())
    message = queue_message(job, job_id=job_id, tenant=tenant, request_id=request_id, now=now)
    jobs.put_queued_job(
        job=queued_record(job, job_id=job_id, tenant=tenant), request_id=request_id, now=now
    )
    try:
        message_id = queues.lane(job.priority).send_message(message=message, group_id=tenant)
    except MessageRejectedError:
        delete_unsent(jobs=jobs, job_id=job_id)
        raise
    except QueueUnavailableError as exc:
        logger.warning("enqueue failed", extra={"job_id": job_id, "error": str(exc)})
        if not exc.maybe_sent:
            delete_unsent(jobs=jobs, job_id=job_id)
            raise
        if end_unqueued(jobs=jobs, job_id=job_id, now=now):
            raise
        message_id = None  # a worker claimed it: SQS had taken the message after all
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


def delete_unsent(*, jobs: JobsRepository, job_id: str) -> None:
    """Remove the record of a job whose message SQS refused; a job a worker claimed is kept."""
    try:
        jobs.delete_queued_job(job_id=job_id)
    except StoreUnavailableError as exc:
        # Nothing more to do here: no message carries the job, and the TTL removes the record.
        logger.error(
            "could not remove the unqueued job", extra={"job_id": job_id, "error": str(exc)}
        )


def end_unqueued(*, jobs: JobsRepository, job_id: str, now: datetime) -> bool:
    """After a failed or unanswered send: end the job so its message, if SQS took it after
    all, never runs (True), or learn that a worker already runs it (False). When even that
    write fails, raise EnqueueUncertainError: the client gets the job id to look it up."""
    try:
        return jobs.end_unqueued_job(job_id=job_id, now=now)
    except StoreUnavailableError as exc:
        logger.error("unqueued job left open", extra={"job_id": job_id, "error": str(exc)})
        raise EnqueueUncertainError(str(exc), job_id=job_id) from exc
