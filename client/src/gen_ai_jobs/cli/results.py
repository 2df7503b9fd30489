"""What `submit` leaves behind: the results file, in input order, and the summary table."""

from __future__ import annotations

import json
import os
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from gen_ai_jobs.models import BatchItem, Job

NOT_QUEUED = "not_queued"
STATUS_ORDER = ["succeeded", "failed", "cancelled", NOT_QUEUED, "running", "queued"]


def result_line(item: BatchItem, job: Job | None) -> dict[str, Any]:
    """`{"index", "job_id", "status", "result" | "error"}` for one input line."""
    if not item.queued:
        error = item.error.model_dump() if item.error else None
        return {"index": item.index, "job_id": None, "status": NOT_QUEUED, "error": error}
    if job is None:  # --no-wait
        return {"index": item.index, "job_id": item.job_id, "status": item.status or "queued"}
    line: dict[str, Any] = {"index": item.index, "job_id": job.job_id, "status": job.status}
    if job.status == "succeeded":
        line["result"] = job.result
    elif job.error is not None:
        line["error"] = job.error.model_dump()
    elif job.status == "cancelled":
        line["error"] = {"code": "cancelled", "message": "the job was cancelled"}
    elif not job.finished:
        line["error"] = {
            "code": "not_finished",
            "message": f"still {job.status} at --timeout; run the same command again to wait",
        }
    return line


def write_results(path: Path, lines: list[dict[str, Any]]) -> None:
    """All or nothing: written beside `path`, then renamed over it."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            for line in lines:
                file.write(json.dumps(line, ensure_ascii=False) + "\n")
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def print_summary(
    console: Console, lines: list[dict[str, Any]], jobs: dict[str, Job], elapsed: float
) -> None:
    """Jobs per status, elapsed time, throughput and cost (when the model is priced)."""
    counts = Counter(line["status"] for line in lines)
    table = Table(title="gen-ai-jobs submit", title_justify="left")
    table.add_column("status")
    table.add_column("jobs", justify="right")
    for status in sorted(counts, key=_rank):
        table.add_row(status, f"{counts[status]:,}")
    table.add_section()
    table.add_row("total", f"{len(lines):,}")
    console.print(table)
    rate = len(lines) / elapsed if elapsed > 0 else 0.0
    summary = f"{len(lines):,} jobs in {elapsed:.1f} s ({rate:,.1f} jobs/s)"
    costs = [job.cost_usd for job in jobs.values() if job.cost_usd is not None]
    if costs:
        summary += f"; cost ${sum(costs):.6f}"
    console.print(summary, highlight=False)


def _rank(status: str) -> int:
    return STATUS_ORDER.index(status) if status in STATUS_ORDER else len(STATUS_ORDER)
