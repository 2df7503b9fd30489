"""`status`, `wait` and `cancel`: one job, printed as the API's JSON on stdout."""

from __future__ import annotations

from typing import Annotated

import typer

from gen_ai_jobs.cli._common import (
    EXIT_FAILED,
    EXIT_OK,
    print_json,
    reported_errors,
    state_of,
)
from gen_ai_jobs.errors import WaitTimeout
from gen_ai_jobs.models import Job

JobId = Annotated[str, typer.Argument(help="The job_id returned at submission.")]


def status(ctx: typer.Context, job_id: JobId) -> None:
    """Print a job: its status, and its result or error once finished.

    Exit 0 when the API answered, 1 on an error (unknown job: 404)."""
    with reported_errors(), state_of(ctx).client() as client:
        print_json(_json(client.get(job_id)))


def wait(
    ctx: typer.Context,
    job_id: JobId,
    timeout: Annotated[float, typer.Option(min=0, help="Give up after this many seconds.")] = 600.0,
    poll_interval: Annotated[
        float, typer.Option(min=0.05, help="First pause between polls (grows up to 5 s).")
    ] = 1.0,
) -> None:
    """Wait until a job is finished, then print it.

    Exit 0 when it succeeded, 1 when it failed or was cancelled, or was still unfinished after
    --timeout (its last state is printed)."""
    with reported_errors(), state_of(ctx).client() as client:
        try:
            job = client.wait(job_id, timeout=timeout, poll_interval=poll_interval)
        except WaitTimeout as timed_out:
            if isinstance(timed_out.job, Job):
                print_json(_json(timed_out.job))
            raise
    print_json(_json(job))
    raise typer.Exit(EXIT_OK if job.status == "succeeded" else EXIT_FAILED)


def cancel(ctx: typer.Context, job_id: JobId) -> None:
    """Cancel a queued job and print it (now `cancelled`).

    Exit 0 when cancelled, 1 otherwise (409 job_not_cancellable once it runs or is finished)."""
    with reported_errors(), state_of(ctx).client() as client:
        print_json(_json(client.cancel(job_id)))


def _json(job: Job) -> dict[str, object]:
    return job.model_dump(mode="json")
