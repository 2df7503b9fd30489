"""Benchmark 1: ``worker.main.handler`` on 10- and 50-record batches against a fixed-latency fake
LLM (in its own process, as a provider is), with moto in another.

Reports wall time per batch over the LLM latency (ideal ~1.0), the worker's CPU per record (the
process's CPU time over the batch, divided by its records: what makes a batch slower than one
call and what Lambda bills beyond the wait) and the speed-up over handing the same records to
the handler one at a time. Each ratio is measured ``REPEATS`` times, interleaved in one run, so
machine noise shows as spread instead of moving one figure.
"""

from __future__ import annotations

import json
import os
import statistics
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.llm_process import llm_process
from bench.support import aws_client, aws_process, person_text
from devstack.lambda_runtime import LambdaContext, sqs_record

BATCH = 10
BIG_BATCH = 50  # with WORKER_MAX_CONCURRENCY=50: every record's call in flight at once
REPEATS = 3
TTL_SECONDS = 86_400


class _Queue:
    """Fresh jobs the way the API makes them: the `queued` record, then the message."""

    def __init__(self, endpoint: str, queue_url: str, queue_arn: str, table: str) -> None:
        self.sqs = aws_client("sqs", endpoint)
        self.dynamodb = aws_client("dynamodb", endpoint)
        self.queue_url, self.queue_arn, self.table = queue_url, queue_arn, table
        self.counter = iter(range(1_000_000))

    def event(self, count: int) -> dict[str, Any]:
        """Send ``count`` fresh jobs and receive them back, so receipt handles are real."""
        now = datetime.now(UTC)
        stamp = now.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        bodies = [
            _body(str(uuid.uuid4()), person_text(next(self.counter)), stamp) for _ in range(count)
        ]
        for start in range(0, count, 25):
            requests = [
                {"PutRequest": {"Item": _queued_item(body["job_id"], stamp, now)}}
                for body in bodies[start : start + 25]
            ]
            self.dynamodb.batch_write_item(RequestItems={self.table: requests})
        for start in range(0, count, 10):
            entries = [
                {"Id": str(i), "MessageBody": json.dumps(body)}
                for i, body in enumerate(bodies[start : start + 10])
            ]
            self.sqs.send_message_batch(QueueUrl=self.queue_url, Entries=entries)
        messages: list[dict[str, Any]] = []
        while len(messages) < count:
            response = self.sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=10, AttributeNames=["All"]
            )
            messages.extend(response.get("Messages", []))
        records = [sqs_record(m, queue_arn=self.queue_arn, region="us-east-1") for m in messages]
        return {"Records": records}


def run(log_dir: Path, latencies: tuple[float, ...] = (0.2, 1.0)) -> dict[str, Any]:
    results: dict[str, Any] = {}
    with aws_process(log_dir) as (endpoint, resources), llm_process() as llm:
        _configure_worker(endpoint, resources.queue_url, resources.table_name, llm.base_url)
        from worker.main import handler  # after the environment is set: settings are cached

        queue = _Queue(endpoint, resources.queue_url, resources.queue_arn, resources.table_name)
        llm.set_latency(0.0)
        _invoke(handler, queue.event(1))  # cold start: imports, clients, first connection
        _invoke(handler, queue.event(BIG_BATCH))  # warms the HTTP pool to BIG_BATCH connections
        for latency in latencies:
            llm.set_latency(latency)
            runs: dict[int, list[tuple[float, float]]] = {BATCH: [], BIG_BATCH: []}
            for _ in range(REPEATS):  # interleaved: a busy moment hits both sizes alike
                for size in runs:
                    runs[size].append(_invoke(handler, queue.event(size)))
            one_by_one = sum(_invoke(handler, queue.event(1))[0] for _ in range(BATCH))
            hundred = [_invoke(handler, queue.event(BATCH)) for _ in range(10)]
            name = f"{int(latency * 1000)}ms"
            results[name] = {
                "llm_latency_s": latency,
                **_summary(runs[BATCH], BATCH, latency),
                "one_by_one_wall_s": round(one_by_one, 3),
                "speedup_vs_one_by_one": round(one_by_one / _median_wall(runs[BATCH]), 1),
                "hundred_as_10_batches_wall_s": round(sum(wall for wall, _ in hundred), 3),
                "hundred_cpu_per_record_ms": round(sum(cpu for _, cpu in hundred) * 10, 2),
            }
            results[f"batch_{BIG_BATCH}_{name}"] = {
                "llm_latency_s": latency,
                "worker_max_concurrency": BIG_BATCH,
                **_summary(runs[BIG_BATCH], BIG_BATCH, latency),
            }
    return results


def _summary(runs: list[tuple[float, float]], size: int, latency: float) -> dict[str, Any]:
    """Median of the repeats (the figure the targets read) and every repeat's ratio."""
    walls = [wall for wall, _ in runs]
    cpu_ms = [cpu * 1000 / size for _, cpu in runs]
    return {
        "batch_size": size,
        "batch_wall_s": round(statistics.median(walls), 3),
        "batch_over_latency": round(statistics.median(walls) / latency, 3),
        "batch_over_latency_runs": [round(wall / latency, 3) for wall in walls],
        "cpu_per_record_ms": round(statistics.median(cpu_ms), 2),
        "cpu_per_record_ms_runs": [round(ms, 2) for ms in cpu_ms],
    }


def _median_wall(runs: list[tuple[float, float]]) -> float:
    return statistics.median(wall for wall, _ in runs)


def _configure_worker(endpoint: str, queue_url: str, table: str, llm_base: str) -> None:
    os.environ.update(
        AWS_ENDPOINT_URL=endpoint,
        AWS_REGION="us-east-1",
        AWS_DEFAULT_REGION="us-east-1",
        QUEUE_URL=queue_url,
        JOBS_TABLE_NAME=table,
        LLM_MODEL="openai/fake",
        LLM_API_BASE=llm_base,
        LLM_API_KEY="bench",
        LLM_MODE="JSON_SCHEMA",
        LOG_LEVEL="ERROR",
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        POWERTOOLS_METRICS_DISABLED="true",
        LITELLM_LOCAL_MODEL_COST_MAP="True",
        WORKER_MAX_CONCURRENCY=str(BIG_BATCH),
        WORKER_DEADLINE_MARGIN_SECONDS="2",
    )


def _body(job_id: str, text: str, stamp: str) -> dict[str, Any]:
    return {
        "version": 1,
        "job_id": job_id,
        "task": "extract_user",
        "payload": {"text": text},
        "submitted_at": stamp,
        "request_id": None,
    }


def _queued_item(job_id: str, stamp: str, now: datetime) -> dict[str, Any]:
    """The record the API writes before sending (app's job_records.queued_item, no callback)."""
    return {
        "job_id": {"S": job_id},
        "status": {"S": "queued"},
        "task": {"S": "extract_user"},
        "priority": {"S": "normal"},
        "created_at": {"S": stamp},
        "updated_at": {"S": stamp},
        "attempts": {"N": "0"},
        "expires_at": {"N": str(int(now.timestamp()) + TTL_SECONDS)},
    }


def _invoke(handler: Any, event: dict[str, Any]) -> tuple[float, float]:
    """Wall and process CPU seconds of one invocation (the LLM and moto run elsewhere)."""
    cpu_started = time.process_time()
    started = time.perf_counter()
    response = handler(event, LambdaContext(timeout_seconds=60))
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    if response["batchItemFailures"]:
        raise RuntimeError(f"benchmark batch had failures: {response}")
    return elapsed, cpu
