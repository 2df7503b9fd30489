"""retry_unfinished: bounded retries of the entries a batch call did not process."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from gen_ai_on_aws.services.retries import BATCH_ATTEMPTS, retry_unfinished


def test_nothing_to_do_makes_no_call() -> None:
    def call(pending: Sequence[int]) -> list[int]:
        raise AssertionError("not called")

    assert retry_unfinished(call, []) == []


def test_the_unfinished_entries_are_retried_until_done() -> None:
    seen: list[list[int]] = []

    def call(pending: Sequence[int]) -> list[int]:
        seen.append(list(pending))
        return list(pending[1:])  # one more entry done per call

    assert retry_unfinished(call, [1, 2, 3]) == []
    assert seen == [[1, 2, 3], [2, 3], [3]]


def test_the_attempts_are_bounded_and_what_is_left_is_returned() -> None:
    calls: list[int] = []

    def call(pending: Sequence[int]) -> list[int]:
        calls.append(1)
        return list(pending)

    assert retry_unfinished(call, [7], attempts=3) == [7]
    assert len(calls) == 3
    assert BATCH_ATTEMPTS == 4


def test_an_exception_is_raised_at_once() -> None:
    calls: list[int] = []

    def call(pending: Sequence[int]) -> list[int]:
        calls.append(1)
        raise TimeoutError

    with pytest.raises(TimeoutError):
        retry_unfinished(call, [1])
    assert calls == [1]
