"""What every command shares: the API settings, the client, exit codes, errors without
tracebacks."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, NoReturn

import typer

from gen_ai_jobs.client import DEFAULT_BASE_URL, Client
from gen_ai_jobs.errors import APIError, GenAiJobsError

EXIT_OK = 0
EXIT_FAILED = 1  # some job failed, was cancelled or not queued; or the API refused / was down
EXIT_USAGE = 2  # bad arguments or input file: nothing was sent
EXIT_INTERRUPTED = 130  # Ctrl-C, as shells report SIGINT


@dataclass
class CliState:
    """Set by the top-level options; tests pass their own `client_factory` as `obj`."""

    api_url: str = DEFAULT_BASE_URL
    api_key: str | None = None
    client_factory: Callable[..., Client] = Client

    def client(self) -> Client:
        try:
            return self.client_factory(base_url=self.api_url, api_key=self.api_key)
        except ValueError as error:
            usage_error(f"--api-url: {error}")


def state_of(ctx: typer.Context) -> CliState:
    return ctx.ensure_object(CliState)


def usage_error(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(EXIT_USAGE)


def print_json(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2, ensure_ascii=False))


@contextmanager
def reported_errors(interrupted_hint: str = "") -> Iterator[None]:
    """API and connection errors as one `error:` line (exit 1), Ctrl-C as exit 130."""
    try:
        yield
    except KeyboardInterrupt:
        typer.echo(f"\ninterrupted{interrupted_hint}", err=True)
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except GenAiJobsError as error:
        typer.echo(f"error: {error}", err=True)
        if isinstance(error, APIError) and error.details:
            typer.echo(f"details: {json.dumps(error.details, ensure_ascii=False)}", err=True)
        raise typer.Exit(EXIT_FAILED) from None
