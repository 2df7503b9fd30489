"""The settings the scale model recommends for a load: batch size, WORKER_MAX_CONCURRENCY,
MaximumConcurrency per lane, the provider quota to ask for and the Lambda concurrency quota.
The simulation then runs with them to show they hold (bench.scale)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from bench.cost import Workload, cost_per_million_jobs
from bench.scale_model import (
    DEFAULT_ACCOUNT_CONCURRENCY,
    ESM_START_CONCURRENCY,
    LIMITER_SHARE_OF_QUOTA,
    Load,
    Worker,
)

BATCH_SIZES = (10, 20, 50, 100)
# The largest batch the worker bench measures (issue 14: "this must hold at batch 50"); larger
# ones are shown for what they would save, not recommended unmeasured.
LARGEST_MEASURED_BATCH = 50
# A batch's p99 wall must stay well inside the worker's 180 s timeout.
BATCH_P99_LIMIT_SECONDS = 30.0
# Demand at the peak minute is the mean peak rate plus this many Poisson standard deviations.
PEAK_SIGMAS = 3.0
# Room for growth and forecast error on the provider quota asked for.
QUOTA_GROWTH = 1.2
# MaximumConcurrency over the peak need (Little's law): slack to drain a backlog.
CONCURRENCY_HEADROOM = 1.25
# The stack's batchingWindowSeconds default: how long a poller gathers a batch.
BATCHING_WINDOW_SECONDS = 1
# The share of the limiter's rate the lanes' ceilings may use: above it, refused records spin.
QUOTA_BOUND_USE = 0.9
# Other functions' concurrency at peak: API (about 20 ms per request, a POST and a poll per
# job), webhook deliveries (callbacksMaxConcurrency 2), the DLQ settler (1).
API_SECONDS_PER_REQUEST = 0.02
OTHER_FUNCTIONS_CONCURRENCY = 3


@dataclass(frozen=True)
class BatchOption:
    batch_size: int
    wall_mean_seconds: float
    wall_p99_seconds: float
    infra_per_million: float


@dataclass(frozen=True)
class Plan:
    batch_size: int
    worker_max_concurrency: int
    maximum_concurrency: tuple[int, int, int]  # high, normal, low
    peak_calls_per_minute: int
    provider_rpm: int
    provider_tpm: int
    limiter_rpm: int
    limiter_tpm: int
    quota_bound_concurrency: int  # full batches the limiter's rate keeps busy; more only spin
    ceiling_calls_per_minute: int  # calls every lane at its MaximumConcurrency would make
    peak_lambda_concurrency: int  # every lane at its ceiling, plus the other functions
    account_concurrency_to_request: int | None  # None: the default 1,000 is enough
    options: tuple[BatchOption, ...]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def batch_wall(worker: Worker, batch_size: int, samples: int = 20_000) -> tuple[float, float]:
    """(mean, p99) of a batch's wall time: its slowest LLM call (records run concurrently when
    WORKER_MAX_CONCURRENCY >= batch size) plus the CPU of its records."""
    rng = np.random.default_rng(batch_size)
    calls = rng.lognormal(
        math.log(worker.llm_median_seconds), worker.llm_sigma, (samples, batch_size)
    )
    walls = calls.max(axis=1) + batch_size * worker.cpu_per_record_seconds
    return float(walls.mean()), float(np.quantile(walls, 0.99))


def batch_options(worker: Worker) -> tuple[BatchOption, ...]:
    """bench.cost's infrastructure $ per million jobs for each batch size, billed for the
    batch's mean wall time."""
    options = []
    for size in BATCH_SIZES:
        mean, p99 = batch_wall(worker, size)
        workload = Workload(
            llm_latency_seconds=mean,
            worker_overhead_seconds=0.0,
            batch_size=size,
            worker_memory_mb=worker.memory_mb,
            arm64=worker.arm64,
        )
        total = cost_per_million_jobs(workload).total
        options.append(BatchOption(size, round(mean, 2), round(p99, 2), round(total, 3)))
    return tuple(options)


def plan(load: Load, worker: Worker, tokens_per_call: int) -> Plan:
    options = batch_options(worker)
    allowed = [
        option
        for option in options
        if option.batch_size <= LARGEST_MEASURED_BATCH
        and option.wall_p99_seconds <= BATCH_P99_LIMIT_SECONDS
    ]
    best = min(allowed, key=lambda option: option.infra_per_million)
    per_minute = load.peak_rate * 60
    peak_calls = math.ceil(per_minute + PEAK_SIGMAS * math.sqrt(per_minute))
    # Little's law per lane: invocations busy = batches per second x seconds per batch. A lane
    # slower than a batch per batching window sends partial batches (of its rate x window).
    lanes: list[int] = []
    ceiling_calls = 0.0
    for share in load.lane_shares:
        rate = load.peak_rate * share
        fill = max(1, min(best.batch_size, round(rate * BATCHING_WINDOW_SECONDS)))
        wall = batch_wall(worker, fill)[0] if fill != best.batch_size else best.wall_mean_seconds
        concurrency = max(
            ESM_START_CONCURRENCY, math.ceil(rate / fill * wall * CONCURRENCY_HEADROOM)
        )
        lanes.append(concurrency)
        ceiling_calls += concurrency * fill / wall * 60
    maximum = (lanes[0], lanes[1], lanes[2])
    # The limiter must feed every lane at its ceiling (a backlog drains at full concurrency)
    # with room to spare, or refused records spin in process; the provider quota is the
    # limiter's over LIMITER_SHARE_OF_QUOTA.
    limiter_needed = max(ceiling_calls / QUOTA_BOUND_USE, peak_calls * QUOTA_GROWTH)
    provider_rpm = _round_up(limiter_needed / LIMITER_SHARE_OF_QUOTA, 1000)
    provider_tpm = _round_up(provider_rpm * tokens_per_call, 100_000)
    limiter_rpm = int(provider_rpm * LIMITER_SHARE_OF_QUOTA)
    quota_bound = math.ceil(limiter_rpm / 60 * best.wall_mean_seconds / best.batch_size)
    api = math.ceil(load.peak_rate * 2 * API_SECONDS_PER_REQUEST)
    peak_lambda = sum(maximum) + api + OTHER_FUNCTIONS_CONCURRENCY
    request = None
    if peak_lambda > 0.8 * DEFAULT_ACCOUNT_CONCURRENCY:
        request = _round_up(peak_lambda * 1.5, 500)
    return Plan(
        batch_size=best.batch_size,
        worker_max_concurrency=best.batch_size,
        maximum_concurrency=maximum,
        peak_calls_per_minute=peak_calls,
        provider_rpm=provider_rpm,
        provider_tpm=provider_tpm,
        limiter_rpm=limiter_rpm,
        limiter_tpm=int(provider_tpm * LIMITER_SHARE_OF_QUOTA),
        quota_bound_concurrency=quota_bound,
        ceiling_calls_per_minute=math.ceil(ceiling_calls),
        peak_lambda_concurrency=peak_lambda,
        account_concurrency_to_request=request,
        options=options,
    )


def _round_up(value: float, unit: int) -> int:
    return int(math.ceil(value / unit) * unit)
