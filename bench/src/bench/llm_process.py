"""The fake LLM in a process of its own, so its CPU (HTTP parsing, JSON, threads) is neither
billed to the worker being measured nor competing with it for the GIL: a real provider's isn't.

The parent drives it over stdin/stdout: the child prints its base URL, then reads one latency
(seconds) per line and answers ``ok`` once applied; end of input stops it.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO


class LLMProcess:
    """Handle on the child: its base URL, and latency changes."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self._process = process
        self.base_url = self._read_line()

    def set_latency(self, seconds: float) -> None:
        self._stdin.write(f"{seconds}\n")
        self._stdin.flush()
        if self._read_line() != "ok":
            raise RuntimeError("the fake LLM process did not apply the latency")

    @property
    def _stdin(self) -> IO[str]:
        assert self._process.stdin is not None
        return self._process.stdin

    def _read_line(self) -> str:
        assert self._process.stdout is not None
        line = self._process.stdout.readline()
        if not line:
            raise RuntimeError("the fake LLM process exited")
        return line.strip()


@contextmanager
def llm_process() -> Iterator[LLMProcess]:
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.llm_process"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        yield LLMProcess(process)
    finally:
        if process.stdin is not None:
            process.stdin.close()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _serve() -> None:
    from devstack.fake_llm import FakeLLMConfig, FakeLLMServer

    with FakeLLMServer() as server:
        print(server.base_url, flush=True)
        for line in sys.stdin:
            server.llm.reset(FakeLLMConfig(latency_seconds=float(line)))
            print("ok", flush=True)


if __name__ == "__main__":
    _serve()
