"""Ctrl-C with LLM calls in flight: the devstack says what it waits for, bounds the wait, and
prints nothing after "stopped" (no pending litellm task destroyed with the event loop)."""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Callable

import httpx
import pytest

from devstack.e2e_support import DevstackProcess, StackPorts, submit, wait_for_llm_calls
from devstack.fake_llm import FakeLLMConfig, FakeLLMServer

pytestmark = pytest.mark.e2e

FUNCTION_TIMEOUT = 10


def test_stopping_with_calls_in_flight_is_bounded_explained_and_quiet(
    start_devstack: Callable[..., DevstackProcess], http: httpx.Client
) -> None:
    # GIVEN a devstack whose LLM calls take 2 s each, with jobs in flight
    with FakeLLMServer(FakeLLMConfig(latency_seconds=2.0)) as llm:
        ports = StackPorts()
        stack = start_devstack(
            [
                *ports.args(),
                f"--llm-api-base={llm.base_url}",
                f"--function-timeout={FUNCTION_TIMEOUT}",
            ]
        )
        for index in range(6):
            submit(http, ports.api_url, f"Nell{'abcdef'[index]} is 3{index} years old")
        wait_for_llm_calls(llm, calls=1)

        # WHEN it gets Ctrl-C
        stack.process.send_signal(signal.SIGINT)
        try:
            stack.process.wait(timeout=FUNCTION_TIMEOUT + 30)  # a liveness bound, not a speed
        except subprocess.TimeoutExpired:
            pytest.fail("the devstack did not stop within its stated bound")

    # THEN it said what it waited for, stopped, and printed nothing after "stopped"
    log = stack.log_path.read_text(errors="replace")
    assert "waiting for the batches in flight to finish" in log
    assert "closing the worker's event loop" in log
    assert log.rstrip().endswith("stopped"), log[-2000:]
    assert "Task was destroyed" not in log
    assert stack.process.returncode == 0
