"""What still crosses a boundary between the API and the worker (docs/contracts.md).

The shapes themselves are defined once, in `gen_ai_contracts`, and bundled into both Lambdas.
These tests prove the two codebases use them compatibly: a job the API submits for each task is
one the worker runs, and the result the worker stores is one the API serves.
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
from gen_ai_contracts.queue import Priority, QueueMessage
from gen_ai_contracts.tasks import TASKS
from gen_ai_contracts.tasks.extract_user import User
from gen_ai_on_aws.config import Settings as ApiSettings
from gen_ai_on_aws.services.job_submission import NewJob, submit_job
from gen_ai_on_aws.services.jobs_repository import JobsRepository
from gen_ai_on_aws.services.queue_service import JobQueues
from worker.config import Settings as WorkerSettings
from worker.config import get_settings
from worker.main import handler
from worker.runtime import get_worker

REGION = "us-east-1"
# devstack's context is duck-typed like the one the Lambda runtime passes.
LAMBDA_CONTEXT: Any = LambdaContext

# One valid input per task: adding a task to the registry without one here fails below.
TASK_INPUTS: dict[str, dict[str, Any]] = {
    "extract_user": {"text": "Jason is 25 years old, jason@example.com"},
    "complete": {"prompt": "Say hello to Jason", "max_tokens": 32},
}


TENANT = "acme"  # the submitting tenant: the only one that may read its jobs


@pytest.fixture
def worker_env(
    monkeypatch: pytest.MonkeyPatch, aws: StackResources, fake_llm: FakeLLMServer
) -> Iterator[StackResources]:
    """The worker configured against the moto stack and the fake LLM, as a cold start."""
    for name, value in {
        "QUEUE_URL": aws.queue_url,
        "QUEUE_URL_HIGH": aws.queue_url_high,
        "QUEUE_URL_LOW": aws.queue_url_low,
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


def _submit_and_deliver(
    stack: StackResources,
    *,
    task: str,
    payload: dict[str, Any],
    model: str | None = None,
    priority: Priority = "normal",
) -> tuple[JobsRepository, str, dict[str, Any]]:
    """Submit through the API's own services, then run the message through the worker's handler
    exactly as Lambda delivers it from the lane's queue."""
    sqs = boto3.client("sqs", region_name=REGION)
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    jobs = JobsRepository(client=dynamodb, table_name=stack.table_name, ttl_seconds=3600)
    lanes: dict[Priority, tuple[str, str]] = {
        "high": (stack.queue_url_high, stack.queue_arn_high),
        "normal": (stack.queue_url, stack.queue_arn),
        "low": (stack.queue_url_low, stack.queue_arn_low),
    }
    queue_url, queue_arn = lanes[priority]
    job_id = submit_job(
        jobs=jobs,
        queues=JobQueues(client=sqs, lane_urls={lane: url for lane, (url, _) in lanes.items()}),
        job=NewJob(task=task, payload=payload, model=model, priority=priority),
        tenant=TENANT,
        request_id="req-contract",
        now=datetime.now(UTC),
    )
    [message] = sqs.receive_message(
        QueueUrl=queue_url, AttributeNames=["All"], MaxNumberOfMessages=10
    )["Messages"]
    record = sqs_record(dict(message), queue_arn=queue_arn, region=REGION)
    return jobs, job_id, dict(handler({"Records": [record]}, LAMBDA_CONTEXT()))


def test_every_registered_task_has_a_contract_case() -> None:
    assert set(TASK_INPUTS) == set(TASKS)


@pytest.mark.parametrize("task", sorted(TASK_INPUTS))
def test_a_job_the_api_submits_for_each_task_is_run_by_the_worker(
    worker_env: StackResources, task: str
) -> None:
    # GIVEN an input the API validated with the task's own model
    payload = TASKS[task].input_model.model_validate(TASK_INPUTS[task]).model_dump(mode="json")
    # WHEN the API submits it and SQS delivers the API's message to the worker
    jobs, job_id, response = _submit_and_deliver(worker_env, task=task, payload=payload)
    # THEN the message is acknowledged and the API reads back a result of the task's model
    assert response == {"batchItemFailures": []}
    job = jobs.get_job(job_id=job_id, tenant=TENANT, now=datetime.now(UTC))
    assert job is not None
    assert (job.status, job.attempts, job.task) == ("succeeded", 1, task)
    TASKS[task].result_model.model_validate(job.result)
    assert job.model == "openai/fake-model"
    assert job.usage is not None
    assert job.usage.prompt_tokens > 0


def test_the_extracted_user_reaches_the_api_unchanged(worker_env: StackResources) -> None:
    jobs, job_id, _ = _submit_and_deliver(
        worker_env, task="extract_user", payload=TASK_INPUTS["extract_user"]
    )
    job = jobs.get_job(job_id=job_id, tenant=TENANT, now=datetime.now(UTC))
    assert job is not None
    assert User.model_validate(job.result) == User(name="Jason", age=25, email="jason@example.com")


def test_the_model_a_client_chose_travels_to_the_worker(
    worker_env: StackResources, monkeypatch: pytest.MonkeyPatch
) -> None:
    jobs, job_id, _ = _submit_and_deliver(
        worker_env, task="complete", payload=TASK_INPUTS["complete"], model="openai/other-model"
    )
    job = jobs.get_job(job_id=job_id, tenant=TENANT, now=datetime.now(UTC))
    assert job is not None
    assert job.model == "openai/other-model"


@pytest.mark.parametrize("priority", ["high", "low"])
def test_a_job_from_each_lane_is_run_and_keeps_its_priority(
    worker_env: StackResources, priority: Priority
) -> None:
    jobs, job_id, response = _submit_and_deliver(
        worker_env, task="complete", payload=TASK_INPUTS["complete"], priority=priority
    )

    assert response == {"batchItemFailures": []}
    job = jobs.get_job(job_id=job_id, tenant=TENANT, now=datetime.now(UTC))
    assert job is not None
    assert (job.status, job.priority) == ("succeeded", priority)


def test_a_failed_job_is_readable_by_the_api(worker_env: StackResources) -> None:
    jobs, job_id, response = _submit_and_deliver(
        worker_env, task="extract_user", payload={"text": "nobody is described here"}
    )
    assert response == {"batchItemFailures": []}
    job = jobs.get_job(job_id=job_id, tenant=TENANT, now=datetime.now(UTC))
    assert job is not None
    assert job.status == "failed"
    assert job.error is not None
    assert job.error.code == "extraction_failed"


def test_the_envelope_serialises_timestamps_in_the_z_form() -> None:
    message = QueueMessage(
        job_id="0b6e7c1e-2f7a-4c1e-9a55-3f0e2d9f5b10",
        task="extract_user",
        payload={"text": "Jason is 25 years old"},
        submitted_at=datetime(2026, 11, 23, 14, 45, 0, 123456, tzinfo=UTC),
        request_id="c0ffee",
    )
    body = message.model_dump_json()
    assert json.loads(body)["submitted_at"] == "2026-11-23T14:45:00.123456Z"
    assert QueueMessage.model_validate_json(body) == message


def test_both_lambdas_extend_the_one_shared_settings_class() -> None:
    from gen_ai_contracts.settings import SharedSettings

    assert issubclass(ApiSettings, SharedSettings)
    assert issubclass(WorkerSettings, SharedSettings)
    for name, shared in SharedSettings.model_fields.items():
        for settings_class in (ApiSettings, WorkerSettings):
            field = settings_class.model_fields[name]
            assert (field.annotation, field.default) == (shared.annotation, shared.default), name
