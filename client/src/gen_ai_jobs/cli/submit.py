"""`submit ITEMS.jsonl --out RESULTS.jsonl`: many jobs through /jobs/batch, then wait for all."""

from __future__ import annotations

import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from gen_ai_jobs.cli._common import (
    EXIT_FAILED,
    EXIT_OK,
    reported_errors,
    state_of,
    usage_error,
)
from gen_ai_jobs.cli.input_file import InputFileError, read_jobs
from gen_ai_jobs.cli.progress import JobsProgress
from gen_ai_jobs.cli.results import print_summary, result_line, write_results
from gen_ai_jobs.models import BatchItem, Job


class Lane(StrEnum):
    """The choices of --priority (typer lists an Enum's values and refuses others: exit 2)."""

    high = "high"
    normal = "normal"
    low = "low"


RESUME_HINT = (
    ": no results written. Run the same command again to resume; chunks already sent are "
    "replayed by their Idempotency-Key, not submitted twice."
)


def submit(
    ctx: typer.Context,
    items: Annotated[
        Path,
        typer.Argument(exists=True, dir_okay=False, readable=True, help="JSONL: one job per line."),
    ],
    out: Annotated[
        Path, typer.Option("--out", "-o", dir_okay=False, help="Where to write the results.")
    ],
    task: Annotated[
        str, typer.Option(help='The task of lines that are only an input, e.g. {"text": ...}.')
    ] = "extract_user",
    model: Annotated[
        str | None, typer.Option(help="Model for lines that name none (default: the API's).")
    ] = None,
    callback_url: Annotated[
        str | None, typer.Option(help="Webhook URL for lines that name none.")
    ] = None,
    priority: Annotated[
        Lane | None,
        typer.Option(
            show_default=False,
            help="Lane for lines that name none: high overtakes a backlog (default: normal).",
        ),
    ] = None,
    chunk_size: Annotated[int, typer.Option(min=1, max=100, help="Jobs per request.")] = 100,
    concurrency: Annotated[
        int, typer.Option(min=1, max=64, help="Status requests in flight while waiting.")
    ] = 8,
    timeout: Annotated[
        float, typer.Option(min=0, help="Stop waiting after this many seconds.")
    ] = 3600.0,
    poll_interval: Annotated[
        float, typer.Option(min=0.05, help="First pause between polls (grows up to 5 s).")
    ] = 1.0,
    namespace: Annotated[
        str,
        typer.Option(
            help="Part of every Idempotency-Key: a new value submits the same file as new jobs."
        ),
    ] = "",
    no_wait: Annotated[
        bool, typer.Option("--no-wait", help="Write the job ids and exit once all are queued.")
    ] = False,
) -> None:
    """Submit every line of ITEMS as a job, wait for all, write results in input order to OUT.

    Every line is checked first; an invalid one stops the command (exit 2) before anything is
    sent. Running the same command again (same file, --chunk-size and --namespace) creates no
    duplicate job: each chunk's Idempotency-Key is derived from its content.

    Exit 0 when every job succeeded (with --no-wait: was queued), 1 when some failed, were
    cancelled, not queued or unfinished at --timeout, 2 on a usage error, 130 on Ctrl-C.
    """
    if not out.parent.is_dir():
        usage_error(f"--out: directory {out.parent} does not exist")
    try:
        jobs = read_jobs(
            items,
            task=task,
            model=model,
            callback_url=callback_url,
            priority=None if priority is None else priority.value,
        )
    except InputFileError as error:
        usage_error(f"invalid input file, nothing was sent:\n{error}")
    started = time.monotonic()
    with (
        reported_errors(RESUME_HINT),
        state_of(ctx).client() as client,
        JobsProgress(total=len(jobs), console=Console(stderr=True), waiting=not no_wait) as shown,
    ):
        batch = client.submit_many(
            jobs, chunk_size=chunk_size, namespace=namespace, on_progress=shown.submitted
        )
        finished: dict[str, Job] = {}
        if not no_wait:
            shown.waiting()
            finished = client.wait_many(
                _queued_ids(batch),
                timeout=timeout,
                poll_interval=poll_interval,
                concurrency=concurrency,
                on_finished=shown.finished,
            )
    lines = [result_line(item, finished.get(item.job_id or "")) for item in batch]
    write_results(out, lines)
    print_summary(Console(), lines, finished, time.monotonic() - started)
    wanted = "queued" if no_wait else "succeeded"
    raise typer.Exit(EXIT_OK if all(line["status"] == wanted for line in lines) else EXIT_FAILED)


def _queued_ids(batch: list[BatchItem]) -> list[str]:
    return [item.job_id for item in batch if item.job_id is not None]
