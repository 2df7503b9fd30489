"""The bench history: lines appended run after run, read back (skipping damage), charted, and
recorded by the CLI with only what that run measured."""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any

import pytest

from bench import cli, history, report

WHEN = datetime.datetime(2026, 12, 2, 14, 0, tzinfo=datetime.UTC)


def test_entries_append_and_read_back_in_order(tmp_path: Path) -> None:
    path = tmp_path / "history.jsonl"
    first = history.entry(
        {"worker handler import s": 3.0, "not measured": None},
        sections=["cold"],
        machine="test",
        commit="abc1234",
        when=WHEN,
    )
    second = history.entry(
        {"worker handler import s": 1.0},
        sections=["cold"],
        machine="test",
        commit=None,
        when=WHEN + datetime.timedelta(days=1),
    )

    history.append(path, first)
    history.append(path, second)

    entries = history.read(path)
    assert [e["figures"] for e in entries] == [
        {"worker handler import s": 3.0},  # None is left out, not stored as null
        {"worker handler import s": 1.0},
    ]
    assert entries[0]["commit"] == "abc1234"
    assert entries[0]["when"] == "2026-12-02T14:00:00+00:00"
    assert history.series(entries) == {"worker handler import s": [(0, 3.0), (1, 1.0)]}


def test_a_damaged_line_is_skipped_not_fatal(tmp_path: Path) -> None:
    path = tmp_path / "history.jsonl"
    good = history.entry({"x": 1.0}, sections=["api"], machine="m", commit=None, when=WHEN)
    path.write_text("\n".join(['{"truncated": ', "[1, 2]", json.dumps(good), ""]), encoding="utf-8")

    assert history.read(path) == [good]
    assert history.read(tmp_path / "missing.jsonl") == []


def test_the_chart_draws_each_figure_over_the_runs(tmp_path: Path) -> None:
    entries = [
        history.entry(
            {"a": float(i), "b": 2.0}, sections=["api"], machine="m", commit="c" * 12, when=WHEN
        )
        for i in range(3)
    ]
    entries.append(history.entry({"a": 9.0}, sections=["api"], machine="m", commit=None, when=WHEN))

    chart = history.chart(entries, tmp_path / "history.png", targets={"a": 5.0})

    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_git_commit_outside_a_repository_is_none(tmp_path: Path) -> None:
    assert history.git_commit(tmp_path) is None


def test_a_run_records_only_the_figures_its_sections_measured() -> None:
    results = {
        "worker_concurrency": {"1000ms": {"batch_over_latency": 1.1}},
        "api_overhead": {"8_clients": {"p50_overhead_ratio": 1.3}},  # carried from a past run
        "cost": {"default": {"total": 6.0}},
    }

    figures = report.measured(results, ["worker"], cli.SECTIONS)

    assert figures["worker batch wall / LLM latency (1 s)"] == 1.1
    assert figures["infra $ per million jobs (2 s LLM)"] == 6.0
    assert "API p50 / raw boto3 p50 (8 clients)" not in figures


SCALE_SUMMARY: dict[str, Any] = {
    "runtime_s": 12.5,
    "scenarios": {
        "recommended": {
            "submitted": 10_000_000,
            "completed": 10_000_000,
            "queue_age_p50_s": 1.0,
            "queue_age_p99_s": 2.0,
            "worst_hour_queue_age_p99_s": 3.0,
            "peak_concurrency": 40,
            "call_limit_per_minute": 19_000,
            "busiest_60s_calls": 11_500,
            "provider_429s": 0,
            "deferrals": 0,
            "cost_per_day": {"per_million_jobs": 9.5},
        }
    },
}


def test_bench_scale_runs_as_a_subcommand_and_appends_to_the_history(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the scale model stubbed (its own tests cover it) and an empty results directory
    from bench import scale

    monkeypatch.setattr(scale, "run", lambda out, **_: dict(SCALE_SUMMARY))

    # WHEN `bench scale` runs twice, once as a subcommand and once through --only
    assert cli.main(["scale", "--out", str(tmp_path)]) == 0
    assert cli.main(["--only", "scale", "--out", str(tmp_path)]) == 0

    # THEN each run added one line holding the scale figures and nothing it did not measure
    entries = history.read(tmp_path / "history.jsonl")
    assert len(entries) == 2
    assert entries[0]["sections"] == ["scale"]
    assert entries[0]["figures"] == {
        "scale: simulation runtime s": 12.5,
        "scale: recommended worst-hour queue age p99 s": 3.0,
        "scale: recommended $ per million jobs": 9.5,
        "scale: recommended peak Lambda concurrency": 40,
    }
    assert (tmp_path / "history.png").read_bytes()[:4] == b"\x89PNG"
    assert json.loads((tmp_path / "latest.json").read_text())["scale"]["runtime_s"] == 12.5


def test_an_unknown_section_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        cli.main(["scael", "--out", str(tmp_path)])
