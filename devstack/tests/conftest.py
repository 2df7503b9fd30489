"""End-to-end fixtures: every devstack process a test starts is stopped at teardown."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from devstack.e2e_support import DevstackProcess

StartDevstack = Callable[..., DevstackProcess]


@contextmanager
def _devstack_starter(log_dir: Path) -> Iterator[StartDevstack]:
    started: list[DevstackProcess] = []

    def start(
        args: list[str], ready_text: str = "devstack ready", env: dict[str, str] | None = None
    ) -> DevstackProcess:
        process = DevstackProcess(args, log_dir / f"devstack-{len(started)}.log", env)
        started.append(process)
        process.wait_for_log(ready_text)
        return process

    try:
        yield start
    finally:
        for process in reversed(started):
            process.stop()


@pytest.fixture
def start_devstack(tmp_path: Path) -> Iterator[StartDevstack]:
    """Factory: start devstack processes; every one started is stopped at teardown."""
    with _devstack_starter(tmp_path) as start:
        yield start


@pytest.fixture(scope="module")
def start_module_devstack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StartDevstack]:
    """The same, for a devstack shared by a module's tests (one start-up instead of one each)."""
    with _devstack_starter(tmp_path_factory.mktemp("devstack")) as start:
        yield start


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10.0) as client:
        yield client
