"""Jobs in and out of the limits benchmark's devstack: submit at once, collect the final records,
and what only the emulated AWS shows (re-sent jobs, the DLQ)."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Any

import httpx

from devstack.e2e_support import StackPorts
from devstack.fake_llm import FakeLLMServer
from devstack.resources import StackResources, find_stack_resources

FINAL = ("succeeded", "failed", "cancelled")
# The API shares the devstack's process (and GIL) with the worker, so a large set is polled only
# when the provider has answered enough calls, or this often: polling must not slow the run.
SWEEP_SECONDS = 15.0
SMALL_SET = 20
BATCH_LIMIT = 100  # POST /jobs/batch's most items per request


@dataclass
class JobRun:
    """One devstack and its provider, as the benchmark drives them."""

    http: httpx.Client
    ports: StackPorts
    llm: FakeLLMServer
    log_path: Path

    @cached_property
    def resources(self) -> StackResources:
        return find_stack_resources(sqs=self.ports.client("sqs"))

    def provider_successes(self) -> int:
        return sum(self.llm.llm.stats.successes.values())

    def resent_jobs(self, job_ids: list[str]) -> int:
        """Jobs whose message was re-sent at least once (the record's internal ``dispatch``):
        deferred by the limiter, a 429 or an open circuit, or retried after a failure."""
        wanted = set(job_ids)
        pages = (
            self.ports.client("dynamodb")
            .get_paginator("scan")
            .paginate(
                TableName=self.resources.table_name,
                ProjectionExpression="job_id, #dispatch",
                ExpressionAttributeNames={"#dispatch": "dispatch"},
            )
        )
        return sum(
            1
            for page in pages
            for item in page["Items"]
            if item["job_id"]["S"] in wanted and int(item.get("dispatch", {}).get("N", 0)) > 0
        )

    def dlq_depth(self) -> int:
        names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        attributes = self.ports.client("sqs").get_queue_attributes(
            QueueUrl=self.resources.dlq_url, AttributeNames=names
        )["Attributes"]
        return sum(int(attributes.get(name, 0)) for name in names)


def submit_many(
    run: JobRun, count: int, label: str, *, model: str | None = None, priority: str | None = None
) -> list[str]:
    """``count`` plain-text jobs (one provider call each) through ``POST /jobs/batch``, its
    100-job requests sent concurrently: a backlog is queued in seconds, not job by job."""
    item: dict[str, Any] = {"task": "complete"} | ({"model": model} if model else {})
    chunks = [
        range(start, min(start + BATCH_LIMIT, count)) for start in range(0, count, BATCH_LIMIT)
    ]

    def one(chunk: range) -> list[str]:
        jobs = [item | {"input": {"prompt": f"{label} {i}", "max_tokens": 8}} for i in chunk]
        body = {"jobs": jobs, "priority": priority or "normal"}
        response = run.http.post(f"{run.ports.api_url}/jobs/batch", json=body)
        if response.status_code != 202:
            raise RuntimeError(f"batch submit answered {response.status_code}: {response.text}")
        return [str(result["job_id"]) for result in response.json()["results"]]

    with ThreadPoolExecutor(max_workers=4) as pool:
        return [job_id for ids in pool.map(one, chunks) for job_id in ids]


def wait_for(
    run: JobRun, job_ids: list[str], *, successes: int | None, timeout: float
) -> dict[str, dict[str, Any]]:
    """The final records of the jobs that finished within ``timeout`` (the others are missing).

    A set larger than SMALL_SET is swept once the provider has answered ``successes`` calls
    (None: at once), else every SWEEP_SECONDS, so a run whose jobs fail still ends.
    """
    done: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + timeout
    last_sweep = float("-inf")
    while len(done) < len(job_ids) and time.monotonic() < deadline:
        ready = (
            successes is None or len(job_ids) <= SMALL_SET or run.provider_successes() >= successes
        )
        if ready or time.monotonic() - last_sweep >= SWEEP_SECONDS:
            for job_id in (job_id for job_id in job_ids if job_id not in done):
                job = run.http.get(f"{run.ports.api_url}/jobs/{job_id}").raise_for_status().json()
                if job["status"] in FINAL:
                    done[job_id] = job
            last_sweep = time.monotonic()
        time.sleep(0.5 if ready else 1.0)
    return done


def finished_at(job: dict[str, Any]) -> float:
    return datetime.fromisoformat(str(job["updated_at"])).timestamp()


def time_to_finish(job: dict[str, Any]) -> float:
    """Submit to final status, both stamped by the stack."""
    return finished_at(job) - datetime.fromisoformat(str(job["created_at"])).timestamp()
