"""Client test fixtures shared by the unit tests (gen_ai_jobs_tests/) and the end-to-end test:
no stray client settings, and a devstack shared by a module."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from devstack.e2e_support import DevstackProcess


@pytest.fixture(autouse=True)
def no_client_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The developer's own settings never leak into a test."""
    for name in ("GEN_AI_API_KEY", "GEN_AI_API_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def start_module_devstack(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[..., DevstackProcess]]:
    """Start devstack processes for a module (as devstack/tests/conftest.py does); every one
    started is stopped at teardown."""
    log_dir: Path = tmp_path_factory.mktemp("devstack")
    started: list[DevstackProcess] = []

    def start(args: list[str], env: dict[str, str] | None = None) -> DevstackProcess:
        process = DevstackProcess(args, log_dir / f"devstack-{len(started)}.log", env)
        started.append(process)
        process.wait_for_log("devstack ready")
        return process

    try:
        yield start
    finally:
        for process in reversed(started):
            process.stop()
