"""Shared pieces of the benchmarks: timing statistics, unique texts, a local AWS endpoint."""

from __future__ import annotations

import logging
import os
import statistics
import string
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

from devstack.e2e_support import free_port
from devstack.resources import StackResources, create_stack_resources

REGION = "us-east-1"


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile; enough for the sample sizes used here."""
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))
    return ordered[index]


def summary_ms(seconds: list[float]) -> dict[str, float]:
    millis = [s * 1000 for s in seconds]
    return {
        "p50_ms": round(statistics.median(millis), 2),
        "p99_ms": round(percentile(millis, 0.99), 2),
    }


def person_text(index: int, age: int = 30) -> str:
    """A unique sentence the fake LLM can read: a capitalised name made of letters only."""
    letters = string.ascii_lowercase
    suffix = letters[index // 676 % 26] + letters[index // 26 % 26] + letters[index % 26]
    return f"Ben{suffix} is {age} years old"


def aws_client(service: str, endpoint: str) -> Any:
    """A client for the local moto server (fixed dummy credentials: never a real account)."""
    return boto3.client(  # type: ignore[call-overload]
        service,
        region_name=REGION,
        endpoint_url=endpoint,
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
    )


@contextmanager
def local_aws(prefix: str = "bench") -> Iterator[tuple[str, StackResources]]:
    """moto's server on a free 127.0.0.1 port with the stack's queue, DLQ and table."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's per-request access log
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    try:
        resources = create_stack_resources(
            sqs=aws_client("sqs", endpoint),
            dynamodb=aws_client("dynamodb", endpoint),
            prefix=prefix,
            visibility_timeout_seconds=60,
        )
        yield endpoint, resources
    finally:
        server.stop()
