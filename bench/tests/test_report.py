"""The benchmark report: headline figures, the table's verdicts and the written files."""

from __future__ import annotations

import json
from pathlib import Path

from bench import report

RESULTS = {
    "date": "2026-11-23",
    "machine": "test",
    "worker_concurrency": {"1000ms": {"batch_over_latency": 1.1}},
    "api_overhead": {"8_clients": {"p50_overhead_ratio": 1.7}},
    "cold_start": {"worker_bytecode": {"unzipped_mb": 127.8, "import_median_s": 2.7}},
    "cost": {"default": {"total": 6.4}},
}


def test_table_marks_each_target_met_or_missed() -> None:
    lines = report.table(RESULTS).splitlines()

    verdicts = {line[:44].strip(): line.split()[-1] for line in lines[2:]}
    assert verdicts["worker batch wall / LLM latency (1 s)"] == "yes"
    assert verdicts["API p50 / raw boto3 p50 (8 clients)"] == "NO"
    assert verdicts["infra $ per million jobs (2 s LLM)"] == "NO"


def test_write_produces_json_and_a_png(tmp_path: Path) -> None:
    json_path, chart = report.write(RESULTS, tmp_path)  # no limits section: no limits.png

    assert json.loads(json_path.read_text())["cost"]["default"]["total"] == 6.4
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
