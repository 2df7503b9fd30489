"""The limits benchmark's arithmetic, kept free of I/O so it is unit-tested: provider calls over
time, time to finish by lane, and the worker's EMF counters read back from its log."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from typing import Any

from bench.support import percentile
from devstack.fake_llm import busiest_window

__all__ = [
    "bucket_counts",
    "busiest_window",
    "cdf_points",
    "emf_totals",
    "lane_summary",
    "trailing_counts",
]

CDF_STEPS = 20  # quantiles kept per lane: every 5 %, enough to draw the curve from the JSON


def bucket_counts(
    times: Iterable[float], start: float, end: float, bucket_seconds: float = 10.0
) -> list[int]:
    """Calls per ``bucket_seconds`` from ``start`` (epoch seconds) to ``end`` (included, in the
    last bucket); calls outside that span are left out."""
    buckets = [0] * max(1, math.ceil((end - start) / bucket_seconds))
    for at in times:
        if start <= at <= end:
            buckets[min(int((at - start) // bucket_seconds), len(buckets) - 1)] += 1
    return buckets


def trailing_counts(
    times: Iterable[float],
    start: float,
    end: float,
    step_seconds: float = 5.0,
    window_seconds: float = 60.0,
) -> list[tuple[float, int]]:
    """(seconds after ``start``, calls in the ``window_seconds`` before it) every step: what a
    provider counting "requests per minute" saw at that moment."""
    ordered = sorted(times)
    points: list[tuple[float, int]] = []
    steps = max(1, math.ceil((end - start) / step_seconds))
    for index in range(1, steps + 1):
        at = start + index * step_seconds
        count = sum(1 for call in ordered if at - window_seconds < call <= at)
        points.append((round(index * step_seconds, 1), count))
    return points


def cdf_points(values: list[float], steps: int = CDF_STEPS) -> list[float]:
    """The 0, 1/steps, ..., 100 % nearest-rank quantiles (the minimum first): a compact CDF."""
    if not values:
        return []
    ordered = sorted(values)
    quantiles = [ordered[0]] + [percentile(ordered, i / steps) for i in range(1, steps + 1)]
    return [round(value, 2) for value in quantiles]


def lane_summary(seconds: list[float]) -> dict[str, Any]:
    """Time to finish (submit to final status) of one group of jobs: p50, p95, max and a CDF."""
    if not seconds:
        return {"jobs": 0}
    return {
        "jobs": len(seconds),
        "p50_s": round(percentile(seconds, 0.50), 2),
        "p95_s": round(percentile(seconds, 0.95), 2),
        "max_s": round(max(seconds), 2),
        "cdf_s": cdf_points(seconds),
    }


def emf_totals(lines: Iterable[str]) -> dict[str, float]:
    """Every EMF metric summed over the log lines that carry one (Powertools prints one JSON
    blob per flush; a metric added several times in one flush is a list of values)."""
    totals: dict[str, float] = {}
    for line in lines:
        if '"_aws"' not in line or not line.lstrip().startswith("{"):
            continue
        try:
            blob = json.loads(line)
        except json.JSONDecodeError:
            continue
        for directive in blob.get("_aws", {}).get("CloudWatchMetrics", []):
            for metric in directive.get("Metrics", []):
                value = blob.get(metric.get("Name"))
                values = value if isinstance(value, list) else [value]
                numbers = [v for v in values if isinstance(v, int | float)]
                totals[metric["Name"]] = totals.get(metric["Name"], 0) + sum(numbers)
    return totals
