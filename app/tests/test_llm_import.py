"""litellm and instructor (seconds of CPU to import) load only on the synchronous extraction path:
a cold start serving the queued and read-only routes never pays for them.

Each case runs in a fresh interpreter, the only place where "not imported yet" is observable.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest

LLM_PACKAGES = ("litellm", "instructor")

# Blocked packages: `import litellm` raises ImportError, so any import-time use would fail.
SERVE_WITHOUT_LLM_PACKAGES = """
import json, os, sys
for name in ("litellm", "instructor"):
    sys.modules[name] = None

import boto3
from moto import mock_aws

from devstack.resources import create_stack_resources

with mock_aws():
    stack = create_stack_resources(
        sqs=boto3.client("sqs", region_name="us-east-1"),
        dynamodb=boto3.client("dynamodb", region_name="us-east-1"),
    )
    os.environ.update(QUEUE_URL=stack.queue_url, JOBS_TABLE_NAME=stack.table_name)
    from fastapi.testclient import TestClient

    from gen_ai_on_aws.main import app

    client = TestClient(app, raise_server_exceptions=False)
    queued = client.post("/extract-user-async", json={"text": "Jason is 25 years old"})
    job = client.post("/jobs", json={"task": "complete", "input": {"prompt": "Hello"}})
    statuses = {
        "extract-user-async": queued.status_code,
        "jobs": job.status_code,
        "tasks": client.get("/tasks").status_code,
        "job": client.get(job.json()["status_url"]).status_code,
        "health": client.get("/health").status_code,
        "extract-user": client.post("/extract-user", json={"text": "Jason is 25"}).status_code,
    }
    print(json.dumps(statuses))
"""

LOADED_AFTER_IMPORT = """
import json, sys
import gen_ai_on_aws.main
print(json.dumps(sorted(name for name in sys.modules if name.split(".")[0] in {packages})))
"""


def run_python(code: str) -> Any:
    """Run `code` in a fresh interpreter configured like a test (dummy AWS credentials)."""
    environment = {
        name: value
        for name, value in os.environ.items()
        if name not in {"AWS_ENDPOINT_URL", "AWS_PROFILE", "APP_SECRET_ID", "API_KEYS"}
    }
    environment.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_REGION="us-east-1",
        QUEUE_URL="http://127.0.0.1:9/123456789012/jobs",
        JOBS_TABLE_NAME="jobs",
    )
    completed = subprocess.run(  # noqa: S603 (our interpreter, our code)
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads(completed.stdout.strip().splitlines()[-1])


@pytest.mark.timeout(180)
def test_importing_the_app_imports_neither_litellm_nor_instructor() -> None:
    loaded = run_python(LOADED_AFTER_IMPORT.format(packages=set(LLM_PACKAGES)))

    assert loaded == []


@pytest.mark.timeout(180)
def test_queued_and_read_routes_work_without_the_llm_packages() -> None:
    # GIVEN an interpreter where litellm and instructor cannot be imported at all
    # WHEN the app is imported and serves every route but the synchronous extraction
    statuses = run_python(SERVE_WITHOUT_LLM_PACKAGES)

    # THEN they all answer; only /extract-user needed the packages (500 here: it could not
    # import them, which proves it is the one path that loads them)
    assert statuses == {
        "extract-user-async": 202,
        "jobs": 202,
        "tasks": 200,
        "job": 200,
        "health": 200,
        "extract-user": 500,
    }
