"""Turn benchmark results into the printed table, latest.json and a PNG chart."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

TARGETS = {
    "worker batch wall / LLM latency (1 s)": 1.2,
    "API p50 / raw boto3 p50 (8 clients)": 1.5,
    "worker package MB unzipped (bytecode)": 150,
    "worker handler import s": 3.0,
    "infra $ per million jobs (2 s LLM)": 5.0,
}


def headline(results: dict[str, Any]) -> dict[str, float | None]:
    """The figures that have targets, read out of the full results (None when not run)."""
    worker = results.get("worker_concurrency", {}).get("1000ms", {})
    api = results.get("api_overhead", {}).get("8_clients", {})
    cold = results.get("cold_start", {}).get("worker_bytecode", {})
    cost = results.get("cost", {}).get("default", {})
    return {
        "worker batch wall / LLM latency (1 s)": worker.get("batch_over_latency"),
        "API p50 / raw boto3 p50 (8 clients)": api.get("p50_overhead_ratio"),
        "worker package MB unzipped (bytecode)": cold.get("unzipped_mb"),
        "worker handler import s": cold.get("import_median_s"),
        "infra $ per million jobs (2 s LLM)": cost.get("total"),
    }


def table(results: dict[str, Any]) -> str:
    lines = [f"{'figure':<44}{'measured':>12}{'target':>10}  met", "-" * 72]
    for name, value in headline(results).items():
        target = TARGETS[name]
        shown = "-" if value is None else f"{value:g}"
        met = "" if value is None else ("yes" if value <= target else "NO")
        lines.append(f"{name:<44}{shown:>12}{target:>10g}  {met}")
    return "\n".join(lines)


def write(results: dict[str, Any], out_dir: Path) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path = out_dir / "latest.json"
    json_path.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return json_path, _chart(results, out_dir / "latest.png")


def _chart(results: dict[str, Any], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")  # no display here or in CI
    import matplotlib.pyplot as plt

    figures = {k: v for k, v in headline(results).items() if v is not None}
    fig, axes = plt.subplots(1, max(1, len(figures)), figsize=(3.2 * max(1, len(figures)), 3.6))
    axes_list = axes if len(figures) > 1 else [axes]
    for axis, (name, value) in zip(axes_list, figures.items(), strict=False):
        target = TARGETS[name]
        axis.bar(["measured"], [value], color="tab:green" if value <= target else "tab:red")
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
