"""The cost model's arithmetic, checked by hand for one workload."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bench.cost import (
    CURVE_BATCH_SIZES,
    CURVE_MEMORY_MB,
    Workload,
    cost_curve,
    cost_per_million_jobs,
    curve_rows,
    worker_batch_seconds,
)


def test_default_workload_matches_a_hand_computed_bill() -> None:
    # GIVEN 2 s of LLM time, batches of 10 at 512 MB on arm64, one poll per job
    cost = cost_per_million_jobs(
        Workload(
            worker_overhead_seconds=0.0,
            api_duration_seconds=0.02,
            api_memory_mb=256,
            worker_memory_mb=512,
            batch_size=10,
        )
    )

    # THEN each line is price x quantity per million jobs
    worker_gb_seconds = 2.0 * 0.5 / 10  # a batch is billed once for ten jobs
    assert cost.worker_lambda == pytest.approx(1e6 * (worker_gb_seconds * 0.0000133334 + 0.02e-6))
    assert cost.api_gateway == pytest.approx(2.0)  # POST + one GET at $1 per million
    assert cost.dynamodb == pytest.approx(3 * 0.625 + 0.125)
    assert cost.sqs == pytest.approx(0.40 * 1.2)
    assert cost.api_lambda == pytest.approx(1e6 * (2 * 0.02 * 0.25 * 0.0000133334 + 2 * 0.2e-6))
    assert cost.total == pytest.approx(
        cost.worker_lambda + cost.api_lambda + cost.sqs + cost.dynamodb + cost.api_gateway
    )


def test_batching_divides_the_worker_bill() -> None:
    single = cost_per_million_jobs(Workload(batch_size=1))
    batched = cost_per_million_jobs(Workload(batch_size=10))

    assert batched.worker_lambda == pytest.approx(single.worker_lambda / 10)
    assert batched.sqs < single.sqs


def test_less_memory_stretches_the_batch_cpu_by_the_lambda_cpu_share() -> None:
    # GIVEN 10 ms of CPU per record on a full vCPU (1,769 MB)
    full = Workload(worker_overhead_seconds=0.0, cpu_per_record_seconds=0.01, batch_size=50)
    quarter = replace(full, worker_memory_mb=1769 // 4)

    # THEN a quarter of the memory takes about four times as long for the same CPU work
    assert worker_batch_seconds(replace(full, worker_memory_mb=1769)) == pytest.approx(2.5)
    assert worker_batch_seconds(quarter) == pytest.approx(2.0 + 0.5 * 1769 / 442)


def test_the_curve_covers_every_batch_size_and_memory() -> None:
    curve = cost_curve(Workload(cpu_per_record_seconds=0.01))

    assert len(curve) == len(CURVE_BATCH_SIZES) * len(CURVE_MEMORY_MB)
    assert curve["batch_100_1769mb"]["total"] < curve["batch_10_1769mb"]["total"]
    assert len(curve_rows(curve)) == 2 + len(CURVE_BATCH_SIZES)
