"""How long a message stays invisible before SQS redelivers it after a retryable failure."""

from __future__ import annotations

import math

from worker.errors import ErrorCode, JobError

# A provider's Retry-After is honoured up to this bound (a daily quota should not park a
# message for a day; the job fails as retries_exhausted after QUEUE_MAX_RECEIVE_COUNT anyway).
MAX_DELAY_SECONDS = 900
# Without Retry-After: base, 2x, 4x, ... capped (WORKER_RETRY_BASE_SECONDS, default 10 s, and
# WORKER_RETRY_CAP_SECONDS, default 300 s), so an outage is not hammered.
BACKOFF_BASE_SECONDS = 10
BACKOFF_CAP_SECONDS = 300


def retry_delay_seconds(
    error: JobError,
    *,
    receive_count: int,
    base_seconds: int = BACKOFF_BASE_SECONDS,
    cap_seconds: int = BACKOFF_CAP_SECONDS,
) -> int:
    """Visibility timeout for the next delivery of a message that failed with ``error``."""
    if error.retry_after is not None:
        return _bounded(error.retry_after)
    if error.code is ErrorCode.DEADLINE_EXCEEDED:
        return 0  # the job never ran to completion: not its fault, try again at once
    return min(base_seconds << max(receive_count - 1, 0), cap_seconds)


def lease_wait_seconds(lease_expires_at: float, *, now: float) -> int:
    """Come back when the other attempt's lease ends: it has finished or crashed by then."""
    return _bounded(lease_expires_at - now + 1)


def _bounded(seconds: float) -> int:
    return min(max(math.ceil(seconds), 1), MAX_DELAY_SECONDS)
