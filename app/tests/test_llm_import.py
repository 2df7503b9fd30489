"""litellm and instructor (seconds of CPU to import) load only on the synchronous extraction path,
or at init when LLM_PREWARM is true: a cold start serving the queued and read-only routes never
pays for them.

Each case is a cold start of the Lambda handler in a fresh interpreter (`lambda_probe.py`), the
only place where "not imported yet" is observable, serving API Gateway v2 events against moto.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from devstack.fake_llm import FakeLLMServer

PROBE = Path(__file__).parent / "lambda_probe.py"

OTHER_ROUTES = {
    "POST /jobs": 202,
    "POST /extract-user-async": 202,
    "POST /jobs/batch": 202,
    "GET /jobs/{id}": 200,
    "POST /jobs/{id}/cancel": 200,
    "GET /tasks": 200,
    "GET /health": 200,
    "GET /docs": 200,
    "GET /openapi.json": 200,
}


def run_probe(mode: str, llm: FakeLLMServer) -> Any:
    """The probe's report, in a fresh interpreter configured like the deployed API (dummy AWS
    credentials) with the fake LLM as its provider."""
    environment = {
        name: value
        for name, value in os.environ.items()
        if name not in {"AWS_ENDPOINT_URL", "AWS_PROFILE", "APP_SECRET_ID", "API_KEYS"}
        and not name.startswith("LLM_")
    }
    environment.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_REGION="us-east-1",
        LITELLM_LOCAL_MODEL_COST_MAP="True",
        LLM_MODEL="openai/fake-model",
        LLM_API_BASE=llm.base_url,
        LLM_API_KEY="sk-test-not-a-real-key",
    )
    completed = subprocess.run(  # noqa: S603 (our interpreter, our script)
        [sys.executable, str(PROBE), mode],
        capture_output=True,
        text=True,
        env=environment,
        timeout=150,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads(completed.stdout.strip().splitlines()[-1])


@pytest.mark.timeout(180)
def test_importing_the_handler_and_serving_the_other_routes_never_imports_them(
    fake_llm: FakeLLMServer,
) -> None:
    # GIVEN a cold start where importing litellm or instructor fails and is recorded
    # WHEN the handler serves every route but the synchronous extraction, then that one
    report = run_probe("blocked", fake_llm)

    # THEN neither the import of gen_ai_on_aws.main nor any of them tried to import them
    assert report["attempts_before_extract_user"] == []
    assert {k: v for k, v in report["statuses"].items() if k in OTHER_ROUTES} == OTHER_ROUTES
    # AND only /extract-user asks for them (500 here: it could not import them)
    assert report["statuses"]["POST /extract-user"] == 500
    assert report["attempted_by_extract_user"] != []


@pytest.mark.timeout(180)
def test_the_synchronous_extraction_imports_them_on_first_use(fake_llm: FakeLLMServer) -> None:
    # GIVEN a cold start with the packages available
    # WHEN the handler serves the other routes, then POST /extract-user
    report = run_probe("lazy", fake_llm)

    # THEN nothing loaded them until the extraction, which loaded them and answered
    assert report["loaded_after_import"] == report["loaded_after_other_routes"] == []
    assert report["statuses"] == {**OTHER_ROUTES, "POST /extract-user": 200}
    assert report["extracted"]["name"] == "Jason"
    assert report["loaded_after_extract_user"] == ["instructor", "litellm"]


@pytest.mark.timeout(180)
def test_llm_prewarm_imports_them_at_init(fake_llm: FakeLLMServer) -> None:
    # GIVEN LLM_PREWARM=true
    report = run_probe("prewarm", fake_llm)

    # THEN the cold start loaded them, and every route works as without it
    assert report["loaded_after_import"] == ["instructor", "litellm"]
    assert report["statuses"] == {**OTHER_ROUTES, "POST /extract-user": 200}
