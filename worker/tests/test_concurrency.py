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
    # THEN they all succeed, and every call reached the LLM before one latency had passed
    # since the first (one by one, the tenth would arrive at least 9 x 0.5 s later); arrival
    # times, not wall time, so a loaded machine cannot make this flaky
    assert response == {"batchItemFailures": []}
    assert all(harness.job(job.job_id)["status"] == "succeeded" for job in batch)
    arrivals = [
        harness.llm.stats.call_times[f"{name} is {20 + i} years old"][0]
        for i, name in enumerate(NAMES)
    ]
    assert max(arrivals) - min(arrivals) < 2.25
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
    assert harness.invoke(*(job.record for job in batch)) == {"batchItemFailures": []}
    # THEN never more than two calls were in flight: each call arrived at least one latency
    # after the call two places before it (a slot frees only when a call has answered) ...
    arrivals = sorted(
        harness.llm.stats.call_times[f"{name} is 30 years old"][0] for name in NAMES[:6]
    )
    assert all(
        later - earlier >= 0.29 for earlier, later in zip(arrivals, arrivals[2:], strict=False)
    )
    # ... and two did run at once: the first two arrived together, well within one latency
    assert arrivals[1] - arrivals[0] < 0.29
