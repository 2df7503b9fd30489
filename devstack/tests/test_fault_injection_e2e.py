"""Nothing is lost: hundreds of jobs through the devstack while everything goes wrong at once.

The fake LLM injects 15% 429 (Retry-After 1 s), 10% 500 and 5% timeouts per call; 5% of the jobs
always get output that fails validation (the designed-to-fail ones); 2% crash every invocation
that receives them (so their messages dead-letter on the last of the stack's 5 receives); 5% of
the worker's writes (claims, job transitions, re-sends) are applied but lose their response;
10% of the queue messages are duplicated; 6 poison messages sit on the queue (one a valid
envelope of a job nobody created); the worker is killed (SIGKILL) once and stopped (SIGTERM)
once mid-run. Afterwards every job must be final and charged once. ``--soak`` runs ten times as
many jobs.

Each prompt gets at most two random 500s or timeouts: with the job budget of 5 attempts, the kill
and the stop may spend two more, so a job not designed to fail has a real attempt left and must
succeed. Unbounded draws would end about one run in twenty with a job that honestly exhausted its
budget (15% failures five times in a row, or three after two restarts), which is the product
working, not a finding.
"""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from devstack.e2e_support import (
    DevstackProcess,
    StackPorts,
    put_queued_job,
    queue_depth,
    submit,
    wait_for_jobs,
    wait_for_llm_calls,
)
from devstack.fake_llm import FakeLLMConfig, FakeLLMServer

pytestmark = pytest.mark.e2e

QUEUE = "gen-ai-on-aws-dev-jobs"
DLQ = "gen-ai-on-aws-dev-jobs-dlq"
# Short timings so retries, crashed claims and redeliveries play out within the test.
STACK_TIMING = [
    "--function-timeout=10",
    "--visibility-timeout=12",
    "--batch-size=10",
    "--batching-window=0.2",
    "--max-concurrency=4",
    "--max-receive-count=5",  # the stack's poison backstop per message (jobs re-send, so
    # only redeliveries count: a crash, a busy job, a refused re-send)
]
CRASH = "!crash"
# Fault injection in the worker processes: lost write responses, crashing jobs, a fast settler.
WORKER_FAULTS = ["--lose-responses=0.05", f"--crash-marker={CRASH}", "--settle-interval=2"]
ORPHAN_TEXT = "Olga Orphan is 50 years old"
WORKER_ENV = {
    "LLM_TIMEOUT_SECONDS": "1",
    "WORKER_RETRY_BASE_SECONDS": "1",
    "WORKER_RETRY_CAP_SECONDS": "4",
    # 15% 5xx/timeouts open the shared circuit now and then; a 30 s cooldown doubling to 300 s
    # per failed probe would stall the run for minutes (the breaker has its own tests).
    "LLM_CIRCUIT_COOLDOWN_SECONDS": "2",
    "LLM_CIRCUIT_MAX_COOLDOWN_SECONDS": "8",
    "LOG_LEVEL": "WARNING",
}


def _text(index: int) -> str:
    """Every 20th job is designed to fail validation; every 50th (offset 7) crashes its runs."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    name = "Fay" + letters[index // 676 % 26] + letters[index // 26 % 26] + letters[index % 26]
    fault = " !invalid" if index % 20 == 0 else f" {CRASH}" if index % 50 == 7 else ""
    return f"{name} is {20 + index % 60} years old{fault}"


def _poison_bodies() -> dict[str, str]:
    """Five kinds of poison, and a valid message of a job the API never created; the values
    are the job ids recorded `queued` for them ('' none)."""
    envelope = {
        "version": 1,
        "task": "extract_user",
        "payload": {"text": "Una is 40 years old"},
        # Now: an old date would fail them as max_age_exceeded (JOB_MAX_AGE_SECONDS) first.
        "submitted_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "request_id": None,
    }
    ids = [str(uuid.uuid4()) for _ in range(3)]
    orphan = {**envelope, "job_id": str(uuid.uuid4()), "payload": {"text": ORPHAN_TEXT}}
    return {
        "{not json": "",
        json.dumps({**envelope, "job_id": ids[0], "version": 7}): ids[0],
        json.dumps({**envelope, "job_id": ids[1], "task": "summarise_everything"}): ids[1],
        json.dumps({**envelope, "job_id": ids[2], "payload": {"text": 42}}): ids[2],
        json.dumps({"hello": "world"}): "",
        json.dumps(orphan): "",
    }


def _duplicate_some(sqs: Any, queue_url: str, fraction: float) -> int:
    """Receive every message, send copies of a fraction, and make all visible again."""
    received: list[dict[str, Any]] = []
    while True:
        batch = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=60
        ).get("Messages", [])
        if not batch:
            break
        received.extend(batch)
    every = round(1 / fraction)
    copies = [m for i, m in enumerate(received) if i % every == 0]
    for message in copies:
        sqs.send_message(QueueUrl=queue_url, MessageBody=message["Body"])
    for message in received:
        sqs.change_message_visibility(
            QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
        )
    return len(copies)


def _dead_lettered_job_ids(sqs: Any, dlq_url: str) -> set[str]:
    """The job ids of every message in the DLQ (peeked, then made visible again)."""
    seen: dict[str, dict[str, Any]] = {}
    while True:
        batch = sqs.receive_message(
            QueueUrl=dlq_url, MaxNumberOfMessages=10, VisibilityTimeout=30, WaitTimeSeconds=1
        ).get("Messages", [])
        if not batch:
            break
        seen.update({message["MessageId"]: message for message in batch})
    for message in seen.values():
        sqs.change_message_visibility(
            QueueUrl=dlq_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
        )
    return {json.loads(message["Body"])["job_id"] for message in seen.values()}


def _called_after_success(llm: FakeLLMServer, text: str, job: dict[str, Any]) -> bool:
    succeeded_at = datetime.fromisoformat(str(job["updated_at"])).timestamp()
    return max(llm.llm.stats.call_times.get(text, [0.0])) > succeeded_at


def test_every_job_is_accounted_for_under_faults_duplicates_poison_and_restarts(
    start_devstack: Callable[..., DevstackProcess],
    http: httpx.Client,
    request: pytest.FixtureRequest,
) -> None:
    jobs_total = 3000 if request.config.getoption("--soak") else 300
    faults = FakeLLMConfig(
        rate_429=0.15, rate_500=0.10, rate_timeout=0.05, retry_after_seconds=1,
        timeout_sleep_seconds=3.0, seed=7, max_random_failures_per_prompt=2,
    )  # fmt: skip
    started = time.monotonic()
    with FakeLLMServer(faults) as llm:
        # GIVEN a stack with no worker yet, the jobs submitted over HTTP, duplicates and poison
        ports = StackPorts()
        base = [*ports.args(), f"--llm-api-base={llm.base_url}", *STACK_TIMING]
        start_devstack([*base, "--no-worker"], env=WORKER_ENV)
        texts = [_text(i) for i in range(jobs_total)]
        with ThreadPoolExecutor(max_workers=8) as pool:
            job_ids = list(pool.map(lambda text: submit(http, ports.api_url, text), texts))
        sqs: Any = ports.client("sqs")
        queue_url = sqs.get_queue_url(QueueName=QUEUE)["QueueUrl"]
        duplicates = _duplicate_some(sqs, queue_url, fraction=0.10)
        poison = _poison_bodies()
        for body, job_id in poison.items():
            if job_id:  # the API recorded the job; its message arrived corrupted
                put_queued_job(ports.client("dynamodb"), job_id)
            sqs.send_message(QueueUrl=queue_url, MessageBody=body)

        # WHEN the worker runs, is killed, restarted, stopped gracefully and restarted again
        worker = [*base, "--attach", "--no-api", *WORKER_FAULTS]
        first = start_devstack(worker, env=WORKER_ENV)
        wait_for_llm_calls(llm, timeout=120, calls=jobs_total // 3)
        first.stop(kill=True)
        second = start_devstack(worker, env=WORKER_ENV)
        wait_for_llm_calls(llm, timeout=120, calls=2 * jobs_total // 3)
        second.stop()
        third = start_devstack(worker, env=WORKER_ENV)
        jobs = wait_for_jobs(http, ports.api_url, job_ids, timeout=240 + jobs_total / 10)
        poisoned = [job_id for job_id in poison.values() if job_id]
        poison_jobs = wait_for_jobs(http, ports.api_url, poisoned, timeout=60)
        deadline = time.monotonic() + 60
        while queue_depth(sqs, queue_url) and time.monotonic() < deadline:
            time.sleep(0.5)
        third.stop()  # and its settler, which hides DLQ messages while it looks at them
        dlq_url = sqs.get_queue_url(QueueName=DLQ)["QueueUrl"]
        dead_letters = _dead_lettered_job_ids(sqs, dlq_url)
        dead_jobs = wait_for_jobs(http, ports.api_url, sorted(dead_letters), timeout=60)
        elapsed = time.monotonic() - started
        logs = "".join(run.log_path.read_text(errors="replace") for run in (first, second, third))
        lost_responses = logs.count("applied, response lost")

        # THEN every job is final: exactly the designed-to-fail ones failed extraction, the
        # crashing ones were settled from the DLQ, the rest succeeded and none ran again after
        # success; no job nobody created reached the LLM; the queue drained, and the DLQ holds
        # only messages of failed jobs
        statuses = Counter(str(job["status"]) for job in jobs.values())
        codes = Counter(
            str(job["error"]["code"]) for job in jobs.values() if job["status"] == "failed"
        )
        injected = dict(llm.llm.stats.outcomes)
        print(  # the figures quoted in the README's Reliability section
            f"\nfault injection: {jobs_total} jobs, {duplicates} duplicated messages, "
            f"{len(poison)} poison messages, 2 worker restarts (1 SIGKILL), "
            f"{len(dead_letters)} dead-lettered jobs, {lost_responses} lost write responses; "
            "LLM calls by "
            f"outcome {injected}; job statuses {dict(statuses)}; failure codes {dict(codes)}; "
            f"{elapsed:.0f} s"
        )
        for text, job_id in zip(texts, job_ids, strict=True):
            job = jobs[job_id]
            if "!invalid" in text:
                assert job["status"] == "failed", job
                assert job["error"]["code"] == "extraction_failed", job
            elif CRASH in text:
                assert job["status"] == "failed", job
                assert job["error"]["code"] == "retries_exhausted", job
                assert job_id in dead_letters
            else:
                assert job["status"] == "succeeded", (job["error"], job["attempts"], job_id)
                assert not _called_after_success(llm, text, job), job
        assert statuses["succeeded"] + statuses["failed"] == jobs_total
        assert {job["error"]["code"] for job in poison_jobs.values()} == {
            "unsupported_version", "unknown_task", "invalid_payload",
        }  # fmt: skip
        assert llm.llm.stats.calls[ORPHAN_TEXT] == 0
        assert lost_responses > 0
        assert queue_depth(sqs, queue_url) == 0
        assert {job["status"] for job in dead_jobs.values()} == {"failed"}
        assert injected.get("429", 0) > 0
        assert injected.get("500", 0) > 0
        assert injected.get("timeout", 0) > 0
