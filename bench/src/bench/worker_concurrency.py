"""Benchmark 1: ``worker.main.handler`` on 10-record batches against a fixed-latency fake LLM.

Reports wall time per batch over the LLM latency (ideal ~1.0) and the speed-up over handing the
same records to the handler one at a time, all in one run so the ratio cancels machine noise.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.support import aws_client, aws_process, person_text
from devstack.fake_llm import FakeLLMConfig, FakeLLMServer
from devstack.lambda_runtime import LambdaContext, sqs_record

BATCH = 10


def run(log_dir: Path, latencies: tuple[float, ...] = (0.2, 1.0)) -> dict[str, Any]:
    results: dict[str, Any] = {}
    with aws_process(log_dir) as (endpoint, resources), FakeLLMServer() as llm:
        _configure_worker(endpoint, resources.queue_url, resources.table_name, llm.base_url)
        from worker.main import handler  # after the environment is set: settings are cached

        sqs = aws_client("sqs", endpoint)
        counter = iter(range(1_000_000))
        _invoke(handler, _events(sqs, resources.queue_url, resources.queue_arn, counter, 1))
        for latency in latencies:
            llm.llm.reset(FakeLLMConfig(latency_seconds=latency))
            queue = (sqs, resources.queue_url, resources.queue_arn, counter)
            batch_wall = _invoke(handler, _events(*queue, BATCH))
            one_by_one = sum(_invoke(handler, _events(*queue, 1)) for _ in range(BATCH))
            hundred = sum(_invoke(handler, _events(*queue, BATCH)) for _ in range(10))
            results[f"{int(latency * 1000)}ms"] = {
                "llm_latency_s": latency,
                "batch_wall_s": round(batch_wall, 3),
                "batch_over_latency": round(batch_wall / latency, 2),
                "one_by_one_wall_s": round(one_by_one, 3),
                "speedup_vs_one_by_one": round(one_by_one / batch_wall, 1),
                "hundred_as_10_batches_wall_s": round(hundred, 3),
            }
    return results


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
        WORKER_MAX_CONCURRENCY=str(BATCH),
        WORKER_DEADLINE_MARGIN_SECONDS="2",
    )


def _events(sqs: Any, queue_url: str, queue_arn: str, counter: Any, count: int) -> dict[str, Any]:
    """Send ``count`` fresh jobs and receive them back, so receipt handles are real."""
    for _ in range(count):
        body = {
            "version": 1,
            "job_id": str(uuid.uuid4()),
            "task": "extract_user",
            "payload": {"text": person_text(next(counter))},
            "submitted_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            "request_id": None,
        }
        sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(body))
    messages: list[dict[str, Any]] = []
    while len(messages) < count:
        response = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, AttributeNames=["All"]
        )
        messages.extend(response.get("Messages", []))
    records = [sqs_record(m, queue_arn=queue_arn, region="us-east-1") for m in messages]
    return {"Records": records}


def _invoke(handler: Any, event: dict[str, Any]) -> float:
    started = time.perf_counter()
    response = handler(event, LambdaContext(timeout_seconds=60))
    elapsed = time.perf_counter() - started
    if response["batchItemFailures"]:
        raise RuntimeError(f"benchmark batch had failures: {response}")
    return elapsed
