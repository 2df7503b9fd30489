"""Bounded, jittered retries of the part of a batch call that AWS did not process.

BatchWriteItem (`UnprocessedItems`) and SendMessageBatch (`Failed`, not the sender's fault)
can succeed for some entries and not others, and botocore does not retry those: we do, a few
times, then report what is left.
"""

from collections.abc import Callable, Sequence
from typing import TypeVar

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_result,
    stop_after_attempt,
    wait_random_exponential,
)

_T = TypeVar("_T")

# 1 call + 3 retries, waiting up to 50, 100, 200 ms (full jitter): well inside a request's time.
BATCH_ATTEMPTS = 4
FIRST_WAIT_SECONDS = 0.05
MAX_WAIT_SECONDS = 0.5


def retry_unfinished(
    call: Callable[[Sequence[_T]], list[_T]],
    entries: Sequence[_T],
    *,
    attempts: int = BATCH_ATTEMPTS,
) -> list[_T]:
    """Call `call(pending)` until it returns no unfinished entries or `attempts` are spent;
    return what is still unfinished. An exception from `call` is raised at once (botocore
    has already retried the call itself)."""
    pending: list[_T] = list(entries)

    def attempt() -> list[_T]:
        nonlocal pending
        pending = call(pending)
        return pending

    retrying = Retrying(
        stop=stop_after_attempt(attempts),
        wait=wait_random_exponential(multiplier=FIRST_WAIT_SECONDS, max=MAX_WAIT_SECONDS),
        retry=retry_if_result(bool),
        retry_error_callback=_last_result,
    )
    return list(retrying(attempt)) if pending else []


def _last_result(state: RetryCallState) -> object:
    """When the attempts are spent, hand back what is still unfinished (not an error)."""
    assert state.outcome is not None
    return state.outcome.result()
