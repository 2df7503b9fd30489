"""The scale simulation's invariants on a small, compressed day (an hour of simulated time,
20,000 jobs): no job lost, limits obeyed, 429s only without our limiter, and what the worker's
own code does mirrored exactly where the model copies it."""

from __future__ import annotations

import functools
import math
from dataclasses import replace

import numpy as np
import pytest

from bench.scale_cost import cost_per_day
from bench.scale_model import (
    PRIORITY_SHARE,
    Limiter,
    Load,
    Mapping,
    Provider,
    Scenario,
    Worker,
    defer_delay_seconds,
    defer_delays,
)
from bench.scale_sim import SimulationResult, _Gcra, simulate

SMALL_DAY = Load(jobs_per_day=20_000, day_seconds=3_600)
# The same rates over a third of the time, for the scenarios where every second is contended.
SHORT_DAY = Load(jobs_per_day=6_667, day_seconds=1_200)
MAPPING = Mapping(batch_size=10, maximum_concurrency=(3, 8, 2))


def small(name: str, **changes: object) -> Scenario:
    scenario = Scenario(name, load=SMALL_DAY, mapping=MAPPING, drain_seconds=900)
    return replace(scenario, **changes)  # type: ignore[arg-type]


def assert_no_job_lost(result: SimulationResult) -> None:
    totals = result.totals
    assert totals.submitted > 0
    assert totals.submitted == totals.completed + result.queued + result.in_flight


def test_every_job_is_accounted_for_and_all_finish_when_capacity_suffices() -> None:
    result = simulate(small("roomy"))

    assert_no_job_lost(result)
    assert result.totals.completed == result.totals.submitted  # drained within the day
    assert result.totals.deferrals == 0
    assert result.minute_arrivals.sum() == result.totals.submitted


def test_no_job_is_lost_when_the_quota_is_short_and_jobs_are_deferred() -> None:
    # GIVEN a provider quota far below the load, with our limiter at 85 % of it
    quota = Provider(rpm=150)
    result = simulate(
        small("short", provider=quota, limiter=Limiter(rpm=127), load=SHORT_DAY, drain_seconds=600)
    )

    # THEN jobs are deferred and a backlog is left, and each one is still somewhere
    assert result.totals.deferrals > 0
    assert result.queued > 0
    assert_no_job_lost(result)


def test_with_our_limiter_provider_calls_stay_within_the_quota_in_every_60_seconds() -> None:
    # GIVEN a quota the load exceeds at its peak, and the limiter at 85 % of it
    quota = Provider(rpm=300)
    result = simulate(
        small(
            "limited", provider=quota, limiter=Limiter(rpm=255), load=SHORT_DAY, drain_seconds=600
        )
    )

    # THEN no 60 s window (calendar minute or sliding) holds more calls than the quota allows,
    # counting every attempt, and the provider never answers 429
    assert result.totals.provider_throttled == 0
    assert result.busiest_60s_attempts <= 300
    assert result.minute_attempts.max() <= 300
    assert result.totals.deferrals > 0  # the limit did bind


def test_without_our_limiter_a_low_quota_brings_429s_and_retries() -> None:
    quota = Provider(rpm=120)
    result = simulate(
        small(
            "no limiter",
            provider=quota,
            limiter=Limiter(enabled=False),
            load=SHORT_DAY,
            drain_seconds=600,
        )
    )

    totals = result.totals
    assert totals.provider_throttled > 0
    assert totals.in_process_retries > 0  # Retry-After within the 2 s budget: retried at once
    assert totals.deferrals > 0  # longer waits: re-sent with DelaySeconds
    assert result.busiest_60s_attempts > 120  # the 429s are calls too
    assert result.busiest_60s_accepted <= 120  # the provider itself never takes more
    assert totals.limiter_writes == 0
    assert_no_job_lost(result)


def test_a_tpm_quota_binds_like_an_rpm_quota_of_tokens_per_call() -> None:
    quota = Provider(tpm=300 * 500, tokens_per_call=500)
    result = simulate(
        small(
            "tpm", provider=quota, limiter=Limiter(tpm=255 * 500), load=SHORT_DAY, drain_seconds=600
        )
    )

    assert result.call_limit_per_minute == 300
    assert result.totals.provider_throttled == 0
    assert result.busiest_60s_attempts <= 300


def test_concurrency_never_exceeds_each_lanes_maximum_concurrency() -> None:
    # GIVEN more load than the lanes' ceilings can carry
    busy = replace(SMALL_DAY, jobs_per_day=80_000)
    result = simulate(small("capped", load=busy))

    per_lane_peak = result.minute_concurrency.max(axis=1)
    assert per_lane_peak.tolist() == list(MAPPING.maximum_concurrency)  # reached, not passed
    assert max(result.age_percentile(h, 0.99) or 0 for h in range(24)) > 60  # jobs waited


def test_the_account_quota_caps_all_lanes_together() -> None:
    busy = replace(SMALL_DAY, jobs_per_day=80_000)
    result = simulate(small("account", load=busy, account_concurrency=6))

    assert result.minute_total_concurrency.max() == 6


def test_provisioned_mode_scales_to_ten_invokes_per_poller() -> None:
    busy = replace(SMALL_DAY, jobs_per_day=200_000)
    mapping = replace(MAPPING, provisioned_pollers=(2, 2))
    result = simulate(small("provisioned", load=busy, mapping=mapping))

    # MaximumConcurrency (3/8/2 here) does not apply in provisioned mode: 2 pollers x 10
    # invokes per lane is the ceiling, and the busy lane reaches it
    peaks = result.minute_concurrency.max(axis=1).tolist()
    assert max(peaks) == 20
    assert peaks[1] == 20


def test_the_first_batches_start_at_five_and_the_mapping_ramps_up_from_there() -> None:
    # GIVEN a backlog from the first second and a high MaximumConcurrency
    burst = Load(jobs_per_day=200_000, day_seconds=600, peak_to_trough=1.0, hours=24)
    mapping = Mapping(batch_size=10, maximum_concurrency=(2, 1000, 2))
    result = simulate(small("ramp", load=burst, mapping=mapping, drain_seconds=0))

    normal = result.minute_concurrency[1]
    # 5 at once, then up to 300 more a minute (5 a second)
    assert 5 < normal[0] <= 5 + 300
    assert normal[1] <= normal[0] + 300


def test_cost_is_positive_and_grows_with_the_jobs() -> None:
    one = cost_per_day(simulate(small("x1")))
    two = cost_per_day(simulate(small("x2", load=replace(SMALL_DAY, jobs_per_day=40_000))))

    assert one["total"] > 0
    assert all(value >= 0 for value in one.values())
    assert 1.6 < two["total"] / one["total"] < 2.4


def test_bigger_batches_cost_less_worker_time_per_job() -> None:
    load = replace(SMALL_DAY, jobs_per_day=100_000)
    small_batches = simulate(small("b10", load=load, mapping=Mapping(10, (50, 50, 50))))
    big_batches = simulate(
        small(
            "b50",
            load=load,
            mapping=Mapping(50, (50, 50, 50)),
            worker=Worker(max_concurrency=50),
        )
    )

    assert big_batches.totals.worker_busy_seconds < small_batches.totals.worker_busy_seconds
    assert big_batches.totals.invocations < small_batches.totals.invocations


def test_queue_age_percentiles_are_reported_for_every_hour_with_traffic() -> None:
    result = simulate(small("ages"))

    for hour in range(24):
        p50 = result.age_percentile(hour, 0.5)
        p99 = result.age_percentile(hour, 0.99)
        assert p50 is not None
        assert p99 is not None
        assert p50 <= p99


def test_gcra_admits_a_burst_then_one_per_interval() -> None:
    # 60 per minute: one a second, 10 s of burst
    gcra = _Gcra(per_minute=60, burst_seconds=10)

    waits, retry_after = gcra.schedule(0.0, 12, share=1.0, max_wait=2.0)

    # ten at once (the burst), then the 11th after 1 s and the 12th after 2 s
    assert waits.tolist() == pytest.approx([0.0] * 10 + [1.0, 2.0])
    assert retry_after == pytest.approx(3.0)
    assert not gcra.admit_all(0.0, 1, share=1.0)
    assert gcra.admit_all(12.0, 1, share=1.0)


def test_gcra_leaves_a_lower_priority_less_of_the_burst() -> None:
    gcra = _Gcra(per_minute=60, burst_seconds=10)

    waits, _ = gcra.schedule(0.0, 10, share=0.5, max_wait=0.0)

    assert len(waits) == 5  # low: half the burst


def test_the_models_mirrors_of_the_worker_match_its_code() -> None:
    from worker.services import backoff, model_gate

    assert PRIORITY_SHARE == model_gate.PRIORITY_SHARE
    for retry_after in (0.0, 0.012, 1.0, 2.5, 40.0, 5000.0):
        for jitter in (0.0, 0.5, 0.999):
            expected = backoff.defer_delay_seconds(
                retry_after, jitter=functools.partial(float, jitter)
            )
            assert defer_delay_seconds(retry_after, jitter) == expected
    waits = np.array([0.0, 0.012, 1.0, 2.5, 40.0, 5000.0])
    jitters = np.full(len(waits), 0.7)
    expected_all = [defer_delay_seconds(float(w), 0.7) for w in waits]
    assert defer_delays(waits, jitters).tolist() == expected_all


def test_the_load_is_the_stated_sinusoid() -> None:
    load = Load()

    assert load.rate_at(15 * 3600) == pytest.approx(load.peak_rate)
    assert load.rate_at(3 * 3600) == pytest.approx(load.peak_rate / load.peak_to_trough)
    mean = sum(load.rate_at(s) for s in range(0, 86_400, 60)) / 1440
    assert mean == pytest.approx(load.mean_rate)
    assert math.isclose(load.mean_rate * 86_400, 10_000_000)
