"""How long a job waits before it runs again: a re-sent copy's DelaySeconds, or a message's
visibility timeout when it is redelivered instead (both SQS fields take 0..900 s)."""

from __future__ import annotations

import math
import random
from collections.abc import Callable

from worker.errors import ErrorCode, JobError

# A provider's Retry-After is honoured up to this bound (a daily quota should not park a job
# for a day; JOB_MAX_AGE_SECONDS ends a job that waits too long anyway).
MAX_DELAY_SECONDS = 900
# Without Retry-After: base, 2x, 4x, ... capped (WORKER_RETRY_BASE_SECONDS, default 10 s, and
# WORKER_RETRY_CAP_SECONDS, default 300 s), so an outage is not hammered.
BACKOFF_BASE_SECONDS = 10
BACKOFF_CAP_SECONDS = 300
# A deferral waits its Retry-After plus up to a quarter more (at least 1 s, at most 30 s), in
# whole seconds: jobs deferred together by one 429 or one open circuit come back spread out
# instead of as a herd that trips the limit again.
DEFER_JITTER_SHARE = 0.25
DEFER_JITTER_MAX_SECONDS = 30


def retry_delay_seconds(
    error: JobError,
    *,
    attempt: int,
    base_seconds: int = BACKOFF_BASE_SECONDS,
    cap_seconds: int = BACKOFF_CAP_SECONDS,
) -> int:
    """The wait after failed attempt number ``attempt`` (the job's attempts when re-sent, the
    message's receive count when redelivered)."""
    if error.retry_after is not None:
        return _bounded(error.retry_after)
    if error.code is ErrorCode.DEADLINE_EXCEEDED:
        return 0  # the job never ran to completion: not its fault, try again at once
    return min(base_seconds << max(attempt - 1, 0), cap_seconds)


def defer_delay_seconds(
    retry_after: float | None, *, jitter: Callable[[], float] = random.random
) -> int:
    """The wait of a deferred job: ``retry_after`` rounded up (at least 1 s) plus jitter."""
    wait = _bounded(retry_after or 0)
    spread = min(max(math.ceil(wait * DEFER_JITTER_SHARE), 1), DEFER_JITTER_MAX_SECONDS)
    return min(wait + math.floor(jitter() * (spread + 1)), MAX_DELAY_SECONDS)


def lease_wait_seconds(lease_expires_at: float, *, now: float) -> int:
    """Come back when the other attempt's lease ends: it has finished or crashed by then."""
    return _bounded(lease_expires_at - now + 1)


def _bounded(seconds: float) -> int:
    return min(max(math.ceil(seconds), 1), MAX_DELAY_SECONDS)
