"""The API's own cost per job, in process: ``POST /jobs`` through the Lambda handler (Mangum,
an API Gateway v2 event, 202) next to the two AWS calls it wraps, made directly.

Both run against in-process moto (with the devstack's cheap SQS clock and atomic writes), in
one fresh interpreter configured like the deployed function (``LOG_LEVEL`` INFO, log lines
written), alternating one of each so load on the machine falls on both alike. Run as
``python -m bench.api_in_process RESULT_PATH``: the handler's log lines go to stdout, so the
result goes to a file.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3

from bench.support import REGION, summary_ms

SAMPLES = 300
WARMUP = 30
HEALTH_SAMPLES = 200
TEXT = "Jason is 25 years old"


def measure(samples: int = SAMPLES) -> dict[str, Any]:
    """Median and p99 of each path, and their ratio (API / raw)."""
    from moto import mock_aws

    from devstack import moto_atomic, moto_clock
    from devstack.resources import create_stack_resources

    os.environ.update(
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_REGION=REGION,
        AWS_DEFAULT_REGION=REGION,
    )
    os.environ.pop("AWS_ENDPOINT_URL", None)
    moto_atomic.install()
    moto_clock.install()
    with mock_aws():
        from gen_ai_on_aws.services.aws import AWS_CLIENT_CONFIG

        sqs = boto3.client("sqs", region_name=REGION, config=AWS_CLIENT_CONFIG)
        dynamodb = boto3.client("dynamodb", region_name=REGION, config=AWS_CLIENT_CONFIG)
        stack = create_stack_resources(sqs=sqs, dynamodb=dynamodb)
        # The API sends `normal` jobs to the normal lane; the raw calls go to the high lane, a
        # queue configured alike that grows alike (moto's SendMessage slows with depth).
        raw_queue_url = stack.queue_url_high
        # Open, as the devstack runs it: without keys the API would answer 503 (fail closed).
        os.environ.update(
            QUEUE_URL=stack.queue_url, JOBS_TABLE_NAME=stack.table_name, ALLOW_ANONYMOUS="true"
        )
        from devstack.lambda_runtime import LambdaContext
        from gen_ai_on_aws.main import handler  # after the environment names the stack

        def api() -> None:
            response = handler(_jobs_event(TEXT), LambdaContext())
            if response["statusCode"] != 202:
                raise RuntimeError(f"POST /jobs answered {response}")

        def raw() -> None:
            raw_enqueue(sqs, dynamodb, raw_queue_url, stack.table_name, TEXT)

        def health() -> None:
            response = handler(_http_api_v2_event("GET", "/health"), LambdaContext())
            if response["statusCode"] != 200:
                raise RuntimeError(f"GET /health answered {response}")

        for _ in range(WARMUP):
            api()
            raw()
        api_timings, raw_timings = _alternating(api, raw, samples)
        health_timings, _ = _alternating(health, lambda: None, HEALTH_SAMPLES)
    api_summary, raw_summary = _summary(api_timings), _summary(raw_timings)
    return {
        "samples": samples,
        "api": api_summary,
        "raw_boto3": raw_summary,
        "p50_overhead_ratio": round(api_summary["p50_ms"] / raw_summary["p50_ms"], 2),
        "cpu_p50_overhead_ratio": round(api_summary["cpu_p50_ms"] / raw_summary["cpu_p50_ms"], 2),
        "api_minus_raw_cpu_p50_ms": round(api_summary["cpu_p50_ms"] - raw_summary["cpu_p50_ms"], 3),
        "health": _summary(health_timings),
    }


def raw_enqueue(sqs: Any, dynamodb: Any, queue_url: str, table: str, text: str) -> None:
    """The floor: the record and the message `POST /jobs` writes (same attributes, same
    envelope, same MessageGroupId), with nothing around them."""
    job_id = str(uuid.uuid4())
    now = "2026-12-02T12:00:00.000000Z"
    dynamodb.put_item(
        TableName=table,
        Item={
            "job_id": {"S": job_id},
            "status": {"S": "queued"},
            "task": {"S": "extract_user"},
            "priority": {"S": "normal"},
            "created_at": {"S": now},
            "updated_at": {"S": now},
            "attempts": {"N": "0"},
            "expires_at": {"N": "1796000000"},
            "tenant": {"S": "default"},
            "request_id": {"S": job_id},
        },
        ConditionExpression="attribute_not_exists(job_id)",
    )
    body = {
        "version": 1,
        "job_id": job_id,
        "task": "extract_user",
        "payload": {"text": text},
        "submitted_at": now,
        "request_id": job_id,
        "model": None,
        "priority": "normal",
        "tenant": "default",
        "dispatch": 0,
    }
    sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(body), MessageGroupId="default")


Timings = tuple[list[float], list[float]]  # wall-clock and CPU seconds per call


def _alternating(
    first: Callable[[], None], second: Callable[[], None], samples: int
) -> tuple[Timings, Timings]:
    """Wall-clock and CPU seconds per call of each, alternating which goes first."""
    first_timings: Timings = ([], [])
    second_timings: Timings = ([], [])
    for index in range(samples):
        order = [(first, first_timings), (second, second_timings)]
        for call, (wall, cpu) in order[:: -1 if index % 2 else 1]:
            wall_started, cpu_started = time.perf_counter(), time.process_time()
            call()
            cpu.append(time.process_time() - cpu_started)
            wall.append(time.perf_counter() - wall_started)
    return first_timings, second_timings


def _summary(timings: Timings) -> dict[str, float]:
    """Wall-clock p50/p99 and the CPU p50 (on a shared machine, the wall clock also counts
    time spent waiting for a core; in process, every step is CPU)."""
    wall, cpu = timings
    return {**summary_ms(wall), "cpu_p50_ms": round(statistics.median(cpu) * 1000, 3)}


def _jobs_event(text: str) -> dict[str, Any]:
    event = _http_api_v2_event("POST", "/jobs")
    event["headers"]["content-type"] = "application/json"
    event["body"] = json.dumps({"task": "extract_user", "input": {"text": text}})
    return event


def _http_api_v2_event(method: str, path: str) -> dict[str, Any]:
    """An API Gateway HTTP API (payload 2.0) event, as the API Lambda receives it."""
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
            "time": "02/Dec/2026:12:00:00 +0000",
            "timeEpoch": 1796212800000,
        },
        "isBase64Encoded": False,
    }


def main(argv: list[str]) -> int:
    Path(argv[0]).write_text(json.dumps(measure()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
