"""The whole pipeline over real HTTP: API -> SQS -> worker poller -> DynamoDB -> API.

The devstack runs as a subprocess (``python -m devstack``) against the fake LLM served by this
test process, so outcomes are deterministic and LLM calls can be counted per job.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx
import pytest

from devstack.e2e_support import (
    StackPorts,
    put_queued_job,
    submit,
    wait_for_jobs,
    wait_for_llm_calls,
    wait_until_drained,
)
from devstack.fake_llm import FakeLLMServer

pytestmark = pytest.mark.e2e

NAMES = [
    "Alice", "Bruno", "Chloe", "Dmitri", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jonas",
    "Kemal", "Lucia", "Mateo", "Nadia", "Oscar", "Priya", "Quinn", "Rosa", "Samir", "Tessa",
]  # fmt: skip


def _stack_args(ports: StackPorts, llm: FakeLLMServer, *extra: str) -> list[str]:
    return [*ports.args(), f"--llm-api-base={llm.base_url}", "--batching-window=0.2", *extra]


def test_twenty_jobs_all_succeed_with_valid_users(
    start_devstack: Callable[..., Any], fake_llm: FakeLLMServer, http: httpx.Client
) -> None:
    # GIVEN a running devstack
    ports = StackPorts()
    start_devstack(_stack_args(ports, fake_llm))
    names = NAMES

    # WHEN 20 jobs are submitted over HTTP
    job_ids = [
        submit(http, ports.api_url, f"{name} is {20 + i} years old.")
        for i, name in enumerate(names)
    ]

    # THEN every job succeeds with the user the text describes, each processed once
    jobs = wait_for_jobs(http, ports.api_url, job_ids)
    for i, job_id in enumerate(job_ids):
        assert jobs[job_id]["status"] == "succeeded", jobs[job_id]
        assert jobs[job_id]["result"] == {"name": names[i], "age": 20 + i, "email": None}
    assert all(count == 1 for count in fake_llm.llm.stats.calls.values())


def test_output_that_never_validates_ends_failed_with_clear_error(
    start_devstack: Callable[..., Any], fake_llm: FakeLLMServer, http: httpx.Client
) -> None:
    ports = StackPorts()
    start_devstack(_stack_args(ports, fake_llm))

    job_id = submit(http, ports.api_url, "Nobody is described here !invalid")

    job = wait_for_jobs(http, ports.api_url, [job_id])[job_id]
    assert job["status"] == "failed"
    error = job["error"]
    assert isinstance(error, dict)
    assert error["code"] == "extraction_failed"
    assert error["message"]


def test_poison_messages_never_block_other_jobs(
    start_devstack: Callable[..., Any], fake_llm: FakeLLMServer, http: httpx.Client
) -> None:
    # GIVEN poison put straight on the queue: not JSON, and valid envelopes of an unknown
    # version, one for a job the API recorded and one for a job nobody created
    ports = StackPorts()
    start_devstack(_stack_args(ports, fake_llm, "--no-worker"))
    sqs: Any = ports.client("sqs")
    queue_url = sqs.get_queue_url(QueueName="gen-ai-on-aws-dev-jobs")["QueueUrl"]
    poison_job_id, orphan_job_id = str(uuid.uuid4()), str(uuid.uuid4())
    put_queued_job(ports.client("dynamodb"), poison_job_id)
    sqs.send_message(QueueUrl=queue_url, MessageBody="{not json at all")
    for job_id in (poison_job_id, orphan_job_id):
        sqs.send_message(
            QueueUrl=queue_url,
            MessageBody=json.dumps(
                {
                    "version": 99,
                    "job_id": job_id,
                    "task": "extract_user",
                    "payload": {"text": "Ann is 30 years old"},
                    "submitted_at": "2026-11-23T12:00:00Z",
                    "request_id": None,
                }
            ),
        )
    job_ids = [submit(http, ports.api_url, f"{NAMES[i]} is 4{i} years old") for i in range(5)]

    # WHEN a worker starts on that queue
    start_devstack(
        [*_stack_args(ports, fake_llm), "--attach", "--no-api"], ready_text="devstack ready"
    )

    # THEN the good jobs succeed, the versioned poison's job is failed, and the queue drains
    jobs = wait_for_jobs(http, ports.api_url, job_ids)
    assert {job["status"] for job in jobs.values()} == {"succeeded"}
    poison = wait_for_jobs(http, ports.api_url, [poison_job_id])[poison_job_id]
    assert poison["status"] == "failed"
    assert isinstance(poison["error"], dict)
    assert poison["error"]["code"] == "unsupported_version"
    wait_until_drained(sqs, queue_url)
    # AND the job nobody created was not created by the worker either
    assert http.get(f"{ports.api_url}/jobs/{orphan_job_id}").status_code == 404


def test_worker_crash_and_restart_mid_run_loses_nothing(
    start_devstack: Callable[..., Any], fake_llm: FakeLLMServer, http: httpx.Client
) -> None:
    # GIVEN a stack whose worker runs as its own process, with short timeouts so a crash's
    # claims expire quickly (visibility stays above the function timeout, as in AWS)
    fake_llm.llm.config.latency_seconds = 0.3
    ports = StackPorts()
    timing = ["--function-timeout=8", "--visibility-timeout=12", "--batch-size=5"]
    start_devstack([*_stack_args(ports, fake_llm, *timing), "--no-worker"])
    worker_args = [*_stack_args(ports, fake_llm, *timing), "--attach", "--no-api"]
    job_ids = [submit(http, ports.api_url, f"{NAMES[i]} is {30 + i} years old") for i in range(20)]

    # WHEN the worker is killed mid-run (SIGKILL, like a crashed Lambda) and later restarted,
    # then stopped gracefully and started again
    first = start_devstack(worker_args)
    wait_for_llm_calls(fake_llm, calls=3, timeout=30)
    first.stop(kill=True)
    second = start_devstack(worker_args)
    time.sleep(1.0)
    second.stop()
    start_devstack(worker_args)

    # THEN every job succeeds, and no job reached the LLM again once it was marked succeeded
    # (a crash between the LLM answer and the write may repeat a call: at-least-once delivery)
    jobs = wait_for_jobs(http, ports.api_url, job_ids, timeout=90)
    assert {job["status"] for job in jobs.values()} == {"succeeded"}
    for i, job_id in enumerate(job_ids):
        succeeded_at = datetime.fromisoformat(str(jobs[job_id]["updated_at"])).timestamp()
        calls = fake_llm.llm.stats.call_times[f"{NAMES[i]} is {30 + i} years old"]
        assert max(calls) <= succeeded_at, f"LLM called after {job_id} succeeded"
