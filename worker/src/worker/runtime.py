"""The worker's long-lived collaborators, built once per process and injectable in tests."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

from gen_ai_contracts import snapstart
from gen_ai_contracts.llm import LlmClient
from worker.config import Settings, get_settings
from worker.log import configure_logging
from worker.services.aws import dynamodb_client, sqs_client
from worker.services.jobs import JobStore
from worker.services.loop import SharedLoop, shared_loop
from worker.services.model_gate import ModelGate
from worker.services.tracing import Tracing

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_sqs.client import SQSClient


@dataclass(frozen=True)
class Worker:
    """Everything an invocation needs besides its event and context."""

    settings: Settings
    jobs: JobStore
    sqs: SQSClient
    llm: LlmClient
    tracing: Tracing
    loop: SharedLoop
    gate: ModelGate


def build_worker(
    settings: Settings,
    *,
    dynamodb: DynamoDBClient | None = None,
    sqs: SQSClient | None = None,
    loop: SharedLoop = shared_loop,
) -> Worker:
    """Wire the worker; pass clients to use fakes or moto-backed ones."""
    region = settings.aws_region
    dynamodb = dynamodb or dynamodb_client(region)
    jobs = JobStore(dynamodb, settings.jobs_table_name)
    return Worker(
        settings=settings,
        jobs=jobs,
        sqs=sqs or sqs_client(region),
        llm=LlmClient(settings),
        tracing=Tracing.from_settings(settings),
        loop=loop,
        gate=ModelGate.from_settings(settings, dynamodb),
    )


@cache
def get_worker() -> Worker:
    """The process's worker, built on the first invocation (cold start)."""
    settings = get_settings()
    configure_logging(settings.log_level)
    return build_worker(settings)


@snapstart.register_after_restore
def _after_restore() -> None:
    """SnapStart: the next invocation builds the worker again (new clients, pools, settings
    and credentials); see gen_ai_contracts.snapstart."""
    snapstart.reset_process_state()
    get_settings.cache_clear()
    get_worker.cache_clear()
