"""Turn benchmark results into the printed table, latest.json and a PNG chart."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench import limits_report, scale_report
from bench.charts import panel_grid
from bench.cost import curve_rows

TARGETS = {
    "worker batch wall / LLM latency (1 s)": 1.2,
    "API p50 / raw boto3 p50 (8 clients)": 1.5,
    "worker package MB unzipped (bytecode)": 150,
    "worker handler import s": 3.0,
    "infra $ per million jobs (2 s LLM)": 5.0,
    # Issue 12's bars, from the opt-in limits run: under a provider quota of 240 calls in any
    # 60 s with the worker limited to 200 rpm, at most 2 % of calls get a 429 and no minute goes
    # over the quota; high-priority jobs behind a low backlog keep p50 within 3x of an idle one.
    "limits: provider 429s, % of calls": 2.0,
    "limits: busiest 60 s calls / provider quota": 1.0,
    "lanes: high p50 behind backlog / idle": 3.0,
}


# The sections that measure each figure: a run's history line holds only what it measured
# (a figure missing here is taken as measured by any run of the default sections).
FIGURE_SECTIONS: dict[str, tuple[str, ...]] = {
    "worker batch wall / LLM latency (1 s)": ("worker",),
    "API p50 / raw boto3 p50 (8 clients)": ("api",),
    "worker package MB unzipped (bytecode)": ("cold",),
    "worker handler import s": ("cold",),
    "infra $ per million jobs (2 s LLM)": ("worker", "api"),
    "limits: provider 429s, % of calls": ("limits",),
    "limits: busiest 60 s calls / provider quota": ("limits",),
    "lanes: high p50 behind backlog / idle": ("limits",),
}


def measured(
    results: dict[str, Any], sections: list[str], default_sections: tuple[str, ...]
) -> dict[str, float | None]:
    """The figures this run's ``sections`` measured, for the history (bench.history)."""
    ran_default = bool(set(sections) & set(default_sections))
    figures = {
        name: value
        for name, value in headline(results).items()
        if (set(FIGURE_SECTIONS[name]) & set(sections) if name in FIGURE_SECTIONS else ran_default)
    }
    if "scale" in sections and "scale" in results:
        figures |= scale_report.headline(results["scale"])
    return figures


def history_targets() -> dict[str, float]:
    return TARGETS | scale_report.TARGETS


def headline(results: dict[str, Any]) -> dict[str, float | None]:
    """The figures that have targets, read out of the full results (None when not run)."""
    worker = results.get("worker_concurrency", {}).get("1000ms", {})
    api = results.get("api_overhead", {}).get("8_clients", {})
    cold = results.get("cold_start", {}).get("worker_bytecode", {})
    cost = results.get("cost", {}).get("default", {})
    quota = results.get("limits", {}).get("quota", {})
    lanes = results.get("limits", {}).get("lanes", {})
    return {
        "worker batch wall / LLM latency (1 s)": worker.get("batch_over_latency"),
        "API p50 / raw boto3 p50 (8 clients)": api.get("p50_overhead_ratio"),
        "worker package MB unzipped (bytecode)": cold.get("unzipped_mb"),
        "worker handler import s": cold.get("import_median_s"),
        "infra $ per million jobs (2 s LLM)": cost.get("total"),
        "limits: provider 429s, % of calls": quota.get("provider_429_pct"),
        "limits: busiest 60 s calls / provider quota": quota.get("busiest_60s_over_quota"),
        "lanes: high p50 behind backlog / idle": lanes.get("high_p50_over_idle"),
    }


def table(results: dict[str, Any]) -> str:
    lines = [f"{'figure':<44}{'measured':>12}{'target':>10}  met", "-" * 72]
    for name, value in headline(results).items():
        target = TARGETS[name]
        shown = "-" if value is None else f"{value:g}"
        met = "" if value is None else ("yes" if value <= target else "NO")
        lines.append(f"{name:<44}{shown:>12}{target:>10g}  {met}")
    if "curve" in results.get("cost", {}):
        lines += ["", *curve_rows(results["cost"]["curve"])]
    if "limits" in results:
        lines += ["", *limits_report.rows(results["limits"])]
    if "scale" in results:
        lines += ["", *scale_report.rows(results["scale"])]
    return "\n".join(lines)


def write(results: dict[str, Any], out_dir: Path) -> list[Path]:
    """latest.json, latest.png and, once the limits section has run, limits.png (the scale
    section draws scale.png itself: its chart needs the per-minute series)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path = out_dir / "latest.json"
    json_path.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    written = [json_path, _chart(results, out_dir / "latest.png")]
    if "limits" in results:
        written.append(limits_report.chart(results["limits"], out_dir / "limits.png"))
    return written


def _chart(results: dict[str, Any], path: Path) -> Path:
    figures = {k: v for k, v in headline(results).items() if v is not None}
    fig, axes = panel_grid(len(figures), max_columns=5, cell=(3.2, 3.6))
    import matplotlib.pyplot as plt  # after panel_grid chose the Agg backend

    for axis, (name, value) in zip(axes, figures.items(), strict=False):
        target = TARGETS[name]
        bars = axis.bar(["measured"], [value], color="tab:green" if value <= target else "tab:red")
        axis.bar_label(bars, fmt="%g", fontsize=8)  # a zero (no 429s) is otherwise invisible
        axis.axhline(target, color="black", linestyle="--", label=f"target {target:g}")
        axis.set_title(name, fontsize=8, wrap=True)
        axis.legend(fontsize=7)
    fig.suptitle(
        f"gen-ai-on-aws benchmarks ({results.get('date', '')}, {results.get('machine', '')})",
        fontsize=9,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
