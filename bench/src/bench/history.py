"""The bench's memory: every run appends one line to bench/results/history.jsonl (when, on
what machine, at which commit, and the headline figures that run measured), and
history.png draws each figure over the runs against its target, so a regression shows as a
step rather than hiding in the latest numbers."""

from __future__ import annotations

import datetime
import json
import math
import subprocess
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from bench.charts import panel_grid

HISTORY_FILE = "history.jsonl"
HISTORY_CHART = "history.png"
_GIT_TIMEOUT_SECONDS = 5


def git_commit(repo: Path) -> str | None:
    """The checked-out commit (short), with ``+dirty`` for uncommitted changes; None outside
    a git checkout or without git."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"],  # noqa: S607 (git from PATH)
            cwd=repo,
            capture_output=True,
            text=True,
            timeout=_GIT_TIMEOUT_SECONDS,
            check=False,
        )
        if head.returncode != 0:
            return None
        status = subprocess.run(
            [  # noqa: S607 (git from PATH); --no-optional-locks: never take git's index lock
                "git",
                "--no-optional-locks",
                "status",
                "--porcelain",
                "--untracked-files=no",
            ],
            cwd=repo,
            capture_output=True,
            text=True,
            timeout=_GIT_TIMEOUT_SECONDS,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    commit = head.stdout.strip()
    return f"{commit}+dirty" if status.returncode == 0 and status.stdout.strip() else commit


def entry(
    figures: dict[str, float | None],
    *,
    sections: Sequence[str],
    machine: str,
    commit: str | None,
    when: datetime.datetime,
) -> dict[str, Any]:
    """One run's line: the figures it measured (None and non-finite values left out)."""
    kept = {
        name: value for name, value in figures.items() if value is not None and math.isfinite(value)
    }
    return {
        "when": when.isoformat(timespec="seconds"),
        "machine": machine,
        "commit": commit,
        "sections": list(sections),
        "figures": kept,
    }


def append(path: Path, line: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as history:
        history.write(json.dumps(line, sort_keys=True) + "\n")


def read(path: Path) -> list[dict[str, Any]]:
    """Every run recorded, oldest first; a line that is not a JSON object (a merge gone wrong,
    a truncated write) is skipped rather than ending the bench."""
    if not path.exists():
        return []
    entries = []
    for text in path.read_text(encoding="utf-8").splitlines():
        try:
            line = json.loads(text)
        except json.JSONDecodeError:
            continue
        if isinstance(line, dict) and isinstance(line.get("figures"), dict):
            entries.append(line)
    return entries


def series(entries: Iterable[dict[str, Any]]) -> dict[str, list[tuple[int, float]]]:
    """Per figure, (run number, value) for the runs that measured it."""
    by_figure: dict[str, list[tuple[int, float]]] = {}
    for index, line in enumerate(entries):
        for name, value in line["figures"].items():
            if isinstance(value, int | float):
                by_figure.setdefault(name, []).append((index, float(value)))
    return by_figure


def chart(entries: list[dict[str, Any]], path: Path, targets: dict[str, float]) -> Path:
    """One small panel per figure: its value run after run, its target dashed."""
    by_figure = series(entries)
    fig, panels = panel_grid(len(by_figure), max_columns=4, cell=(4.2, 3.0))
    import matplotlib.pyplot as plt  # after panel_grid chose the Agg backend

    labels = [_label(line) for line in entries]
    for axis, (name, points) in zip(panels, sorted(by_figure.items()), strict=False):
        runs = [run for run, _ in points]
        axis.plot(runs, [value for _, value in points], marker="o", markersize=3)
        if name in targets:
            axis.axhline(targets[name], color="black", linestyle="--", linewidth=0.8)
        axis.set_title(name, fontsize=8, wrap=True)
        axis.set_xticks(runs)
        axis.set_xticklabels([labels[run] for run in runs], rotation=60, fontsize=6)
        axis.tick_params(axis="y", labelsize=7)
        axis.grid(alpha=0.3)
    fig.suptitle(f"gen-ai-on-aws benchmarks over {len(entries)} runs (dashed: target)", fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _label(line: dict[str, Any]) -> str:
    when = str(line.get("when", ""))[:10]
    commit = line.get("commit")
    return f"{when} {str(commit)[:7]}" if commit else when


def record(
    figures: dict[str, float | None],
    *,
    sections: Sequence[str],
    machine: str,
    out_dir: Path,
    repo: Path,
    targets: dict[str, float],
) -> list[Path]:
    """Append this run and redraw the chart: [history.jsonl, history.png]."""
    history_path = out_dir / HISTORY_FILE
    when = datetime.datetime.now(datetime.UTC)
    line = entry(figures, sections=sections, machine=machine, commit=git_commit(repo), when=when)
    append(history_path, line)
    return [history_path, chart(read(history_path), out_dir / HISTORY_CHART, targets)]
