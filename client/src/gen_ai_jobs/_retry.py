"""Which failures are retried, and how long to wait: bounded attempts, `Retry-After` honoured,
otherwise exponential backoff with jitter."""

from __future__ import annotations

from collections.abc import Callable

from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt
from tenacity.wait import wait_exponential, wait_random

from gen_ai_jobs.errors import APIConnectionError, APIError

RETRY_STATUSES = frozenset({429, 503})
# A 503 that is not transient: the API has no keys configured, and waiting will not add one.
NOT_RETRIED_CODES = frozenset({"auth_not_configured"})
# A request with the same Idempotency-Key is still running: its answer will be there shortly.
RETRY_CONFLICT_CODES = frozenset({"idempotency_key_in_progress"})
# A server asking for longer than this is waited for this long; the attempts stay bounded.
MAX_RETRY_AFTER_SECONDS = 60.0

# 0.5, 1, 2, 4, 8 s, plus up to 0.5 s of jitter so clients do not retry in lockstep.
_backoff = wait_exponential(multiplier=0.5, max=8.0) + wait_random(0, 0.5)


def is_retryable(error: BaseException) -> bool:
    """Connection failures, 429, 503 (but `auth_not_configured`) and an idempotent request
    still in progress; never any other 4xx (sending it again would get the same answer)."""
    if isinstance(error, APIConnectionError):
        return True
    if isinstance(error, APIError):
        if error.code in NOT_RETRIED_CODES:
            return False
        return error.status_code in RETRY_STATUSES or (
            error.status_code == 409 and error.code in RETRY_CONFLICT_CODES
        )
    return False


def wait_seconds(state: RetryCallState) -> float:
    """The server's `Retry-After` when it sent one (capped), else jittered exponential backoff."""
    error = state.outcome.exception() if state.outcome else None
    retry_after = getattr(error, "retry_after", None)
    if retry_after is not None:
        return float(min(retry_after, MAX_RETRY_AFTER_SECONDS))
    return float(_backoff(state))


def retrying(max_retries: int, sleep: Callable[[float], None]) -> Retrying:
    """A tenacity policy: at most `max_retries` retries, then the last error is raised as is."""
    return Retrying(
        stop=stop_after_attempt(max_retries + 1),
        wait=wait_seconds,
        retry=retry_if_exception(is_retryable),
        sleep=sleep,
        reraise=True,
    )
