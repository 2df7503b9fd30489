"""Benchmark 4: end-to-end jobs/s and submit-to-done latency through the devstack.

The whole pipeline (uvicorn API, moto, the ESM-faithful poller calling the worker handler) runs as
one ``python -m devstack`` process; the fake LLM answers in 500 ms. Compared at worker batch
size 1 and 10 with the ESM's minimum MaximumConcurrency of 2, so the ratio shows what batching
buys under a concurrency cap that protects the provider's rate limit.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from bench.support import person_text, summary_ms
from devstack.e2e_support import DevstackProcess, StackPorts, submit, wait_for_jobs
from devstack.fake_llm import FakeLLMConfig, FakeLLMServer

JOBS = 100


def run(
    log_dir: Path, latency: float = 0.5, batch_sizes: tuple[int, ...] = (1, 10)
) -> dict[str, Any]:
    results: dict[str, Any] = {}
    with FakeLLMServer(FakeLLMConfig(latency_seconds=latency)) as llm:
        for batch_size in batch_sizes:
            results[f"batch_{batch_size}"] = _run_one(log_dir, llm, batch_size)
    results["llm_latency_s"] = latency
    return results


def _run_one(log_dir: Path, llm: FakeLLMServer, batch_size: int) -> dict[str, Any]:
    ports = StackPorts()
    args = [
        *ports.args(),
        f"--llm-api-base={llm.base_url}",
        f"--batch-size={batch_size}",
        "--batching-window=0.2",
        "--max-concurrency=2",
    ]
    stack = DevstackProcess(args, log_dir / f"devstack-throughput-{batch_size}.log")
    try:
        stack.wait_for_log("devstack ready")
        with httpx.Client(timeout=30) as http:
            started = time.perf_counter()
            with ThreadPoolExecutor(max_workers=8) as pool:
                job_ids = list(
                    pool.map(lambda i: submit(http, ports.api_url, person_text(i)), range(JOBS))
                )
            jobs = wait_for_jobs(http, ports.api_url, job_ids, timeout=300)
            elapsed = time.perf_counter() - started
    finally:
        stack.stop()
    failed = [job for job in jobs.values() if job["status"] != "succeeded"]
    if failed:
        raise RuntimeError(f"{len(failed)} jobs failed during the throughput benchmark")
    latencies = [_seconds(job["updated_at"]) - _seconds(job["created_at"]) for job in jobs.values()]
    return {"jobs": JOBS, "jobs_per_s": round(JOBS / elapsed, 2), **summary_ms(latencies)}


def _seconds(stamp: object) -> float:
    return datetime.fromisoformat(str(stamp)).timestamp()
