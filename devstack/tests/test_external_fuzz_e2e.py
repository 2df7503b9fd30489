"""An external fuzzer against the devstack over HTTP, as a new user would run it: schemathesis'
CLI on `/openapi.json`, every phase (stateful included), with and without API keys. Its auth
checks must pass both ways: the document states the auth mode the API is really in."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from devstack.e2e_support import DevstackProcess, StackPorts
from devstack.fake_llm import FakeLLMServer

pytestmark = pytest.mark.e2e

API_KEY = "fuzz-http-key-0123456789abcdef"
CHECKS = "not_a_server_error,ignored_auth,missing_required_header"


def _schemathesis() -> list[str]:
    installed = shutil.which("schemathesis", path=str(Path(sys.executable).parent))
    assert installed, "schemathesis is a dev dependency of the workspace"
    return [installed]


@pytest.mark.parametrize("keys", [None, API_KEY], ids=["open", "keys"])
def test_the_fuzzers_auth_checks_pass_over_http_in_either_mode(
    start_devstack: Callable[..., DevstackProcess],
    fake_llm: FakeLLMServer,
    tmp_path: Path,
    keys: str | None,
) -> None:
    # GIVEN a devstack (embedded model off: the fake LLM answers), open or with a key
    ports = StackPorts()
    args = [*ports.args(), f"--llm-api-base={fake_llm.base_url}", "--settle-interval=0"]
    start_devstack([*args, f"--api-keys={keys}"] if keys else args)

    # WHEN schemathesis runs every phase against its published schema (with the key, if any)
    headers = ["-H", f"X-API-Key: {keys}"] if keys else []
    run = subprocess.run(  # noqa: S603 - the workspace's own schemathesis, fixed arguments
        [
            *_schemathesis(),
            "run",
            f"{ports.api_url}/openapi.json",
            *headers,
            f"--checks={CHECKS}",
            "--phases=examples,coverage,fuzzing,stateful",
            "--max-examples=5",
            "--max-time=20",
            "--workers=1",
            "--request-timeout=10",
            "--suppress-health-check=all",
            f"--report-dir={tmp_path}",
        ],
        cwd=tmp_path,  # its caches and reports stay out of the checkout
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    # THEN it finds nothing: no 5xx, no ignored auth, no "missing required header accepted"
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
