"""`gen-ai-jobs admin dlq redrive` against the devstack: fix the cause, redrive, jobs succeed.

Jobs fail for good while the provider is down (every call a 500, two attempts each): they end
`retries_exhausted` with copies in the DLQ. The provider recovers, an operator redrives, and
the same jobs run again and succeed; a job that had already succeeded is not run again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from devstack.e2e_support import DevstackProcess, StackPorts, queue_depth, submit, wait_for_jobs
from devstack.fake_llm import FakeLLMConfig, FakeLLMServer
from gen_ai_contracts.queue import QueueMessage
from gen_ai_jobs.cli import app as cli

pytestmark = pytest.mark.e2e

PREFIX = "gen-ai-on-aws-dev"
WORKER_ENV = {
    "JOB_MAX_ATTEMPTS": "2",
    "WORKER_RETRY_BASE_SECONDS": "1",
    "WORKER_RETRY_CAP_SECONDS": "2",
    # Every call fails here: keep the circuit shut, so the jobs fail instead of waiting.
    "LLM_CIRCUIT_FAILURES": "1000",
    "LOG_LEVEL": "WARNING",
}
SUCCEEDED_TEXT = "Sam Early is 52 years old"
BROKEN_TEXTS = [f"{name} is {age} years old" for name, age in [("Pia", 31), ("Quin", 44)]]


def _admin(ports: StackPorts, *args: str) -> Any:
    """Run `gen-ai-jobs admin <args>` in process against the devstack's emulated AWS."""
    options = ["admin", f"--endpoint-url=http://127.0.0.1:{ports.aws}", "--region=us-east-1"]
    env = {"AWS_ACCESS_KEY_ID": "devstack", "AWS_SECRET_ACCESS_KEY": "devstack"}
    result = CliRunner().invoke(cli, [*options, f"--prefix={PREFIX}", *args], env=env)
    assert result.exit_code == 0, result.output
    return result


def _wait_for_status(
    http: httpx.Client, api_url: str, job_ids: list[str], status: str, timeout: float = 90
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        jobs = [http.get(f"{api_url}/jobs/{job_id}").json() for job_id in job_ids]
        if all(job["status"] == status for job in jobs):
            return
        assert time.monotonic() < deadline, jobs
        time.sleep(0.5)


def test_a_redrive_after_the_fix_runs_the_failed_jobs_again_and_skips_finished_ones(
    start_devstack: Callable[..., DevstackProcess], http: httpx.Client
) -> None:
    with FakeLLMServer(FakeLLMConfig()) as llm:
        ports = StackPorts()
        start_devstack(
            [*ports.args(), f"--llm-api-base={llm.base_url}", "--settle-interval=0"],
            env=WORKER_ENV,
        )
        # GIVEN a job that succeeded while the provider was up ...
        done = submit(http, ports.api_url, SUCCEEDED_TEXT)
        assert wait_for_jobs(http, ports.api_url, [done])[done]["status"] == "succeeded"
        # ... and jobs that failed for good while every call was a 500
        llm.llm.config = FakeLLMConfig(rate_500=1.0)
        broken = [submit(http, ports.api_url, text) for text in BROKEN_TEXTS]
        _wait_for_status(http, ports.api_url, broken, "failed")
        sqs: Any = ports.client("sqs")
        dlq_url = sqs.get_queue_url(QueueName=f"{PREFIX}-jobs-dlq")["QueueUrl"]
        # (and a stray copy of the finished job's message in the DLQ too)
        stray = QueueMessage(
            job_id=done,
            task="extract_user",
            payload={"text": SUCCEEDED_TEXT},
            submitted_at=datetime.now(UTC),
        )
        sqs.send_message(QueueUrl=dlq_url, MessageBody=stray.model_dump_json())
        listed = _admin(ports, "dlq", "list", "--sample=10").output
        assert "retries_exhausted" in listed
        assert all(text not in listed for text in [*BROKEN_TEXTS, SUCCEEDED_TEXT])

        # WHEN the provider recovers and the operator redrives the DLQ
        llm.llm.config = FakeLLMConfig()
        moved = _admin(ports, "dlq", "redrive").output

        # THEN the failed jobs run again and succeed, the finished one is not run again,
        # and nothing is left on the queues
        assert "moved: 3" in moved
        _wait_for_status(http, ports.api_url, broken, "succeeded")
        assert llm.llm.stats.calls[SUCCEEDED_TEXT] == 1
        assert queue_depth(sqs, dlq_url) == 0
        queue_url = sqs.get_queue_url(QueueName=f"{PREFIX}-jobs")["QueueUrl"]
        deadline = time.monotonic() + 30
        while queue_depth(sqs, queue_url) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert queue_depth(sqs, queue_url) == 0
