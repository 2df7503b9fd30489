"""The scale model's printed rows and its chart (bench/results/scale.png)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from bench.scale_sim import SimulationResult

# Targets for the scale figures kept in the history: the run must stay well under a minute,
# the recommended settings must keep jobs moving.
TARGETS = {
    "scale: simulation runtime s": 60.0,
    "scale: recommended worst-hour queue age p99 s": 60.0,
}


def headline(summary: dict[str, Any]) -> dict[str, float | None]:
    """The scale figures worth watching run after run."""
    recommended = summary.get("scenarios", {}).get("recommended", {})
    return {
        "scale: simulation runtime s": summary.get("runtime_s"),
        "scale: recommended worst-hour queue age p99 s": recommended.get(
            "worst_hour_queue_age_p99_s"
        ),
        "scale: recommended $ per million jobs": recommended.get("cost_per_day", {}).get(
            "per_million_jobs"
        ),
        "scale: recommended peak Lambda concurrency": recommended.get("peak_concurrency"),
    }


def rows(summary: dict[str, Any]) -> list[str]:
    """Scenario by scenario, then the recommended settings."""
    lines = [
        "scale model (uv run bench scale): 10 M jobs a day, "
        f"simulated in {summary.get('runtime_s', '-')} s",
        f"{'scenario':<32}{'done/submitted':>17}{'age p50/p99 s':>16}{'worst h p99':>12}"
        f"{'conc':>6}{'calls/limit':>13}{'429s':>10}{'deferred':>10}{'$/M':>8}",
    ]
    for name, scenario in summary.get("scenarios", {}).items():
        limit = scenario["call_limit_per_minute"]
        calls = f"{scenario['busiest_60s_calls'] / limit:.2f}" if limit else "-"
        lines.append(
            f"{name:<32}"
            f"{scenario['completed'] / 1e6:>8.2f}/{scenario['submitted'] / 1e6:.2f} M"
            f"{_age(scenario['queue_age_p50_s']):>8}/{_age(scenario['queue_age_p99_s']):<7}"
            f"{_age(scenario['worst_hour_queue_age_p99_s']):>12}"
            f"{scenario['peak_concurrency']:>6}{calls:>13}{scenario['provider_429s']:>10}"
            f"{scenario['deferrals']:>10}{scenario['cost_per_day']['per_million_jobs']:>8.2f}"
        )
    plan = summary.get("plan")
    if plan:
        request = plan["account_concurrency_to_request"]
        lines += [
            f"recommended: batch size {plan['batch_size']}, WORKER_MAX_CONCURRENCY "
            f"{plan['worker_max_concurrency']}, MaximumConcurrency high/normal/low "
            f"{'/'.join(str(c) for c in plan['maximum_concurrency'])}; ask the provider for "
            f"{plan['provider_rpm']:,} RPM / {plan['provider_tpm']:,} TPM, limiter "
            f"{plan['limiter_rpm']:,} RPM; Lambda concurrency: peak "
            f"{plan['peak_lambda_concurrency']}, "
            + ("the default 1,000 is enough" if request is None else f"request {request:,}"),
        ]
    return lines


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds >= 3600:
        return f"{seconds / 3600:.1f}h"
    if seconds >= 100:
        return f"{seconds / 60:.0f}m"
    return f"{seconds:.0f}"


def chart(results: list[SimulationResult], path: Path) -> Path:
    """Six panels: jobs per second, queue age per hour, Lambda concurrency and provider calls
    for the whole-day scenarios; provider calls in the busiest hours and cost per job for all."""
    import matplotlib

    matplotlib.use("Agg")  # no display here or in CI
    import matplotlib.pyplot as plt

    day = [r for r in results if r.scenario.load.hours >= 24]
    window = [r for r in results if r.scenario.name.startswith("short quota")]
    fig, axes = plt.subplots(2, 3, figsize=(17, 9))
    (flow, age, concurrency), (calls, quota, cost) = axes
    for result in day:
        hours = _minute_hours(result)
        name = result.scenario.name
        flow.plot(hours, result.minute_arrivals / 60, color="grey", linewidth=0.8)
        flow.plot(hours, result.minute_accepted / 60, label=f"{name}: served", linewidth=0.8)
        per_hour = np.arange(len(result.age_histogram))
        for fraction, style in ((0.5, "-"), (0.99, "--")):
            values = [result.age_percentile(int(h), fraction) for h in per_hour]
            age.plot(
                per_hour + 0.5,
                [np.nan if v is None else max(v, 0.5) for v in values],
                style,
                label=f"{name} p{round(fraction * 100)}",
            )
        concurrency.plot(hours, result.minute_total_concurrency, label=name, linewidth=0.8)
        calls.plot(hours, result.minute_attempts, label=name, linewidth=0.8)
        if result.call_limit_per_minute:
            calls.axhline(result.call_limit_per_minute, color="black", linestyle=":")
    flow.set(title="submitted (grey) and served, jobs/s", xlabel="hour of day")
    age.set(title="queue age per hour, s (log)", xlabel="hour of day", yscale="log")
    concurrency.set(title="Lambda concurrency (worker, all lanes)", xlabel="hour of day")
    calls.set(title="provider calls per minute (dotted: quota)", xlabel="hour of day")
    for result in window:
        hours = _minute_hours(result) + result.scenario.load.start_hour
        quota.plot(hours, result.minute_attempts, label=result.scenario.name, linewidth=0.8)
    if window and window[0].call_limit_per_minute:
        quota.axhline(window[0].call_limit_per_minute, color="black", linestyle=":")
    quota.set(
        title="busiest hours: provider calls/min incl. 429s (dotted: short quota)",
        xlabel="hour of day",
        yscale="log",
    )
    names = [r.scenario.name for r in results]
    per_million = [_per_million(r) for r in results]
    bars = cost.barh(names, per_million, color="tab:blue")
    cost.bar_label(bars, fmt="$%.2f", fontsize=8)
    cost.set(title="infrastructure $ per million jobs finished")
    cost.invert_yaxis()
    for axis in (flow, age, concurrency, calls, quota):
        axis.legend(fontsize=7)
        axis.grid(alpha=0.3)
    fig.suptitle("scale model: 10 million jobs a day (bench/src/bench/scale.py)", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _minute_hours(result: SimulationResult) -> Any:
    return (np.arange(len(result.minute_attempts)) + 0.5) * 60 / result.hour_seconds


def _per_million(result: SimulationResult) -> float:
    from bench.scale_cost import cost_per_day

    return float(cost_per_day(result)["per_million_jobs"])
