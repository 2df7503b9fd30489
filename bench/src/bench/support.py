"""Shared pieces of the benchmarks: timing statistics, unique texts, a local AWS endpoint."""

from __future__ import annotations

import os
import platform
import statistics
import string
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3

from devstack.e2e_support import DevstackProcess, StackPorts
from devstack.resources import StackResources, find_stack_resources

REGION = "us-east-1"


def machine() -> str:
    """What the numbers were measured on, stored with them."""
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


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
def aws_process(log_dir: Path) -> Iterator[tuple[str, StackResources]]:
    """moto in its own process (the devstack with nothing else), so its CPU is not billed to
    the code being measured, as AWS's is not."""
    ports = StackPorts()
    stack = DevstackProcess(
        [*ports.args(), "--no-api", "--no-worker", "--llm-api-base=http://127.0.0.1:9/v1"],
        log_dir / "devstack-aws.log",
    )
    try:
        stack.wait_for_log("devstack ready")
        endpoint = f"http://127.0.0.1:{ports.aws}"
        yield endpoint, find_stack_resources(sqs=aws_client("sqs", endpoint))
    finally:
        stack.stop()
