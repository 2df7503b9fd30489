"""End-to-end test support: the devstack as a real subprocess on free ports, driven over HTTP."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import httpx

from devstack.call_recorder import RECORD_ENV
from devstack.config import REGION, STACK_PREFIX
from devstack.fake_llm import FakeLLMServer

REPO_ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class DevstackProcess:
    """One ``python -m devstack`` process; stopped with SIGTERM (or killed, to simulate a crash)."""

    def __init__(
        self, args: list[str], log_path: Path, extra_env: dict[str, str] | None = None
    ) -> None:
        self.args = args
        self.log_path = log_path
        env = {k: v for k, v in os.environ.items() if not k.startswith(("LLM_", "LANGFUSE_"))}
        env.pop("APP_SECRET_ID", None)
        env.update(extra_env or {})
        self._log = log_path.open("wb")
        # While the IAM proof records (root conftest.py), so does every devstack started here.
        module = "devstack.recorded_main" if env.get(RECORD_ENV) else "devstack"
        self.process = subprocess.Popen(  # noqa: S603 - our own module, fixed arguments
            [sys.executable, "-m", module, *args],
            cwd=REPO_ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def wait_for_log(self, text: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.log_path.read_text(errors="replace"):
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError(f"devstack never printed {text!r}:\n{self.log_path.read_text()}")

    def stop(self, *, kill: bool = False) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self._log.close()


class StackPorts:
    def __init__(self) -> None:
        self.api = free_port()
        self.aws = free_port()
        self.llm = free_port()

    def args(self) -> list[str]:
        return [
            f"--api-port={self.api}",
            f"--aws-port={self.aws}",
            f"--llm-port={self.llm}",
        ]

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api}"

    def client(self, service: str) -> Any:
        return boto3.client(  # type: ignore[call-overload]
            service,
            region_name=REGION,
            endpoint_url=f"http://127.0.0.1:{self.aws}",
            aws_access_key_id="devstack",
            aws_secret_access_key="devstack",
        )


def wait_for_jobs(
    http: httpx.Client,
    api_url: str,
    job_ids: list[str],
    timeout: float = 60.0,
    poll_seconds: float = 0.2,
) -> dict[str, dict[str, Any]]:
    """Poll every job until it is finished (succeeded, failed or cancelled); fail the test if
    any is not by then. Large sets poll less often, so the polling does not slow the stack."""
    done: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and len(done) < len(job_ids):
        for job_id in job_ids:
            if job_id in done:
                continue
            job = http.get(f"{api_url}/jobs/{job_id}").raise_for_status().json()
            if job["status"] in ("succeeded", "failed", "cancelled"):
                done[job_id] = job
        time.sleep(poll_seconds)
    pending = [job_id for job_id in job_ids if job_id not in done]
    assert not pending, f"{len(pending)} jobs not finished after {timeout:.0f} s"
    return done


def submit(http: httpx.Client, api_url: str, text: str) -> str:
    response = http.post(f"{api_url}/extract-user-async", json={"text": text})
    assert response.status_code == 202, response.text
    return str(response.json()["job_id"])


def submit_job(
    http: httpx.Client,
    api_url: str,
    task: str,
    task_input: dict[str, Any],
    model: str | None = None,
    priority: str | None = None,
) -> str:
    """``POST /jobs``: any task of the registry, optionally on a chosen model and lane."""
    body: dict[str, Any] = {"task": task, "input": task_input}
    if model is not None:
        body["model"] = model
    if priority is not None:
        body["priority"] = priority
    response = http.post(f"{api_url}/jobs", json=body)
    assert response.status_code == 202, response.text
    return str(response.json()["job_id"])


def wait_for_llm_calls(llm: FakeLLMServer, calls: int, timeout: float = 60.0) -> None:
    """Block until the fake LLM has answered ``calls`` requests: the worker is making progress."""
    deadline = time.monotonic() + timeout
    while sum(llm.llm.stats.calls.values()) < calls:
        assert time.monotonic() < deadline, f"fewer than {calls} LLM calls after {timeout:.0f} s"
        time.sleep(0.05)


def queue_depth(sqs: Any, queue_url: str) -> int:
    """Visible plus in-flight messages."""
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=names)
    return sum(int(attributes["Attributes"][name]) for name in names)


def wait_until_drained(sqs: Any, queue_url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while queue_depth(sqs, queue_url) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert queue_depth(sqs, queue_url) == 0, f"queue not drained after {timeout:.0f} s"


def put_queued_job(dynamodb: Any, job_id: str, *, task: str = "extract_user") -> None:
    """Record ``job_id`` as `queued`, exactly as the API does before it sends the message (a
    test then puts its own, e.g. poison, message on a queue: the worker never creates jobs)."""
    from gen_ai_on_aws.services.job_records import QueuedJob, queued_item

    job = QueuedJob(job_id=job_id, task=task, tenant="default")
    item = queued_item(job, request_id=None, now=datetime.now(UTC), ttl_seconds=3600)
    dynamodb.put_item(TableName=f"{STACK_PREFIX}-jobs", Item=item)
