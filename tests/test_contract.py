"""The contract between the API and the worker (docs/contracts.md), proven with both codebases.

Each Lambda ships its own copy of the shared models; these tests fail the moment the copies
drift: what the API enqueues the worker must run, and the schemas must be equal.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from devstack.fake_llm import FakeLLMServer
from devstack.lambda_runtime import LambdaContext, sqs_record
from devstack.resources import StackResources
from gen_ai_on_aws.models.queue import QueueMessage as ApiQueueMessage
from gen_ai_on_aws.models.request import ExtractUserRequest as ApiExtractUserRequest
from gen_ai_on_aws.models.user import User as ApiUser
from gen_ai_on_aws.services.extraction import SYSTEM_PROMPT as API_SYSTEM_PROMPT
from gen_ai_on_aws.services.job_submission import submit_job
from gen_ai_on_aws.services.jobs_repository import JobsRepository
from gen_ai_on_aws.services.queue_service import QueueService
from worker.config import get_settings
from worker.main import handler
from worker.models.extract_user import ExtractUserRequest as WorkerExtractUserRequest
from worker.models.extract_user import User as WorkerUser
from worker.models.queue import QueueMessage as WorkerQueueMessage
from worker.runtime import get_worker
from worker.tasks.extract_user import SYSTEM_PROMPT as WORKER_SYSTEM_PROMPT

REGION = "us-east-1"
# devstack's context is duck-typed like the one the Lambda runtime passes.
LAMBDA_CONTEXT: Any = LambdaContext


@pytest.fixture
def worker_env(
    monkeypatch: pytest.MonkeyPatch, aws: StackResources, fake_llm: FakeLLMServer
) -> Iterator[StackResources]:
    """The worker configured against the moto stack and the fake LLM, as a cold start."""
    for name, value in {
        "QUEUE_URL": aws.queue_url,
        "JOBS_TABLE_NAME": aws.table_name,
        "LLM_MODEL": "openai/fake-model",
        "LLM_API_BASE": fake_llm.base_url,
        "LLM_API_KEY": "sk-test-not-a-real-key",
    }.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    get_worker.cache_clear()
    yield aws
    get_settings.cache_clear()
    get_worker.cache_clear()


def test_a_job_submitted_by_the_api_is_run_by_the_worker(worker_env: StackResources) -> None:
    # GIVEN a job submitted through the API's own services (record first, then the message)
    sqs = boto3.client("sqs", region_name=REGION)
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    jobs = JobsRepository(client=dynamodb, table_name=worker_env.table_name, ttl_seconds=3600)
    job_id = submit_job(
        jobs=jobs,
        queue=QueueService(client=sqs, queue_url=worker_env.queue_url),
        task="extract_user",
        payload=ApiExtractUserRequest(text="Jason is 25 years old, jason@example.com").model_dump(),
        request_id="req-contract",
        now=datetime.now(UTC),
    )
    # WHEN SQS delivers the API's message to the worker the way Lambda does
    [message] = sqs.receive_message(
        QueueUrl=worker_env.queue_url, AttributeNames=["All"], MaxNumberOfMessages=10
    )["Messages"]
    record = sqs_record(dict(message), queue_arn=worker_env.queue_arn, region=REGION)
    response = handler({"Records": [record]}, LAMBDA_CONTEXT())
    # THEN the message is acknowledged and the API reads the finished job back
    assert response == {"batchItemFailures": []}
    job = jobs.get_job(job_id=job_id, now=datetime.now(UTC))
    assert job is not None
    assert (job.status, job.attempts, job.task) == ("succeeded", 1, "extract_user")
    assert job.result == {"name": "Jason", "age": 25, "email": "jason@example.com"}
    assert ApiUser.model_validate(job.result) == ApiUser(
        name="Jason", age=25, email="jason@example.com"
    )


def test_a_failed_job_is_readable_by_the_api(worker_env: StackResources) -> None:
    sqs = boto3.client("sqs", region_name=REGION)
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    jobs = JobsRepository(client=dynamodb, table_name=worker_env.table_name, ttl_seconds=3600)
    job_id = submit_job(
        jobs=jobs,
        queue=QueueService(client=sqs, queue_url=worker_env.queue_url),
        task="extract_user",
        payload={"text": "nobody is described here"},
        request_id=None,
        now=datetime.now(UTC),
    )
    [message] = sqs.receive_message(QueueUrl=worker_env.queue_url, AttributeNames=["All"])[
        "Messages"
    ]
    record = sqs_record(dict(message), queue_arn=worker_env.queue_arn, region=REGION)
    assert handler({"Records": [record]}, LAMBDA_CONTEXT()) == {"batchItemFailures": []}
    job = jobs.get_job(job_id=job_id, now=datetime.now(UTC))
    assert job is not None
    assert job.status == "failed"
    assert job.error is not None
    assert job.error.code == "extraction_failed"


@pytest.mark.parametrize(
    ("api_model", "worker_model"),
    [
        (ApiQueueMessage, WorkerQueueMessage),
        (ApiExtractUserRequest, WorkerExtractUserRequest),
        (ApiUser, WorkerUser),
    ],
)
def test_both_sides_have_the_same_json_schema(api_model: Any, worker_model: Any) -> None:
    for mode in ("validation", "serialization"):
        assert api_model.model_json_schema(mode=mode) == worker_model.model_json_schema(mode=mode)


def test_messages_survive_the_round_trip_both_ways() -> None:
    api_message = ApiQueueMessage(
        job_id="0b6e7c1e-2f7a-4c1e-9a55-3f0e2d9f5b10",
        task="extract_user",
        payload={"text": "Jason is 25 years old"},
        submitted_at=datetime(2026, 11, 23, 14, 45, 0, 123456, tzinfo=UTC),
        request_id="c0ffee",
    )
    body = api_message.model_dump_json()
    assert json.loads(body)["submitted_at"] == "2026-11-23T14:45:00.123456Z"
    worker_message = WorkerQueueMessage.model_validate_json(body)
    assert worker_message.model_dump() == api_message.model_dump()
    assert worker_message.model_dump_json() == body


def test_sync_and_async_extraction_use_the_same_prompt() -> None:
    assert WORKER_SYSTEM_PROMPT == API_SYSTEM_PROMPT


# Settings both Lambdas read, by DESIGN.md and docs/contracts.md; the Pulumi program and the
# devstack set these names for both functions.
SHARED_SETTINGS = {
    "queue_url", "jobs_table_name", "app_secret_id", "job_ttl_seconds", "llm_model",
    "llm_api_base", "llm_api_key", "llm_mode", "llm_timeout_seconds", "llm_max_retries",
    "langfuse_public_key", "langfuse_secret_key", "langfuse_host", "log_level", "aws_region",
}  # fmt: skip


def test_both_lambdas_read_the_shared_settings_with_the_same_types_and_defaults() -> None:
    from gen_ai_on_aws.config import Settings as ApiSettings
    from worker.config import Settings as WorkerSettings

    api_fields, worker_fields = ApiSettings.model_fields, WorkerSettings.model_fields
    assert api_fields.keys() >= SHARED_SETTINGS
    assert worker_fields.keys() >= SHARED_SETTINGS
    for name in SHARED_SETTINGS:
        api, worker = api_fields[name], worker_fields[name]
        assert (api.annotation, api.default) == (worker.annotation, worker.default), name
