"""Submit a job: record it as `queued`, then enqueue it; never leave an orphan behind."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import uuid4

from gen_ai_contracts.queue import QueueMessage
from gen_ai_on_aws.logs import logger
from gen_ai_on_aws.services.errors import QueueUnavailableError, StoreUnavailableError
from gen_ai_on_aws.services.jobs_repository import JobsRepository
from gen_ai_on_aws.services.queue_service import QueueService


@dataclass(frozen=True)
class NewJob:
    """A submission that passed every check: task and model known, input and callback valid."""

    task: str
    payload: dict[str, Any]
    model: str | None = None
    callback_url: str | None = None


def queue_message(
    job: NewJob, *, job_id: str, request_id: str | None, now: datetime
) -> QueueMessage:
    """The envelope the worker receives for `job` (the callback URL stays in the record)."""
    return QueueMessage(
        job_id=job_id,
        task=job.task,
        payload=job.payload,
        submitted_at=now,
        request_id=request_id,
        model=job.model,
    )


def submit_job(
    *,
    jobs: JobsRepository,
    queue: QueueService,
    task: str,
    payload: dict[str, Any],
    request_id: str | None,
    now: datetime,
    model: str | None = None,
    callback_url: str | None = None,
) -> str:
    """Return the new job's id. The record is written first so the worker always finds it.

    `task`, `model` and `callback_url` are already checked (registry, allow-list, SSRF guard)."""
    job_id = str(uuid4())
    job = NewJob(task=task, payload=payload, model=model, callback_url=callback_url)
    message = queue_message(job, job_id=job_id, request_id=request_id, now=now)
    jobs.put_queued_job(
        job_id=job_id, task=task, request_id=request_id, now=now, callback_url=callback_url
    )
    try:
        message_id = queue.send_message(message=message)
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
            "task": task,
            "model": model,
            "message_id": message_id,
            "callback": callback_url is not None,  # never the URL: it may hold a token
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
