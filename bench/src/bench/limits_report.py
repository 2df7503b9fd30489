"""The limits benchmark's printed rows and its chart (bench/results/limits.png), both read from
the results JSON alone, so a carried-over run prints and draws the same."""

from __future__ import annotations

from pathlib import Path
from typing import Any

LANES = (
    ("idle_high", "high, idle system"),
    ("high_behind_backlog", "high, behind the low backlog"),
    ("low_backlog", "low backlog"),
)


def rows(limits: dict[str, Any]) -> list[str]:
    """What the quota and lanes runs measured, as lines under the headline table."""
    lines: list[str] = []
    if quota := limits.get("quota"):
        lines += _quota_rows(quota, f"{limits.get('date', '')}, {limits.get('machine', '')}")
    if lanes := limits.get("lanes"):
        lines += _lanes_rows(lanes)
    return lines


def _quota_rows(q: dict[str, Any], date: str) -> list[str]:
    statuses = ", ".join(f"{n} {status}" for status, n in sorted(q["statuses"].items()))
    metrics = q["worker_metrics"]
    return [
        f"limits, quota run ({date}): {q['jobs']} jobs at once; worker limit"
        f" {q['rpm_limit']} rpm; provider {q['provider_quota']} per {q['provider_window_s']:g} s,"
        f" {q['llm_latency_s']:g} s a call",
        f"  jobs: {statuses or 'none finished'}; unfinished {q['unfinished']}; DLQ"
        f" {q['dlq_messages']}; all done {q['total_s']:g} s after the first submit"
        f" (submitting took {q['submit_s']:g} s)",
        f"  provider: {q['provider_calls']} calls, {q['provider_429']} answered 429"
        f" ({q['provider_429_pct']:g} %); busiest 60 s: {q['busiest_60s_calls']} calls"
        f" ({q['busiest_60s_over_limit']:g}x the limit, {q['busiest_60s_over_quota']:g}x the"
        f" quota; {q['busiest_60s_accepted']} accepted)",
        "  calls per 10 s: " + " ".join(str(n) for n in q["calls_per_10s"]),
        f"  worker: {metrics['JobsDeferred']} deferrals, {metrics['ProviderThrottled']} 429s"
        f" seen, {metrics['JobsRetried']} retries, {metrics['StaleDeliveries']} stale copies;"
        f" {q['jobs_resent']} jobs re-sent at least once; attempts per job {q['attempts']}",
    ]


def _lanes_rows(lanes: dict[str, Any]) -> list[str]:
    lines = [
        f"limits, lanes: provider {lanes['llm_latency_s']:g} s a call,"
        f" {lanes['lane_concurrency']} batches in flight per lane; time to finish:",
        f"  {'jobs':<34}{'n':>5}{'p50 s':>8}{'p95 s':>8}{'max s':>8}",
    ]
    for key, label in LANES:
        s = lanes[key]
        if s["jobs"]:
            lines.append(
                f"  {label:<34}{s['jobs']:>5}{s['p50_s']:>8g}{s['p95_s']:>8g}{s['max_s']:>8g}"
            )
        else:
            lines.append(f"  {label:<34}{0:>5}")
    ratio = lanes["high_p50_over_idle"]
    lines.append(
        f"  high p50 behind the backlog / idle: {'-' if ratio is None else f'{ratio:g}x'};"
        f" high submitted {lanes['high_submitted_after_s']:g} s after the backlog, last one done"
        f" at {lanes['last_high_done_after_s']:g} s; backlog drained at"
        f" {lanes['low_drained_after_s']:g} s ({lanes['low_finished_after_last_high']} low jobs"
        f" finished after the last high one); unfinished {lanes['unfinished']}"
    )
    return lines


def chart(limits: dict[str, Any], path: Path) -> Path:
    """Left: provider calls per minute over the quota run against the limit and the quota.
    Right: time to finish by lane, as CDFs."""
    import matplotlib

    matplotlib.use("Agg")  # no display here or in CI
    import matplotlib.pyplot as plt

    fig, (calls, lanes) = plt.subplots(1, 2, figsize=(11, 4))
    if quota := limits.get("quota"):
        _calls_panel(calls, quota)
    if lane_results := limits.get("lanes"):
        _lanes_panel(lanes, lane_results)
    stamp = f"{limits.get('date', '')}, {limits.get('machine', '')}"
    fig.suptitle(f"provider limits and priority lanes ({stamp})", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _calls_panel(axis: Any, quota: dict[str, Any]) -> None:
    per_10s = quota["calls_per_10s"]
    throttled = quota["throttled_per_10s"]
    starts = [10 * i for i in range(len(per_10s))]
    accepted = [6 * (n - t) for n, t in zip(per_10s, throttled, strict=True)]
    axis.bar(
        starts,
        accepted,
        width=9,
        align="edge",
        color="tab:blue",
        alpha=0.4,
        label="calls per 10 s, x6",
    )
    axis.bar(
        starts,
        [6 * t for t in throttled],
        width=9,
        align="edge",
        bottom=accepted,
        color="tab:red",
        alpha=0.6,
        label="of which 429, x6",
    )
    trailing = quota["calls_last_60s_every_5s"]
    axis.plot(
        [t for t, _ in trailing],
        [n for _, n in trailing],
        color="tab:blue",
        label="calls in the last 60 s",
    )
    axis.axhline(
        quota["rpm_limit"],
        color="black",
        linestyle="--",
        label=f"LLM_RATE_LIMITS {quota['rpm_limit']} rpm",
    )
    axis.axhline(
        quota["provider_quota"],
        color="tab:red",
        linestyle=":",
        label=f"provider quota {quota['provider_quota']}/60 s",
    )
    highest = max([6 * n for n in per_10s] + [n for _, n in trailing] + [quota["provider_quota"]])
    axis.set_ylim(0, 1.5 * highest)  # room for the legend above the data
    axis.set_xlabel("seconds after the first submit")
    axis.set_ylabel("provider calls per minute")
    axis.set_title(f"quota run: {quota['jobs']} jobs submitted at once", fontsize=9)
    axis.legend(fontsize=7, loc="upper center", ncols=2)


def _lanes_panel(axis: Any, lanes: dict[str, Any]) -> None:
    from matplotlib import ticker

    for key, label in LANES:
        cdf = lanes[key].get("cdf_s") or []
        if cdf:
            fractions = [i / (len(cdf) - 1) for i in range(len(cdf))]
            axis.step(cdf, fractions, where="post", label=f"{label} ({lanes[key]['jobs']})")
    axis.set_xscale("log")  # seconds for the high lane, minutes for the backlog
    axis.xaxis.set_major_locator(ticker.FixedLocator([1, 2, 5, 10, 20, 50, 100, 200, 500]))
    axis.xaxis.set_major_formatter(ticker.ScalarFormatter())
    axis.xaxis.set_minor_formatter(ticker.NullFormatter())
    axis.set_xlabel("time to finish, s (submit to final status; log scale)")
    axis.set_ylabel("fraction of jobs finished")
    axis.set_title("priority lanes: high jobs overtake a low backlog", fontsize=9)
    axis.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncols=3)
