"""Benchmark 2: what our API adds on top of the two AWS calls it must make per job.

In process (``bench.api_in_process``, a fresh interpreter): ``POST /jobs`` through the Lambda
handler next to the same ``put_item`` + ``send_message`` made directly, against in-process moto.
Over HTTP: ``POST /jobs`` to the API under uvicorn (a devstack process) next to the same raw
pair from this process, at 1, 8 and 32 concurrent clients. Both HTTP paths talk to moto in a
third process, so moto's CPU is billed to neither of them, as AWS's is not.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from bench.api_in_process import raw_enqueue
from bench.support import aws_client, person_text, summary_ms
from devstack.e2e_support import REPO_ROOT, DevstackProcess, StackPorts
from devstack.resources import find_stack_resources

REQUESTS_PER_CLIENT = 25
NO_LLM = "--llm-api-base=http://127.0.0.1:9/v1"


def run(log_dir: Path, levels: tuple[int, ...] = (1, 8, 32)) -> dict[str, Any]:
    results: dict[str, Any] = {"in_process": in_process(log_dir)}
    ports = StackPorts()
    aws = DevstackProcess(
        [*ports.args(), "--no-api", "--no-worker", NO_LLM], log_dir / "devstack-api-bench-aws.log"
    )
    api: DevstackProcess | None = None
    try:
        aws.wait_for_log("devstack ready")
        api = DevstackProcess(
            [*ports.args(), "--attach", "--no-worker", NO_LLM], log_dir / "devstack-api-bench.log"
        )
        api.wait_for_log("devstack ready")
        endpoint = f"http://127.0.0.1:{ports.aws}"
        sqs, dynamodb = aws_client("sqs", endpoint), aws_client("dynamodb", endpoint)
        resources = find_stack_resources(sqs=sqs)
        table = resources.table_name
        # The API sends `normal` jobs to the normal lane; the baseline uses the high lane, a
        # queue configured alike that grows exactly as the API's does (moto allows one purge a
        # minute, and a queue's depth affects its speed).
        queue_url = resources.queue_url_high
        with httpx.Client(timeout=30, limits=httpx.Limits(max_connections=64)) as http:
            for clients in levels:
                total = clients * REQUESTS_PER_CLIENT
                api_timing = _measure(clients, total, lambda i: _post(http, ports.api_url, i))
                raw = _measure(
                    clients,
                    total,
                    lambda i: raw_enqueue(sqs, dynamodb, queue_url, table, person_text(i)),
                )
                results[f"{clients}_clients"] = {
                    "requests": total,
                    "api": api_timing,
                    "raw_boto3": raw,
                    "p50_overhead_ratio": round(api_timing["p50_ms"] / raw["p50_ms"], 2),
                    "throughput_ratio": round(
                        raw["requests_per_s"] / api_timing["requests_per_s"], 2
                    ),
                }
    finally:
        if api is not None:
            api.stop()
        aws.stop()
    return results


def in_process(log_dir: Path) -> dict[str, Any]:
    """`bench.api_in_process` in a fresh interpreter (a cold process with only the API's
    settings); its stdout (the handler's log lines) goes to a log file."""
    with tempfile.TemporaryDirectory(prefix="bench-api-") as scratch:
        result_path = Path(scratch) / "result.json"
        with (log_dir / "api-in-process.log").open("wb") as log:
            subprocess.run(  # noqa: S603 - our interpreter, our module
                [sys.executable, "-m", "bench.api_in_process", str(result_path)],
                cwd=REPO_ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                check=True,
                timeout=600,
            )
        result: dict[str, Any] = json.loads(result_path.read_text())
    return result


def _measure(clients: int, total: int, call: Callable[[int], None]) -> dict[str, float]:
    latencies: list[float] = []

    def timed(index: int) -> None:
        started = time.perf_counter()
        call(index)
        latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        list(pool.map(timed, range(total)))
    elapsed = time.perf_counter() - started
    return {"requests_per_s": round(total / elapsed, 1), **summary_ms(latencies)}


def _post(http: httpx.Client, api_url: str, index: int) -> None:
    body = {"task": "extract_user", "input": {"text": person_text(index)}}
    response = http.post(f"{api_url}/jobs", json=body)
    if response.status_code != 202:
        raise RuntimeError(f"unexpected {response.status_code}: {response.text}")
