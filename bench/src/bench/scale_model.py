"""The scale model's inputs: a day of load, the event source mapping, the worker, the provider's
quota and our limiter. Every AWS figure is a documented one, cited where it is defined; the
worker's figures mirror worker/src/worker (model_gate.py, backoff.py, config.py) without
importing it, so the model stays a model of the behaviour, not a run of the code."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

# Lambda's SQS event source mapping, standard (default) mode, for standard queues:
# https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html
# "starts processing five batches at a time with five concurrent invocations ... increases
# ... by up to 300 more concurrent invokes per minute. The maximum number of invokes that an
# event source mapping can process simultaneously is 1,250." Older revisions of the page said
# 60 per minute up to 1,000 (https://aws.amazon.com/blogs/compute/introducing-faster-polling-
# scale-up-for-aws-lambda-functions-configured-with-amazon-sqs/ announced the change).
ESM_START_CONCURRENCY = 5
ESM_RAMP_PER_MINUTE = 300
ESM_MAX_CONCURRENCY = 1250
# ScalingConfig.MaximumConcurrency, 2..1000 per mapping:
# https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-lambda-eventsourcemapping-scalingconfig.html
MAXIMUM_CONCURRENCY_RANGE = (2, 1000)
# Provisioned mode (mutually exclusive with MaximumConcurrency, same page as above): dedicated
# pollers, MinimumPollers 2..200 and MaximumPollers 2..2000, "each poller can handle up to
# 1 MB/sec of throughput and 10 concurrent invokes":
# https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-parameters.html
# They "auto scale up to 1000 concurrent executions per minute" up to "20,000 concurrency":
# https://aws.amazon.com/blogs/aws/aws-lambda-enhances-sqs-processing-with-new-provisioned-mode-3x-faster-scaling-16x-higher-capacity
PROVISIONED_INVOKES_PER_POLLER = 10
PROVISIONED_RAMP_PER_MINUTE = 1000
PROVISIONED_MAX_CONCURRENCY = 20_000
MIN_POLLERS_RANGE = (2, 200)
MAX_POLLERS_RANGE = (2, 2000)
# Concurrent executions per account and Region, by default (a quota that can be raised):
# https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html
DEFAULT_ACCOUNT_CONCURRENCY = 1000
# SQS: DelaySeconds is 0..900 (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/
# SQSDeveloperGuide/quotas-queues.html), the worker's MAX_DELAY_SECONDS.
MAX_DELAY_SECONDS = 900

# The worker's behaviour (worker/src/worker/...), mirrored:
# model_gate.PRIORITY_SHARE: the fraction of the limiter's burst each lane may use.
PRIORITY_SHARE = {"high": 1.0, "normal": 0.8, "low": 0.5}
# backoff.DEFER_JITTER_*: a deferral waits Retry-After plus up to a quarter more (1..30 s).
DEFER_JITTER_SHARE = 0.25
DEFER_JITTER_MAX_SECONDS = 30
# config.llm_limit_max_wait_seconds: waits up to this long happen in process; longer ones defer.
LIMIT_MAX_WAIT_SECONDS = 2.0
# ratelimit.Rate.burst_seconds: the GCRA tolerance, 10 s worth of the rate.
LIMITER_BURST_SECONDS = 10.0
# The share of the provider's quota the README tells operators to give the limiter.
LIMITER_SHARE_OF_QUOTA = 0.85

LANES = ("high", "normal", "low")


@dataclass(frozen=True)
class Load:
    """A day of submissions: a sinusoid around the mean, ``peak_to_trough`` between its highest
    and lowest rate, Poisson arrivals each second, split over the lanes by ``lane_shares``.
    ``day_seconds`` compresses the day for tests (the shape is the same); a run covers
    ``hours`` of it from ``start_hour`` (the whole day by default)."""

    jobs_per_day: int = 10_000_000
    peak_to_trough: float = 4.0
    peak_hour: float = 15.0
    day_seconds: int = 86_400
    lane_shares: tuple[float, float, float] = (0.1, 0.8, 0.1)  # high, normal, low
    start_hour: float = 0.0
    hours: float = 24.0

    @property
    def hour_seconds(self) -> float:
        return self.day_seconds / 24

    @property
    def run_seconds(self) -> int:
        return round(self.hours * self.hour_seconds)

    @property
    def start_second(self) -> float:
        return self.start_hour * self.hour_seconds

    @property
    def mean_rate(self) -> float:
        return self.jobs_per_day / self.day_seconds

    @property
    def amplitude(self) -> float:
        """Of the sinusoid, relative to the mean: (peak - trough) / (peak + trough)."""
        return (self.peak_to_trough - 1) / (self.peak_to_trough + 1)

    @property
    def peak_rate(self) -> float:
        return self.mean_rate * (1 + self.amplitude)

    def rate_at(self, second: float) -> float:
        """Jobs per second submitted at ``second`` of the day."""
        phase = 2 * math.pi * (second / self.day_seconds - self.peak_hour / 24)
        return self.mean_rate * (1 + self.amplitude * math.cos(phase))


@dataclass(frozen=True)
class Mapping:
    """Each lane's event source mapping: batch size, MaximumConcurrency (standard mode), or
    provisioned mode with (MinimumPollers, MaximumPollers) when ``provisioned_pollers`` is set."""

    batch_size: int = 10
    maximum_concurrency: tuple[int, int, int] = (5, 5, 2)  # the stack's laneConcurrency default
    provisioned_pollers: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        low, high = MAXIMUM_CONCURRENCY_RANGE
        if any(not low <= c <= high for c in self.maximum_concurrency):
            raise ValueError(f"MaximumConcurrency must be within {low}..{high}")
        if self.provisioned_pollers is not None:
            minimum, maximum = self.provisioned_pollers
            if not MIN_POLLERS_RANGE[0] <= minimum <= MIN_POLLERS_RANGE[1]:
                raise ValueError(f"MinimumPollers must be within {MIN_POLLERS_RANGE}")
            if not max(minimum, MAX_POLLERS_RANGE[0]) <= maximum <= MAX_POLLERS_RANGE[1]:
                raise ValueError(f"MaximumPollers must be within {MAX_POLLERS_RANGE}")


@dataclass(frozen=True)
class Worker:
    """One invocation runs its batch's records concurrently (``max_concurrency`` at a time,
    WORKER_MAX_CONCURRENCY), each an LLM call of lognormal latency plus ``cpu_per_record``
    seconds of CPU that the GIL serialises; a new execution environment first pays ``init``."""

    max_concurrency: int = 10
    llm_median_seconds: float = 2.0
    llm_sigma: float = 0.5
    cpu_per_record_seconds: float = 0.026  # measured on main before issue 14 (about 26 ms)
    init_seconds: float = 2.4  # worker handler import, CPU, from the cold-start bench
    memory_mb: int = 1024
    arm64: bool = True
    limit_max_wait_seconds: float = LIMIT_MAX_WAIT_SECONDS
    # How long an idle execution environment is kept before a new one must be started.
    keep_warm_seconds: int = 600


@dataclass(frozen=True)
class Provider:
    """The LLM provider's quota for the model, over any 60 s: a call beyond it gets a 429 with
    Retry-After, the seconds until the window has room again. None = unlimited."""

    rpm: int | None = None
    tpm: int | None = None
    tokens_per_call: int = 500


@dataclass(frozen=True)
class Limiter:
    """Our fleet-wide GCRA per model (gen_ai_contracts.ratelimit) and the provider pause a 429
    sets (worker.services.breaker); off = no LLM state table, so neither exists."""

    enabled: bool = True
    rpm: int | None = None
    tpm: int | None = None
    burst_seconds: float = LIMITER_BURST_SECONDS


@dataclass(frozen=True)
class Scenario:
    """One simulated day (or the hours of it its load covers), on a one-second clock."""

    name: str
    load: Load = field(default_factory=Load)
    mapping: Mapping = field(default_factory=Mapping)
    worker: Worker = field(default_factory=Worker)
    provider: Provider = field(default_factory=Provider)
    limiter: Limiter = field(default_factory=Limiter)
    account_concurrency: int = DEFAULT_ACCOUNT_CONCURRENCY
    # Run on after the day so deferred and queued jobs can finish (capped: a backlog may not).
    drain_seconds: int = 1800
    seed: int = 14

    def limiter_for_quota(self) -> Limiter:
        """The limiter the README recommends: LIMITER_SHARE_OF_QUOTA of the provider's quota."""
        rpm = self.provider.rpm
        tpm = self.provider.tpm
        return Limiter(
            enabled=True,
            rpm=None if rpm is None else max(1, int(rpm * LIMITER_SHARE_OF_QUOTA)),
            tpm=None if tpm is None else max(1, int(tpm * LIMITER_SHARE_OF_QUOTA)),
        )


def defer_delay_seconds(retry_after: float, jitter: float) -> int:
    """backoff.defer_delay_seconds: Retry-After rounded up (1..900 s) plus up to a quarter more
    (at least 1 s, at most 30 s); ``jitter`` is uniform in [0, 1)."""
    wait = min(max(math.ceil(retry_after), 1), MAX_DELAY_SECONDS)
    spread = min(max(math.ceil(wait * DEFER_JITTER_SHARE), 1), DEFER_JITTER_MAX_SECONDS)
    return min(wait + math.floor(jitter * (spread + 1)), MAX_DELAY_SECONDS)


def defer_delays(retry_after: Any, jitter: Any) -> Any:
    """``defer_delay_seconds`` over numpy arrays (whole seconds, int64)."""
    wait = np.clip(np.ceil(retry_after), 1, MAX_DELAY_SECONDS)
    spread = np.clip(np.ceil(wait * DEFER_JITTER_SHARE), 1, DEFER_JITTER_MAX_SECONDS)
    return np.minimum(wait + np.floor(jitter * (spread + 1)), MAX_DELAY_SECONDS).astype(np.int64)
