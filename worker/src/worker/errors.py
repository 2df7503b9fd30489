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


class RejectedMessageError(TerminalJobError):
    """The SQS body is not a job we can run; ``job_id`` is set when it could still be read."""

    def __init__(self, code: ErrorCode, message: str, *, job_id: str | None, task: str | None):
        super().__init__(code, message)
        self.job_id = job_id
        self.task = task


class RecordRetry(Exception):  # noqa: N818  (a signal to the batch processor, not an error)
    """Raised to Powertools so the record is listed in ``batchItemFailures``."""
