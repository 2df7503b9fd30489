"""`admin dlq list` and `admin dlq redrive`: the jobs DLQ the three lanes share."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Annotated, Any

import typer

from gen_ai_jobs.cli._common import EXIT_FAILED, EXIT_OK, print_json, usage_error
from gen_ai_jobs.cli.admin._aws import LANES, aws_errors, missing_table
from gen_ai_jobs.cli.admin._cli import admin_errors, session_of
from gen_ai_jobs.cli.admin._envelope import Envelope, Unreadable
from gen_ai_jobs.cli.admin._move import (
    MoveReport,
    MoveTaskUnsupportedError,
    follow_move_task,
    move_by_hand,
    start_move_task,
)
from gen_ai_jobs.cli.admin._peek import DeadLetter, JobState, job_states, peek
from gen_ai_jobs.cli.admin._render import duration, table
from gen_ai_jobs.cli.admin._stats import DEPTH_ATTRIBUTES, QueueDepth

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON (for scripts).")]


def list_dead_letters(
    ctx: typer.Context,
    sample: Annotated[
        int, typer.Option("--sample", min=0, max=100, help="How many messages to show.")
    ] = 10,
    as_json: JsonOption = False,
) -> None:
    """Count, oldest age and a sample of the jobs DLQ, without consuming anything.

    Each sampled message shows its job id, task, lane, dispatch and receive count, and the
    job's status and error code from the jobs table; never its payload. Peeking hides the
    sample for at most 10 s (it is made visible again at once) and adds one to each sampled
    message's receive count."""
    with admin_errors():
        session = session_of(ctx)
        dlq = session.targets.dlq
        depth = QueueDepth.from_attributes(
            dlq.shown, session.queue_attributes(dlq, DEPTH_ATTRIBUTES)
        )
        letters: list[DeadLetter] = []
        not_released = 0
        if sample and depth.visible:
            with aws_errors(session.endpoint_url):
                letters, not_released = peek(
                    session.sqs, session.queue_url(dlq), min(sample, depth.visible)
                )
        job_ids = [letter.job_id for letter in letters if letter.job_id]
        jobs: dict[str, JobState] = {}
        if job_ids:
            table_name = session.targets.jobs_table
            with aws_errors(session.endpoint_url), missing_table(table_name, "jobs"):
                jobs = job_states(session.dynamodb, table_name, job_ids)
    now = time.time()
    rows = [_sample_row(letter, jobs, now) for letter in letters]
    oldest = max(
        (row["age_seconds"] for row in rows if row["age_seconds"] is not None), default=None
    )
    if as_json:
        print_json(
            {
                "queue": depth.name,
                "count": depth.visible + depth.in_flight,
                "visible": depth.visible,
                "in_flight": depth.in_flight,
                "delayed": depth.delayed,
                "sampled": len(rows),
                "oldest_sampled_age_seconds": oldest,
                "not_released": not_released,
                "sample": rows,
            }
        )
        return
    typer.echo(
        f"DLQ {depth.name}: {depth.visible + depth.in_flight} messages"
        f" ({depth.visible} visible, {depth.in_flight} in flight, {depth.delayed} delayed)"
    )
    if not rows:
        return
    typer.echo(f"oldest of the {len(rows)} sampled: {duration(oldest)}\n")
    typer.echo(
        table(
            ["JOB", "TASK", "LANE", "DISPATCH", "RECEIVES", "AGE", "STATUS", "ERROR"],
            [
                [
                    row["job_id"],
                    row["task"] or "(unreadable)",
                    row["priority"],
                    row["dispatch"],
                    row["receive_count"],
                    duration(row["age_seconds"]),
                    row["job_status"],
                    row["error_code"] or _last(row["last_error_code"]),
                ]
                for row in rows
            ],
        )
    )
    for row in rows:
        if row["unreadable"]:
            typer.echo(f"message {row['message_id']}: {row['unreadable']}")
    if not_released:
        typer.echo(f"{not_released} sampled messages stay hidden for up to 10 s", err=True)


def _last(code: str | None) -> str | None:
    return f"{code} (last)" if code else None


def _sample_row(letter: DeadLetter, jobs: dict[str, JobState], now: float) -> dict[str, Any]:
    """One sampled message as shown: ids and routing, never the body."""
    content = letter.content
    job = jobs.get(letter.job_id or "")
    envelope = content if isinstance(content, Envelope) else None
    return {
        "message_id": letter.message_id,
        "job_id": letter.job_id,
        "task": envelope.task if envelope else None,
        "priority": envelope.priority if envelope else None,
        "tenant": envelope.tenant if envelope else None,
        "dispatch": envelope.dispatch if envelope else None,
        "receive_count": letter.receive_count,
        "sent_at": (
            datetime.fromtimestamp(letter.sent_at, UTC).isoformat().replace("+00:00", "Z")
            if letter.sent_at is not None
            else None
        ),
        "age_seconds": round(now - letter.sent_at, 3) if letter.sent_at is not None else None,
        "job_status": job.status if job else None,
        "error_code": job.error_code if job else None,
        "last_error_code": job.last_error_code if job else None,
        "unreadable": content.reason if isinstance(content, Unreadable) else None,
    }


def redrive(
    ctx: typer.Context,
    max_messages: Annotated[
        int | None,
        typer.Option(
            "--max", min=1, help="Move at most N messages (always receive -> send -> delete)."
        ),
    ] = None,
    rate: Annotated[
        int | None,
        typer.Option(
            min=1, max=500, help="Messages per second for SQS's move task (default: SQS decides)."
        ),
    ] = None,
    by_hand: Annotated[
        bool,
        typer.Option(
            "--by-hand",
            help="Skip SQS's move task: receive -> send -> delete, leaving unreadable bodies.",
        ),
    ] = False,
    wait: Annotated[
        float,
        typer.Option(min=0, help="How long to follow SQS's move task, in seconds."),
    ] = 120.0,
    as_json: JsonOption = False,
) -> None:
    """Move the jobs DLQ back to the lanes, so its jobs run again.

    Uses SQS's message move task (StartMessageMoveTask, each message back to the queue it was
    dead-lettered from) and follows its status, where the endpoint has it. Otherwise (moto, the
    devstack), with --max or --by-hand: receive -> send to the lane of the body's `priority`
    (same MessageGroupId) -> delete, a message deleted only once its send succeeded; a body
    that is not a valid envelope stays in the DLQ. Exit 0 when everything was moved, 1
    otherwise."""
    if rate is not None and (max_messages is not None or by_hand):
        usage_error("--rate is for SQS's move task; --max and --by-hand move by hand")
    with admin_errors():
        session = session_of(ctx)
        dlq = session.targets.dlq
        dlq_url = session.queue_url(dlq)
        lane_urls = {lane: session.queue_url(session.targets.lanes[lane]) for lane in LANES}
        report: MoveReport | None = None
        note = None
        if max_messages is None and not by_hand:
            dlq_arn = session.queue_attributes(dlq, ["QueueArn"])["QueueArn"]
            report, note = _with_move_task(session.sqs, dlq_arn, rate, wait, session.endpoint_url)
        if report is None or report.fallback:
            with aws_errors(session.endpoint_url):
                report = move_by_hand(
                    session.sqs, dlq_url, lane_urls, limit=max_messages, report=report
                )
    _print_report(dlq.shown, report, note, as_json)
    raise typer.Exit(EXIT_OK if report.complete else EXIT_FAILED)


def _with_move_task(
    sqs: Any, dlq_arn: str, rate: int | None, wait: float, endpoint_url: str | None
) -> tuple[MoveReport | None, str | None]:
    """SQS's move task, followed; (None, why) when the endpoint has none."""
    try:
        with aws_errors(endpoint_url):
            start_move_task(sqs, dlq_arn, rate)
    except MoveTaskUnsupportedError as unsupported:
        return None, f"the endpoint has no StartMessageMoveTask ({unsupported}): moved by hand"
    last_shown: list[str] = []

    def show(task: dict[str, Any]) -> None:
        line = (
            f"move task {task.get('Status', '?')}:"
            f" {task.get('ApproximateNumberOfMessagesMoved', 0)}"
            f"/{task.get('ApproximateNumberOfMessagesToMove', '?')} moved"
        )
        if line not in last_shown:
            last_shown.append(line)
            typer.echo(line, err=True)

    with aws_errors(endpoint_url):
        task = follow_move_task(sqs, dlq_arn, wait_seconds=wait, on_status=show)
    report = MoveReport("message-move-task", task=task)
    report.moved = int(task.get("ApproximateNumberOfMessagesMoved", 0))
    if task.get("Status") == "FAILED":
        # e.g. a message the worker put in the DLQ itself has no source queue to go back to.
        report.fallback = (
            f"the move task failed ({task.get('FailureReason', '?')}): the rest moved by hand"
        )
        report.method = "message-move-task, then receive-send-delete"
    note = None
    if task.get("Status") == "RUNNING":
        note = (
            f"the move task is still running after {wait:g} s: see"
            f" `aws sqs list-message-move-tasks --source-arn {dlq_arn}`"
        )
    return report, note


def _print_report(dlq_name: str, report: MoveReport, note: str | None, as_json: bool) -> None:
    if as_json:
        print_json(
            {
                "dlq": dlq_name,
                "method": report.method,
                "moved": report.moved,
                "failed": report.failed,
                "unreadable": report.invalid,
                "not_deleted": report.not_deleted,
                "still_hidden": report.still_hidden,
                "complete": report.complete,
                "aborted": report.aborted,
                "fallback": report.fallback,
                "note": note,
                "task": report.task,
                "left": [vars(problem) for problem in report.problems],
            }
        )
        return
    typer.echo(f"redrive {dlq_name} -> lanes ({report.method})")
    for line in (note, report.fallback, report.aborted):
        if line:
            typer.echo(line)
    typer.echo(
        f"moved: {report.moved}  failed: {report.failed}  unreadable: {report.invalid}"
        f"  not deleted: {report.not_deleted}"
    )
    if report.problems:
        typer.echo("\nleft in the DLQ:")
        typer.echo(
            table(
                ["MESSAGE", "JOB", "REASON"],
                [
                    [problem.message_id, problem.job_id, problem.reason]
                    for problem in report.problems
                ],
            )
        )
    if report.still_hidden:
        typer.echo(f"{report.still_hidden} messages stay hidden for up to 60 s", err=True)
