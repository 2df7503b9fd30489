"""The settings the scale model recommends, and its whole run on a small compressed day."""

from __future__ import annotations

from pathlib import Path

from bench import scale, scale_report
from bench.scale_model import LIMITER_SHARE_OF_QUOTA, Load, Mapping, Worker
from bench.scale_plan import LARGEST_MEASURED_BATCH, QUOTA_BOUND_USE, plan


def test_the_plan_picks_the_cheapest_measured_batch_and_sizes_quotas_above_the_peak() -> None:
    load = Load()
    the_plan = plan(load, Worker(), tokens_per_call=500)

    assert the_plan.batch_size <= LARGEST_MEASURED_BATCH
    costs = {o.batch_size: o.infra_per_million for o in the_plan.options}
    assert costs[the_plan.batch_size] == min(
        cost for size, cost in costs.items() if size <= LARGEST_MEASURED_BATCH
    )
    assert the_plan.worker_max_concurrency >= the_plan.batch_size
    Mapping(the_plan.batch_size, the_plan.maximum_concurrency)  # within 2..1000
    assert the_plan.limiter_rpm == int(the_plan.provider_rpm * LIMITER_SHARE_OF_QUOTA)
    assert the_plan.limiter_rpm > the_plan.peak_calls_per_minute > load.peak_rate * 60
    assert the_plan.provider_tpm >= the_plan.provider_rpm * 500
    # every lane at its ceiling stays within what the limiter can feed, with room to spare
    assert the_plan.ceiling_calls_per_minute <= the_plan.limiter_rpm * QUOTA_BOUND_USE
    assert the_plan.account_concurrency_to_request is None  # 10 M a day fits in 1,000


def test_a_much_bigger_load_asks_for_more_lambda_concurrency() -> None:
    the_plan = plan(Load(jobs_per_day=400_000_000), Worker(), tokens_per_call=500)

    assert the_plan.account_concurrency_to_request is not None
    assert the_plan.account_concurrency_to_request > the_plan.peak_lambda_concurrency


def test_the_scale_run_writes_its_chart_and_summary(tmp_path: Path) -> None:
    small_day = Load(jobs_per_day=30_000, day_seconds=2_400)

    summary = scale.run(tmp_path, load=small_day)

    assert (tmp_path / "scale.png").read_bytes()[:4] == b"\x89PNG"
    scenarios = summary["scenarios"]
    assert list(scenarios) == [
        "stack defaults",
        "recommended",
        "short quota, limiter, fitted",
        "short quota, limiter, oversized",
        "short quota, no limiter",
        "recommended, provisioned mode",
    ]
    for name, figures in scenarios.items():
        assert figures["completed"] + figures["left_at_end"] == figures["submitted"], name
        assert figures["cost_per_day"]["total"] > 0, name
    assert scenarios["recommended"]["provider_429s"] == 0
    assert scenarios["short quota, limiter, fitted"]["provider_429s"] == 0
    assert scenarios["short quota, no limiter"]["provider_429s"] > 0
    lines = scale_report.rows({**summary, "runtime_s": 1.0})
    assert any(line.startswith("recommended: batch size") for line in lines)
