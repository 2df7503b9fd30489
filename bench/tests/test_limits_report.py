"""The limits section's printed rows, headline verdicts, chart and its place in latest.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bench import cli, limits_report, report

PNG = b"\x89PNG\r\n\x1a\n"


def lane(jobs: int, p50: float, p95: float) -> dict[str, Any]:
    return {"jobs": jobs, "p50_s": p50, "p95_s": p95, "max_s": p95, "cdf_s": [p50 / 2, p50, p95]}


def limits_results() -> dict[str, Any]:
    """A limits section as limits.run returns it (numbers made up, shapes real)."""
    quota = {
        "jobs": 400,
        "rpm_limit": 200,
        "provider_quota": 240,
        "provider_window_s": 60,
        "llm_latency_s": 0.5,
        "statuses": {"succeeded": 398, "failed": 2},
        "unfinished": 0,
        "submit_s": 3.2,
        "total_s": 131.5,
        "provider_calls": 404,
        "provider_429": 3,
        "provider_429_pct": 0.74,
        "busiest_60s_calls": 232,
        "busiest_60s_accepted": 230,
        "busiest_60s_over_limit": 1.16,
        "busiest_60s_over_quota": 0.967,
        "calls_per_10s": [40, 33, 34, 0],
        "throttled_per_10s": [3, 0, 0, 0],
        "calls_last_60s_every_5s": [[5.0, 20], [10.0, 40], [15.0, 57]],
        "worker_metrics": {
            "JobsDeferred": 510,
            "ProviderThrottled": 3,
            "JobsRetried": 0,
            "StaleDeliveries": 1,
        },
        "attempts": {"1": 400},
        "jobs_resent": 350,
        "dlq_messages": 0,
    }
    lanes = {
        "llm_latency_s": 1.0,
        "lane_concurrency": 2,
        "idle_high": lane(10, 2.0, 2.5),
        "high_behind_backlog": lane(10, 6.8, 7.5),
        "low_backlog": lane(300, 40.1, 75.0),
        "high_p50_over_idle": 3.4,
        "high_submitted_after_s": 2.0,
        "last_high_done_after_s": 9.9,
        "low_drained_after_s": 80.2,
        "low_finished_after_last_high": 270,
        "statuses": {"succeeded": 320},
        "unfinished": 0,
    }
    return {"date": "2026-12-01", "quota": quota, "lanes": lanes}


def test_rows_show_the_quota_runs_calls_against_the_limit_and_the_deferrals() -> None:
    text = "\n".join(limits_report.rows(limits_results()))

    assert "400 jobs at once; worker limit 200 rpm; provider 240 per 60 s" in text
    assert "2 failed, 398 succeeded; unfinished 0; DLQ 0" in text
    assert "404 calls, 3 answered 429 (0.74 %); busiest 60 s: 232 calls" in text
    assert "(1.16x the limit, 0.967x the quota; 230 accepted)" in text
    assert "calls per 10 s: 40 33 34 0" in text
    assert "510 deferrals" in text
    assert "350 jobs re-sent at least once" in text


def test_rows_show_time_to_finish_by_lane_and_when_the_backlog_drained() -> None:
    lines = limits_report.rows(limits_results())

    by_label = {line[:36].strip(): line.split()[-3:] for line in lines if line.startswith("  ")}
    assert by_label["high, idle system"] == ["2", "2.5", "2.5"]
    assert by_label["high, behind the low backlog"] == ["6.8", "7.5", "7.5"]
    assert by_label["low backlog"] == ["40.1", "75", "75"]
    assert "high p50 behind the backlog / idle: 3.4x" in lines[-1]
    assert "backlog drained at 80.2 s (270 low jobs finished after the last high one)" in lines[-1]


def test_rows_of_a_run_where_no_high_job_finished_say_so_instead_of_failing() -> None:
    results = limits_results()
    results["lanes"] |= {"high_behind_backlog": {"jobs": 0}, "high_p50_over_idle": None}

    lines = limits_report.rows(results)

    assert any(line.split() == ["high,", "behind", "the", "low", "backlog", "0"] for line in lines)
    assert "idle: -;" in lines[-1]


def test_table_gives_the_issues_bars_a_verdict_and_appends_the_rows() -> None:
    table = report.table({"limits": limits_results()})

    headline = table.split("\n\n")[0].splitlines()[2:]
    verdicts = {line[:44].strip(): line.split()[-1] for line in headline}
    assert verdicts["limits: provider 429s, % of calls"] == "yes"
    assert verdicts["limits: busiest 60 s calls / provider quota"] == "yes"
    assert verdicts["lanes: high p50 behind backlog / idle"] == "NO"
    assert "calls per 10 s: 40 33 34 0" in table


def test_write_draws_limits_png_only_when_the_section_has_results(tmp_path: Path) -> None:
    without = report.write({"date": "2026-12-01"}, tmp_path / "without")
    written = report.write({"date": "2026-12-01", "limits": limits_results()}, tmp_path / "with")

    assert [path.name for path in without] == ["latest.json", "latest.png"]
    assert [path.name for path in written] == ["latest.json", "latest.png", "limits.png"]
    assert all(path.read_bytes()[:8] == PNG for path in written[1:])


def test_a_run_without_the_opt_in_section_keeps_its_last_results(tmp_path: Path) -> None:
    # GIVEN a previous run that measured the limits section
    (tmp_path / "latest.json").write_text(json.dumps({"limits": limits_results()}))

    # WHEN the default sections run (here only the cost model, which needs no devstack)
    assert cli.main(["--only", "cost", "--out", str(tmp_path)]) == 0

    # THEN the limits results and their chart are still there
    saved = json.loads((tmp_path / "latest.json").read_text())
    assert saved["limits"]["quota"]["busiest_60s_calls"] == 232
    assert "total" in saved["cost"]["default"]
    assert (tmp_path / "limits.png").read_bytes()[:8] == PNG


def test_an_unknown_section_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--only", "limit"])

    assert exit_info.value.code == 2
    assert "unknown section(s) limit" in capsys.readouterr().err


def test_the_default_run_keeps_the_opt_in_sections_results_and_all_starts_afresh(
    tmp_path: Path,
) -> None:
    previous = tmp_path / "latest.json"
    previous.write_text(json.dumps({"limits": limits_results(), "throughput": {"jobs": 100}}))

    default = cli.starting_results(previous, list(cli.SECTIONS))
    everything = cli.starting_results(previous, [*cli.SECTIONS, *cli.OPT_IN])

    assert default["limits"]["lanes"]["high_p50_over_idle"] == 3.4
    assert default["throughput"] == {"jobs": 100}
    assert set(everything) == {"date", "machine"}


def test_an_opt_in_section_run_alone_leaves_the_default_sections_date(tmp_path: Path) -> None:
    previous = tmp_path / "latest.json"
    previous.write_text(json.dumps({"date": "2026-11-23", "machine": "then", "cost": {}}))

    alone = cli.starting_results(previous, ["limits"])
    with_e2e = cli.starting_results(previous, ["e2e", "limits"])

    assert (alone["date"], alone["machine"]) == ("2026-11-23", "then")
    assert with_e2e["date"] != "2026-11-23"
