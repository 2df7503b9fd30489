"""`gen-ai-jobs admin`: operate the stack's queues, tables and app secret directly with AWS
credentials (the DLQ, queue depths, circuits, API keys), against an account or the devstack.
Needs boto3: `pip install 'gen-ai-jobs[admin]'`; nothing here imports it until a command runs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gen_ai_jobs.cli.admin import dlq, keys, stats
from gen_ai_jobs.cli.admin._aws import DEFAULT_PREFIX
from gen_ai_jobs.cli.admin._cli import AdminOptions, remember_options

app = typer.Typer(
    name="admin",
    help=(
        "Operate the stack with AWS credentials: the jobs DLQ, queue depths, LLM circuits,"
        " API keys."
        " Needs `pip install 'gen-ai-jobs[admin]'`."
    ),
    no_args_is_help=True,
)
dlq_app = typer.Typer(name="dlq", help="Inspect and redrive the jobs DLQ.", no_args_is_help=True)
dlq_app.command("list")(dlq.list_dead_letters)
dlq_app.command("redrive")(dlq.redrive)
app.add_typer(dlq_app)
app.command("stats")(stats.stats)
keys_app = typer.Typer(
    name="keys", help="API keys per tenant, in the app secret.", no_args_is_help=True
)
keys_app.command("create")(keys.create)
keys_app.command("list")(keys.list_keys)
app.add_typer(keys_app)


@app.callback()
def _options(
    ctx: typer.Context,
    prefix: Annotated[
        str,
        typer.Option(
            envvar="GEN_AI_STACK_PREFIX",
            help="Queues PREFIX-jobs-high, PREFIX-jobs, PREFIX-jobs-low, PREFIX-jobs-dlq and"
            " tables PREFIX-jobs, PREFIX-llm-state, secret PREFIX-app-secrets, as the devstack"
            " names them.",
        ),
    ] = DEFAULT_PREFIX,
    stack_outputs: Annotated[
        Path | None,
        typer.Option(
            envvar="GEN_AI_STACK_OUTPUTS",
            help="`pulumi stack output --json` saved to a file: the deployed stack's"
            " (auto-generated) names. Overrides --prefix.",
        ),
    ] = None,
    queue_url: Annotated[
        list[str] | None,
        typer.Option(metavar="LANE=URL", help="A lane's queue (high, normal, low); repeatable."),
    ] = None,
    dlq_url: Annotated[str | None, typer.Option(help="The jobs DLQ's URL.")] = None,
    jobs_table: Annotated[str | None, typer.Option(help="The jobs table's name.")] = None,
    state_table: Annotated[str | None, typer.Option(help="The LLM state table's name.")] = None,
    secret_id: Annotated[
        str | None,
        typer.Option(help="The app secret's name or ARN (default PREFIX-app-secrets)."),
    ] = None,
    endpoint_url: Annotated[
        str | None,
        typer.Option(envvar="AWS_ENDPOINT_URL", help="An AWS-compatible endpoint (moto)."),
    ] = None,
    region: Annotated[
        str | None, typer.Option(envvar=["AWS_REGION", "AWS_DEFAULT_REGION"], help="AWS region.")
    ] = None,
    devstack: Annotated[
        bool,
        typer.Option(
            "--devstack",
            help="The local `uv run devstack`: endpoint http://127.0.0.1:5000, us-east-1,"
            " its dummy credentials.",
        ),
    ] = False,
) -> None:
    remember_options(
        ctx,
        AdminOptions(
            prefix=prefix,
            stack_outputs=stack_outputs,
            queue_urls=list(queue_url or []),
            dlq_url=dlq_url,
            jobs_table=jobs_table,
            state_table=state_table,
            secret_id=secret_id,
            endpoint_url=endpoint_url,
            region=region,
            devstack=devstack,
        ),
    )


__all__ = ["app"]
