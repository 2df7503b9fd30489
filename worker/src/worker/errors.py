"""Domain errors: each carries the job error code stored in DynamoDB (docs/contracts.md)."""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    """Terminal codes (``error``) plus the retryable ones recorded as ``last_error``."""

    INVALID_MESSAGE = "invalid_message"
    UNSUPPORTED_VERSION = "unsupported_version"
    UNKNOWN_TASK = "unknown_task"
    INVALID_PAYLOAD = "invalid_payload"
    EXTRACTION_FAILED = "extraction_failed"
    PROVIDER_REJECTED = "provider_rejected"
    RETRIES_EXHAUSTED = "retries_exhausted"
    MAX_AGE_EXCEEDED = "max_age_exceeded"
    PROVIDER_RATE_LIMITED = "provider_rate_limited"
    PROVIDER_UNAVAILABLE = "provider_unavailable"
    PROVIDER_TIMEOUT = "provider_timeout"
    AWS_UNAVAILABLE = "aws_unavailable"
    DEADLINE_EXCEEDED = "deadline_exceeded"
    JOB_BUSY = "job_busy"
    CALLBACK_NOT_QUEUED = "callback_not_queued"
    INTERNAL_ERROR = "internal_error"


class JobError(Exception):
    """A classified failure of one job; ``retryable`` decides redelivery versus acknowledge."""

    retryable = False
    # Whether this failure spends one of the job's JOB_MAX_ATTEMPTS: only an attempt that
    # reached the provider and failed does (throttling is not failure).
    counts_as_attempt = True

    def __init__(self, code: ErrorCode, message: str, *, retry_after: float | None = None):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.retry_after = retry_after


class TerminalJobError(JobError):
    """Retrying cannot help (bad message, bad payload, provider said no): fail the job, ack."""


class RetryableJobError(JobError):
    """A transient failure: release the claim and let SQS redeliver the message."""

    retryable = True


class DeferJobError(RetryableJobError):
    """The job must wait, through no fault of its own: our rate limiter or a provider's 429
    (``PROVIDER_RATE_LIMITED``), an open circuit (``PROVIDER_UNAVAILABLE``) or too little time
    left (``DEADLINE_EXCEEDED``). It is re-sent after ``retry_after`` seconds without spending
    its budget."""

    counts_as_attempt = False


class RejectedMessageError(TerminalJobError):
    """The SQS body is not a job we can run; ``job_id`` is set when it could still be read."""

    def __init__(self, code: ErrorCode, message: str, *, job_id: str | None, task: str | None):
        super().__init__(code, message)
        self.job_id = job_id
        self.task = task


class RecordRetry(Exception):  # noqa: N818  (a signal to the batch processor, not an error)
    """Raised to Powertools so the record is listed in ``batchItemFailures``."""
