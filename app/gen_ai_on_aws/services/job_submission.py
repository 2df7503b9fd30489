"""Submit a job: record it as `queued`, then enqueue it; never leave an orphan behind."""

from datetime import datetime
from typing import Any
from uuid import uuid4

from gen_ai_contracts.queue import QueueMessage
from gen_ai_on_aws.logs import logger
from gen_ai_on_aws.services.errors import QueueUnavailableError, StoreUnavailableError
from gen_ai_on_aws.services.jobs_repository import JobsRepository
from gen_ai_on_aws.services.queue_service import QueueService


def submit_job(
    *,
    jobs: JobsRepository,
    queue: QueueService,
    task: str,
    payload: dict[str, Any],
    request_id: str | None,
    now: datetime,
    model: str | None = None,
) -> str:
    """Return the new job's id. The record is written first so the worker always finds it.

    `task` and `model` are already checked against the registry and the allow-list."""
    job_id = str(uuid4())
    message = QueueMessage(
        job_id=job_id,
        task=task,
        payload=payload,
        submitted_at=now,
        request_id=request_id,
        model=model,
    )
    jobs.put_queued_job(job_id=job_id, task=task, request_id=request_id, now=now)
    try:
        message_id = queue.send_message(message=message)
    except QueueUnavailableError as exc:
        logger.warning(
            "enqueue failed; removing the job", extra={"job_id": job_id, "error": str(exc)}
        )
        _delete_orphan(jobs=jobs, job_id=job_id)
        raise
    logger.info(
        "job queued",
        extra={"job_id": job_id, "task": task, "model": model, "message_id": message_id},
    )
    return job_id


def _delete_orphan(*, jobs: JobsRepository, job_id: str) -> None:
    try:
        jobs.delete_queued_job(job_id=job_id)
    except StoreUnavailableError as exc:
        # Nothing more to do here: the record expires through the table's TTL.
        logger.error(
            "could not remove the unqueued job", extra={"job_id": job_id, "error": str(exc)}
        )
