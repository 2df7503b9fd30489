"""Unit-test fixtures: an in-memory API (see fake_api.py), a Client and the CLI bound to it."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from typer.testing import CliRunner, Result

from gen_ai_jobs import Client
from gen_ai_jobs.cli import CliState, app

from .fake_api import FakeApi


@pytest.fixture
def api() -> FakeApi:
    return FakeApi()


@pytest.fixture
def client(api: FakeApi) -> Iterator[Client]:
    with api.client() as client:
        yield client


@pytest.fixture
def run_cli(api: FakeApi) -> Callable[..., Result]:
    """Run `gen-ai-jobs ARGS...` in-process against the fake API."""
    runner = CliRunner()

    def run(*args: str) -> Result:
        return runner.invoke(app, list(args), obj=CliState(client_factory=api.client))

    return run
