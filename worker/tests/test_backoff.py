"""Delays before a job runs again: Retry-After honoured within bounds, exponential backoff by
attempt otherwise, and deferrals jittered."""

from __future__ import annotations

import pytest

from worker.errors import ErrorCode, RetryableJobError
from worker.services.backoff import (
    BACKOFF_CAP_SECONDS,
    DEFER_JITTER_MAX_SECONDS,
    MAX_DELAY_SECONDS,
    defer_delay_seconds,
    lease_wait_seconds,
    retry_delay_seconds,
)


def _error(
    code: ErrorCode = ErrorCode.PROVIDER_UNAVAILABLE, retry_after: float | None = None
) -> RetryableJobError:
    return RetryableJobError(code, "x", retry_after=retry_after)


@pytest.mark.parametrize(
    ("retry_after", "delay"), [(0.2, 1), (7.5, 8), (86_400, MAX_DELAY_SECONDS)]
)
def test_retry_after_is_honoured_within_bounds(retry_after: float, delay: int) -> None:
    assert retry_delay_seconds(_error(retry_after=retry_after), attempt=1) == delay


def test_backoff_doubles_per_attempt_up_to_a_cap() -> None:
    delays = [retry_delay_seconds(_error(), attempt=n) for n in range(1, 9)]
    assert delays == [10, 20, 40, 80, 160, BACKOFF_CAP_SECONDS, 300, 300]


def test_records_cut_off_by_the_deadline_come_back_at_once() -> None:
    assert retry_delay_seconds(_error(ErrorCode.DEADLINE_EXCEEDED), attempt=3) == 0


def test_busy_jobs_wait_for_the_other_lease() -> None:
    assert lease_wait_seconds(1_000.0, now=990.5) == 11
    assert lease_wait_seconds(900.0, now=990.0) == 1


def test_backoff_base_and_cap_come_from_settings() -> None:
    delays = [
        retry_delay_seconds(_error(), attempt=n, base_seconds=1, cap_seconds=4) for n in range(1, 6)
    ]
    assert delays == [1, 2, 4, 4, 4]


@pytest.mark.parametrize(
    ("retry_after", "without_jitter", "with_most_jitter"),
    [(None, 1, 2), (0.0, 1, 2), (0.2, 1, 2), (2.0, 2, 3), (7.5, 8, 10), (100, 100, 125)],
)
def test_a_deferral_waits_retry_after_plus_bounded_jitter(
    retry_after: float | None, without_jitter: int, with_most_jitter: int
) -> None:
    assert defer_delay_seconds(retry_after, jitter=lambda: 0.0) == without_jitter
    assert defer_delay_seconds(retry_after, jitter=lambda: 0.999) == with_most_jitter


def test_deferral_jitter_is_capped_and_so_is_the_delay() -> None:
    assert defer_delay_seconds(600, jitter=lambda: 0.999) == 600 + DEFER_JITTER_MAX_SECONDS
    assert defer_delay_seconds(86_400, jitter=lambda: 0.999) == MAX_DELAY_SECONDS
