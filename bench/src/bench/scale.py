"""``uv run bench scale``: 10 million jobs a day on paper. Plans the settings for the load
(bench.scale_plan), simulates the day with them and with the stack's defaults, and the
busiest hours with a provider quota 30 % short of the peak: with our limiter and concurrency
fitted to the quota, with the limiter and concurrency sized for the load, without the limiter.
Writes bench/results/scale.png; returns the summary stored in latest.json."""

from __future__ import annotations

import math
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from bench.scale_cost import cost_per_day
from bench.scale_model import (
    ESM_MAX_CONCURRENCY,
    ESM_RAMP_PER_MINUTE,
    ESM_START_CONCURRENCY,
    LIMITER_SHARE_OF_QUOTA,
    MAX_POLLERS_RANGE,
    MAXIMUM_CONCURRENCY_RANGE,
    MIN_POLLERS_RANGE,
    PROVISIONED_INVOKES_PER_POLLER,
    PROVISIONED_RAMP_PER_MINUTE,
    Limiter,
    Load,
    Mapping,
    Provider,
    Scenario,
    Worker,
)
from bench.scale_plan import QUOTA_BOUND_USE, Plan, plan
from bench.scale_sim import SimulationResult, simulate

SOURCES = {
    "esm_scaling": "https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html",
    "maximum_concurrency": "https://docs.aws.amazon.com/AWSCloudFormation/latest/"
    "TemplateReference/aws-properties-lambda-eventsourcemapping-scalingconfig.html",
    "provisioned_pollers": "https://docs.aws.amazon.com/lambda/latest/dg/"
    "services-sqs-parameters.html",
    "provisioned_scaling": "https://aws.amazon.com/blogs/aws/aws-lambda-enhances-sqs-processing"
    "-with-new-provisioned-mode-3x-faster-scaling-16x-higher-capacity",
    "lambda_quotas": "https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html",
    "sqs_quotas": "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/"
    "quotas-queues.html",
    "dynamodb_quotas": "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/"
    "ServiceQuotas.html",
    "dynamodb_partition": "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/"
    "warm-throughput-scenarios.html",
}
# The quota scenarios: a provider quota this share of what the peak needs, over the busiest
# hours (the whole day's churn takes minutes to simulate).
SHORT_QUOTA_SHARE = 0.7
PEAK_WINDOW_HOURS = 4.0
# DynamoDB: one partition takes at most 1,000 writes a second (dynamodb_partition above); each
# limiter key is one item, so one partition.
PARTITION_WRITES_PER_SECOND = 1000


def scenarios(the_plan: Plan, load: Load, worker: Worker, tokens: int) -> list[Scenario]:
    """The stack's defaults and the plan over the day; over the busiest hours, a provider quota
    SHORT_QUOTA_SHARE of the peak's need with our limiter and concurrency fitted to the quota,
    with the limiter but concurrency sized for the load, and without the limiter."""
    quota = Provider(rpm=the_plan.provider_rpm, tpm=the_plan.provider_tpm, tokens_per_call=tokens)
    tuned_worker = replace(worker, max_concurrency=the_plan.worker_max_concurrency)
    tuned = Mapping(
        batch_size=the_plan.batch_size, maximum_concurrency=the_plan.maximum_concurrency
    )
    peak = replace(load, start_hour=load.peak_hour - PEAK_WINDOW_HOURS / 2, hours=PEAK_WINDOW_HOURS)
    short_rpm = int(the_plan.peak_calls_per_minute * SHORT_QUOTA_SHARE)
    short = Provider(rpm=short_rpm, tokens_per_call=tokens)
    limiter = Limiter(rpm=int(short_rpm * LIMITER_SHARE_OF_QUOTA))
    fitted = Mapping(
        batch_size=the_plan.batch_size,
        maximum_concurrency=fit_lanes(
            int(quota_bound(limiter.rpm or short_rpm, the_plan) * QUOTA_BOUND_USE),
            load.lane_shares,
        ),
    )

    def short_quota(name: str, mapping: Mapping, limiter: Limiter) -> Scenario:
        return Scenario(
            name, load=peak, mapping=mapping, worker=tuned_worker, provider=short, limiter=limiter
        )

    return [
        Scenario("stack defaults", load=load, worker=worker, provider=quota),
        Scenario("recommended", load=load, mapping=tuned, worker=tuned_worker, provider=quota),
        short_quota("short quota, limiter, fitted", fitted, limiter),
        short_quota("short quota, limiter, oversized", tuned, limiter),
        short_quota("short quota, no limiter", tuned, Limiter(enabled=False)),
        Scenario(
            "recommended, provisioned mode",
            load=peak,
            mapping=replace(tuned, provisioned_pollers=provisioned_pollers(the_plan)),
            worker=tuned_worker,
            provider=quota,
        ),
    ]


def provisioned_pollers(the_plan: Plan) -> tuple[int, int]:
    """(MinimumPollers, MaximumPollers) for provisioned mode: the fewest allowed, and enough
    for the busiest lane's ceiling; each lane gets them (MaximumConcurrency does not apply)."""
    busiest = max(the_plan.maximum_concurrency)
    return MIN_POLLERS_RANGE[0], max(
        MAX_POLLERS_RANGE[0], math.ceil(busiest / PROVISIONED_INVOKES_PER_POLLER)
    )


def quota_bound(limiter_rpm: int, the_plan: Plan) -> int:
    """Invocations a limiter of ``limiter_rpm`` keeps busy (Little's law): more only spin."""
    per_batch = next(
        option.wall_mean_seconds / option.batch_size
        for option in the_plan.options
        if option.batch_size == the_plan.batch_size
    )
    return max(1, math.ceil(limiter_rpm / 60 * per_batch))


def fit_lanes(total: int, shares: tuple[float, float, float]) -> tuple[int, int, int]:
    """Split ``total`` concurrency over the lanes by their traffic (each at least 2)."""
    low_bound = MAXIMUM_CONCURRENCY_RANGE[0]
    high = max(low_bound, round(total * shares[0]))
    low = max(low_bound, round(total * shares[2]))
    return high, max(low_bound, total - high - low), low


def run(out_dir: Path, *, load: Load | None = None, worker: Worker | None = None) -> dict[str, Any]:
    """Plan, simulate, chart; the summary for latest.json."""
    started = time.perf_counter()
    load = load or Load()
    worker = worker or Worker()
    tokens = Provider().tokens_per_call
    the_plan = plan(load, worker, tokens)
    results: list[SimulationResult] = []
    for scenario in scenarios(the_plan, load, worker, tokens):
        scenario = replace(scenario, limiter=_limiter(scenario))
        print(f"  simulating {scenario.name} ...", file=sys.stderr, flush=True)
        results.append(simulate(scenario))
    from bench import scale_report

    chart = scale_report.chart(results, out_dir / "scale.png")
    return {
        "plan": the_plan.as_dict(),
        "scenarios": {result.scenario.name: summarise(result) for result in results},
        "model": model_description(load, worker, tokens),
        "sources": SOURCES,
        "chart": chart.name,
        "runtime_s": round(time.perf_counter() - started, 1),
    }


def _limiter(scenario: Scenario) -> Limiter:
    """A scenario without its own limiter gets the recommended one (85 % of the quota)."""
    if not scenario.limiter.enabled or scenario.limiter.rpm or scenario.limiter.tpm:
        return scenario.limiter
    return scenario.limiter_for_quota()


def summarise(result: SimulationResult) -> dict[str, Any]:
    """One scenario's figures, small enough for latest.json (hourly rows, not minutes)."""
    totals = result.totals
    scenario = result.scenario
    hours = []
    for hour in range(len(result.age_histogram)):
        p50 = result.age_percentile(hour, 0.5)
        if p50 is None:
            continue
        minute_slice = slice(
            int(hour * result.hour_seconds // 60), int((hour + 1) * result.hour_seconds // 60)
        )
        hours.append(
            {
                "hour": round(scenario.load.start_hour + hour, 2),
                "queue_age_p50_s": p50,
                "queue_age_p99_s": result.age_percentile(hour, 0.99),
                "max_concurrency": int(
                    result.minute_total_concurrency[minute_slice].max(initial=0)
                ),
                "max_calls_per_minute": int(result.minute_attempts[minute_slice].max(initial=0)),
            }
        )
    return {
        "settings": {
            "jobs_per_day": scenario.load.jobs_per_day,
            "hours": [scenario.load.start_hour, scenario.load.start_hour + scenario.load.hours],
            "batch_size": scenario.mapping.batch_size,
            "maximum_concurrency": list(scenario.mapping.maximum_concurrency),
            "provisioned_pollers": scenario.mapping.provisioned_pollers,
            "worker_max_concurrency": scenario.worker.max_concurrency,
            "provider": asdict(scenario.provider),
            "limiter": asdict(scenario.limiter),
        },
        "submitted": totals.submitted,
        "completed": totals.completed,
        "left_at_end": result.queued + result.in_flight,
        "deferrals": totals.deferrals,
        "provider_429s": totals.provider_throttled,
        "in_process_retries": totals.in_process_retries,
        "provider_calls": totals.provider_attempts,
        "call_limit_per_minute": result.call_limit_per_minute,
        "busiest_60s_calls": result.busiest_60s_attempts,
        "peak_concurrency": int(result.minute_total_concurrency.max(initial=0)),
        "cold_starts": totals.cold_starts,
        "invocations": totals.invocations,
        "batch_wall_p50_s": round(result.batch_percentile(0.5), 2),
        "batch_wall_p99_s": round(result.batch_percentile(0.99), 2),
        "queue_age_p50_s": result.overall_age_percentile(0.5),
        "queue_age_p99_s": result.overall_age_percentile(0.99),
        "worst_hour_queue_age_p99_s": max((h["queue_age_p99_s"] or 0) for h in hours)
        if hours
        else None,
        "limiter_writes": totals.limiter_writes,
        "peak_limiter_item_writes_per_s": result.peak_limiter_item_writes_per_second,
        "cost_per_day": cost_per_day(result),
        "hours": hours,
        "simulated_in_s": round(result.wall_seconds, 1),
    }


def model_description(load: Load, worker: Worker, tokens: int) -> dict[str, Any]:
    return {
        "load": {
            **asdict(load),
            "mean_per_s": round(load.mean_rate, 1),
            "peak_per_s": round(load.peak_rate, 1),
        },
        "worker": asdict(worker),
        "tokens_per_call": tokens,
        "esm_standard": {
            "start_concurrency": ESM_START_CONCURRENCY,
            "ramp_per_minute": ESM_RAMP_PER_MINUTE,
            "max_concurrency": ESM_MAX_CONCURRENCY,
        },
        "esm_provisioned": {
            "invokes_per_poller": PROVISIONED_INVOKES_PER_POLLER,
            "ramp_per_minute": PROVISIONED_RAMP_PER_MINUTE,
        },
        "limiter_share_of_quota": LIMITER_SHARE_OF_QUOTA,
        "short_quota_share": SHORT_QUOTA_SHARE,
        "peak_window_hours": PEAK_WINDOW_HOURS,
        "partition_writes_per_s": PARTITION_WRITES_PER_SECOND,
    }
