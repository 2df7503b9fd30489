"""The limits benchmark's arithmetic: calls over time, windows, lanes' percentiles, EMF sums."""

from __future__ import annotations

import json

from bench.limits_stats import (
    bucket_counts,
    busiest_window,
    cdf_points,
    emf_totals,
    lane_summary,
    trailing_counts,
)

START = 1_000.0


def test_bucket_counts_puts_each_call_in_its_10_s_bucket_and_drops_the_outside() -> None:
    # GIVEN calls at 0, 9.99, 10, 25 and 30 s (the end: counted in the last bucket), one before
    times = [START - 1, START, START + 9.99, START + 10, START + 25, START + 30]

    counts = bucket_counts(times, START, START + 30)

    assert counts == [2, 1, 2]


def test_bucket_counts_of_an_empty_run_is_one_empty_bucket() -> None:
    assert bucket_counts([], START, START) == [0]


def test_trailing_counts_is_what_a_per_minute_quota_saw_at_each_step() -> None:
    # GIVEN one call a second for 90 s
    times = [START + s for s in range(90)]

    points = dict(trailing_counts(times, START, START + 90, step_seconds=30))

    # THEN at 30 s: calls at 0..30; at 60 s: 1..60 (0 left the window); at 90 s: 31..89
    assert points == {30.0: 31, 60.0: 60, 90.0: 59}


def test_busiest_window_finds_the_densest_60_s_anywhere_in_the_run() -> None:
    # GIVEN 10 calls early, then 30 packed in 20 s later on, then 5 more
    times = [START + s for s in range(10)] + [START + 100 + s / 1.5 for s in range(30)]
    times += [START + 200 + s for s in range(5)]

    assert busiest_window(times, 60.0) == 30
    assert busiest_window(times, 1000.0) == 45


def test_lane_summary_reports_nearest_rank_percentiles_of_time_to_finish() -> None:
    # GIVEN 20 jobs finishing in 1..20 s
    summary = lane_summary([float(s) for s in range(20, 0, -1)])

    assert (summary["jobs"], summary["p50_s"], summary["p95_s"], summary["max_s"]) == (
        20,
        10.0,
        19.0,
        20.0,
    )
    assert summary["cdf_s"][0] == 1.0
    assert summary["cdf_s"][-1] == 20.0
    assert summary["cdf_s"] == sorted(summary["cdf_s"])


def test_lane_summary_of_ten_jobs_has_its_slowest_as_p95() -> None:
    summary = lane_summary([1.0, 1.1, 1.2, 1.3, 1.4, 1.5, 1.6, 1.7, 1.8, 9.0])

    assert summary["p50_s"] == 1.4
    assert summary["p95_s"] == 9.0


def test_lane_summary_of_no_jobs_says_so() -> None:
    assert lane_summary([]) == {"jobs": 0}


def test_cdf_points_has_the_minimum_then_every_quantile_step() -> None:
    points = cdf_points([float(v) for v in range(1, 101)], steps=4)

    assert points == [1.0, 25.0, 50.0, 75.0, 100.0]


def test_emf_totals_sums_each_metric_over_blobs_and_lists_ignoring_other_lines() -> None:
    def blob(**metrics: object) -> str:
        names = [{"Name": name, "Unit": "Count"} for name in metrics]
        directive = {"Namespace": "Dev", "Dimensions": [["service"]], "Metrics": names}
        return json.dumps({"_aws": {"CloudWatchMetrics": [directive]}, "service": "w", **metrics})

    lines = [
        '{"level": "WARNING", "message": "deferred", "job_id": "j1"}',
        blob(JobsDeferred=[1.0, 1.0, 1.0], JobsSucceeded=2.0),
        "devstack ready",
        blob(JobsDeferred=2.0),
        '{"_aws": broken',
    ]

    totals = emf_totals(lines)

    assert totals == {"JobsDeferred": 5.0, "JobsSucceeded": 2.0}
