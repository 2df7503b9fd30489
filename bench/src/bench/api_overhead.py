"""Benchmark 2: what our API adds on top of the two AWS calls it must make per job.

``POST /extract-user-async`` through uvicorn (the devstack, a separate process) against moto's
server, next to the same number of raw boto3 ``put_item`` + ``send_message`` pairs from this
process to the same moto server, at 1, 8 and 32 concurrent clients. Also the in-process Mangum
handler time for one API Gateway v2 event.
"""

from __future__ import annotations

import json
import os
import statistics
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from bench.support import aws_client, person_text, summary_ms
from devstack.e2e_support import DevstackProcess, StackPorts

REQUESTS_PER_CLIENT = 25


def run(log_dir: Path, levels: tuple[int, ...] = (1, 8, 32)) -> dict[str, Any]:
    ports = StackPorts()
    stack = DevstackProcess(
        [*ports.args(), "--no-worker", "--llm-api-base=http://127.0.0.1:9/v1"],
        log_dir / "devstack-api-bench.log",
    )
    try:
        stack.wait_for_log("devstack ready")
        endpoint = f"http://127.0.0.1:{ports.aws}"
        sqs, dynamodb = aws_client("sqs", endpoint), aws_client("dynamodb", endpoint)
        # The baseline gets its own queue that grows exactly as the API's does (moto allows one
        # purge a minute, and a queue's depth affects its speed).
        queue_url = sqs.create_queue(QueueName="bench-raw-baseline")["QueueUrl"]
        table = "gen-ai-on-aws-dev-jobs"
        results: dict[str, Any] = {}
        with httpx.Client(timeout=30, limits=httpx.Limits(max_connections=64)) as http:
            for clients in levels:
                total = clients * REQUESTS_PER_CLIENT
                api = _measure(clients, total, lambda i: _post(http, ports.api_url, i))
                raw = _measure(clients, total, lambda i: _raw(sqs, dynamodb, queue_url, table, i))
                results[f"{clients}_clients"] = {
                    "requests": total,
                    "api": api,
                    "raw_boto3": raw,
                    "p50_overhead_ratio": round(api["p50_ms"] / raw["p50_ms"], 2),
                    "throughput_ratio": round(raw["requests_per_s"] / api["requests_per_s"], 2),
                }
    finally:
        stack.stop()
    results["mangum_v2_event_p50_ms"] = _mangum_in_process()
    return results


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
    response = http.post(f"{api_url}/extract-user-async", json={"text": person_text(index)})
    if response.status_code != 202:
        raise RuntimeError(f"unexpected {response.status_code}: {response.text}")


def _raw(sqs: Any, dynamodb: Any, queue_url: str, table: str, index: int) -> None:
    """The floor: the same two AWS calls the endpoint makes, with nothing around them."""
    job_id = str(uuid.uuid4())
    dynamodb.put_item(
        TableName=table,
        Item={"job_id": {"S": job_id}, "status": {"S": "queued"}},
        ConditionExpression="attribute_not_exists(job_id)",
    )
    body = {
        "version": 1,
        "job_id": job_id,
        "task": "extract_user",
        "payload": {"text": person_text(index)},
    }
    sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(body))


def _mangum_in_process(samples: int = 200) -> float:
    """GET /health through the Lambda handler: Mangum + FastAPI cost with no AWS call."""
    os.environ.setdefault("QUEUE_URL", "https://sqs.us-east-1.amazonaws.com/123456789012/q")
    os.environ.setdefault("JOBS_TABLE_NAME", "bench")
    os.environ.setdefault("LOG_LEVEL", "ERROR")
    from devstack.lambda_runtime import LambdaContext
    from gen_ai_on_aws.main import handler

    event = _http_api_v2_event("GET", "/health")
    timings = []
    for _ in range(samples):
        started = time.perf_counter()
        response = handler(event, LambdaContext())
        timings.append(time.perf_counter() - started)
        if response["statusCode"] != 200:
            raise RuntimeError(f"health check failed: {response}")
    return round(statistics.median(timings) * 1000, 3)


def _http_api_v2_event(method: str, path: str) -> dict[str, Any]:
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"host": "abc123.execute-api.us-east-1.amazonaws.com", "accept": "*/*"},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123",
            "domainName": "abc123.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "abc123",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": "bench",
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": "$default",
            "time": "23/Nov/2026:12:00:00 +0000",
            "timeEpoch": 1795440000000,
        },
        "isBase64Encoded": False,
    }
