"""`gen-ai-jobs`: the jobs API from a shell. One module per group of commands; a new group
(e.g. `admin`) is a module with its own `typer.Typer`, added here with `app.add_typer`."""

from __future__ import annotations

from typing import Annotated

import typer

from gen_ai_jobs._version import __version__
from gen_ai_jobs.cli import admin, jobs, submit
from gen_ai_jobs.cli._common import CliState, state_of
from gen_ai_jobs.client import DEFAULT_BASE_URL

app = typer.Typer(
    name="gen-ai-jobs",
    help="Submit, follow and cancel jobs of the gen-ai-on-aws API.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="markdown",
    # Locals would print the API key in a traceback.
    pretty_exceptions_show_locals=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.command()(submit.submit)
app.command()(jobs.status)
app.command()(jobs.wait)
app.command()(jobs.cancel)
app.add_typer(admin.app, name="admin")


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"gen-ai-jobs {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    ctx: typer.Context,
    api_url: Annotated[
        str, typer.Option(envvar="GEN_AI_API_URL", help="Base URL of the API.")
    ] = DEFAULT_BASE_URL,
    api_key: Annotated[
        str | None,
        typer.Option(envvar="GEN_AI_API_KEY", show_default=False, help="Sent as X-API-Key."),
    ] = None,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version."
        ),
    ] = False,
) -> None:
    state = state_of(ctx)
    state.api_url = api_url
    state.api_key = api_key


def main() -> None:
    app(prog_name="gen-ai-jobs")


__all__ = ["CliState", "app", "main"]
