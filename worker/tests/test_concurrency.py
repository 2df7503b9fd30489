"""Records of one batch run concurrently, bounded by WORKER_MAX_CONCURRENCY."""

from __future__ import annotations

import time
from typing import Any

import pytest

NAMES = ["Ann", "Bob", "Cy", "Dee", "Eve", "Fay", "Gus", "Hal", "Ida", "Jo"]


def _submit_ten(harness: Any) -> list[Any]:
    return [harness.submit(f"{name} is {20 + i} years old") for i, name in enumerate(NAMES)]


def test_ten_records_at_half_a_second_each_finish_together(
    harness: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN an LLM that takes 0.5 s per call and a batch of ten jobs
    harness.invoke(harness.submit("Warm is 1 years old").record)  # first-call imports
    harness.llm.config.latency_seconds = 0.5
    batch = _submit_ten(harness)
    started = time.monotonic()
    response = harness.invoke(*(job.record for job in batch))
    concurrent = time.monotonic() - started
    # THEN they all succeed in about one LLM latency, not ten
    assert response == {"batchItemFailures": []}
    assert all(harness.job(job.job_id)["status"] == "succeeded" for job in batch)
    assert concurrent < 3.0
    # Compared with one record per invocation, one after the other
    monkeypatch.setenv("WORKER_MAX_CONCURRENCY", "1")
    harness.cold_start()
    one_by_one_jobs = [harness.submit(f"{name} is 60 years old") for name in NAMES]
    started = time.monotonic()
    for job in one_by_one_jobs:
        harness.invoke(job.record)
    one_by_one = time.monotonic() - started
    print(f"\n10 records at 0.5 s: batch {concurrent:.2f} s, one by one {one_by_one:.2f} s")
    assert one_by_one > 4.5


def test_concurrency_is_bounded_by_the_setting(
    harness: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN at most two records at a time and 0.3 s per call
    monkeypatch.setenv("WORKER_MAX_CONCURRENCY", "2")
    harness.invoke(harness.submit("Warm is 1 years old").record)
    harness.llm.config.latency_seconds = 0.3
    batch = [harness.submit(f"{name} is 30 years old") for name in NAMES[:6]]
    started = time.monotonic()
    assert harness.invoke(*(job.record for job in batch)) == {"batchItemFailures": []}
    elapsed = time.monotonic() - started
    # THEN six calls take three rounds (about 0.9 s), not one round and not six
    assert 0.85 <= elapsed < 1.8
