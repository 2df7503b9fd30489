"""Cancel a queued job and announce it to its webhook, if it has one."""

from datetime import datetime

from gen_ai_contracts.jobs import JobPublic
from gen_ai_contracts.webhooks import callback_event
from gen_ai_on_aws.logs import logger
from gen_ai_on_aws.services.errors import QueueUnavailableError
from gen_ai_on_aws.services.jobs_repository import JobsRepository
from gen_ai_on_aws.services.queue_service import QueueService


def cancel_job(
    *,
    jobs: JobsRepository,
    callbacks: QueueService | None,
    job_id: str,
    tenant: str,
    now: datetime,
) -> JobPublic:
    """``tenant``'s cancelled job; JobNotFoundError (none, or another tenant's) or
    JobNotCancellableError when it is not queued.

    The worker acknowledges a cancelled job's message without running it."""
    cancelled = jobs.cancel_queued_job(job_id=job_id, tenant=tenant, now=now)
    logger.info("job cancelled", extra={"job_id": job_id})
    if cancelled.callback_url is not None:
        _queue_cancelled_event(callbacks=callbacks, job_id=job_id, now=now)
    return cancelled.job


def _queue_cancelled_event(*, callbacks: QueueService | None, job_id: str, now: datetime) -> None:
    """Best effort: the cancel is written and stays; a lost event is logged for operators."""
    if callbacks is None:
        logger.error(
            "job has a callback but CALLBACKS_QUEUE_URL is not set; no event sent",
            extra={"job_id": job_id},
        )
        return
    try:
        callbacks.send_message(message=callback_event(job_id, "cancelled", now))
    except QueueUnavailableError as exc:
        logger.error(
            "could not queue the job.cancelled event", extra={"job_id": job_id, "error": str(exc)}
        )
