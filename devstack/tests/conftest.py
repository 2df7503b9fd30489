"""End-to-end fixtures: every devstack process a test starts is stopped at teardown."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from devstack.e2e_support import DevstackProcess


@pytest.fixture
def start_devstack(tmp_path: Path) -> Iterator[Callable[..., DevstackProcess]]:
    """Factory: start devstack processes; every one started is stopped at teardown."""
    started: list[DevstackProcess] = []

    def start(
        args: list[str], ready_text: str = "devstack ready", env: dict[str, str] | None = None
    ) -> DevstackProcess:
        process = DevstackProcess(args, tmp_path / f"devstack-{len(started)}.log", env)
        started.append(process)
        process.wait_for_log(ready_text)
        return process

    yield start
    for process in reversed(started):
        process.stop()


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10.0) as client:
        yield client
