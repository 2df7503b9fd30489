"""What every admin command shares: the group's options (which stack, which endpoint) turned
into an `AwsSession`, and failures as one `error:` line with the exit code."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

import typer

from gen_ai_jobs.cli._common import EXIT_INTERRUPTED
from gen_ai_jobs.cli.admin._aws import (
    DEFAULT_PREFIX,
    AdminError,
    AwsSession,
    QueueRef,
    Targets,
    load_stack_outputs,
    parse_lane_urls,
)

OPTIONS_KEY = "gen_ai_jobs.admin.options"
DEVSTACK_ENDPOINT = "http://127.0.0.1:5000"  # `uv run devstack`'s moto server (--aws-port)
DEVSTACK_REGION = "us-east-1"
# The devstack's emulated AWS takes any keys; sending these keeps real ones away from it.
DEVSTACK_CREDENTIALS = ("devstack", "devstack")


@dataclass(frozen=True)
class AdminOptions:
    prefix: str = DEFAULT_PREFIX
    stack_outputs: Path | None = None
    queue_urls: list[str] = field(default_factory=list)
    dlq_url: str | None = None
    jobs_table: str | None = None
    state_table: str | None = None
    secret_id: str | None = None
    endpoint_url: str | None = None
    region: str | None = None
    devstack: bool = False


def remember_options(ctx: typer.Context, options: AdminOptions) -> None:
    ctx.meta[OPTIONS_KEY] = options


def session_of(ctx: typer.Context) -> AwsSession:
    """Targets from --prefix, then --stack-outputs, then the explicit overrides."""
    options: AdminOptions = ctx.meta.get(OPTIONS_KEY) or AdminOptions()
    targets = Targets.from_prefix(options.prefix)
    if options.stack_outputs is not None:
        targets = targets.with_stack_outputs(load_stack_outputs(options.stack_outputs))
    lanes = dict(targets.lanes)
    for lane, url in parse_lane_urls(options.queue_urls).items():
        lanes[lane] = QueueRef(f"{lane} lane", url=url)
    targets = replace(
        targets,
        lanes=lanes,
        dlq=QueueRef("DLQ", url=options.dlq_url) if options.dlq_url else targets.dlq,
        jobs_table=options.jobs_table or targets.jobs_table,
        state_table=options.state_table or targets.state_table,
        app_secret=options.secret_id or targets.app_secret,
    )
    if options.devstack:
        return AwsSession(
            targets,
            region=options.region or DEVSTACK_REGION,
            endpoint_url=options.endpoint_url or DEVSTACK_ENDPOINT,
            credentials=DEVSTACK_CREDENTIALS,
            devstack=True,
        )
    return AwsSession(targets, region=options.region, endpoint_url=options.endpoint_url)


@contextmanager
def admin_errors() -> Iterator[None]:
    """`AdminError` as `error: ...` on stderr and its exit code; Ctrl-C as 130."""
    try:
        yield
    except AdminError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(error.exit_code) from None
    except KeyboardInterrupt:
        typer.echo("\ninterrupted", err=True)
        raise typer.Exit(EXIT_INTERRUPTED) from None
