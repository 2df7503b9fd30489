"""JobsRepository: the job record the API writes, deletes and reads."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import boto3
import pytest
from botocore.config import Config

from devstack.resources import StackResources
from gen_ai_on_aws.services.aws import create_dynamodb_client
from gen_ai_on_aws.services.errors import (
    JobNotCancellableError,
    JobNotFoundError,
    StoreUnavailableError,
)
from gen_ai_on_aws.services.job_records import QueuedJob
from gen_ai_on_aws.services.jobs_repository import JobsRepository

NOW = datetime(2026, 11, 23, 14, 45, 0, 123456, tzinfo=UTC)
TTL_SECONDS = 3600


def build_repository(table_name: str) -> JobsRepository:
    return JobsRepository(
        client=create_dynamodb_client("us-east-1"), table_name=table_name, ttl_seconds=TTL_SECONDS
    )


def raw_item(table_name: str, job_id: str) -> dict[str, Any] | None:
    client = boto3.client("dynamodb", region_name="us-east-1")
    return client.get_item(TableName=table_name, Key={"job_id": {"S": job_id}}).get("Item")


def put_raw_item(table_name: str, **attributes: dict[str, Any]) -> None:
    client = boto3.client("dynamodb", region_name="us-east-1")
    client.put_item(TableName=table_name, Item=attributes)


def finished_job_attributes(job_id: str, **extra: dict[str, Any]) -> dict[str, dict[str, Any]]:
    expires_at = str(int(NOW.timestamp()) + TTL_SECONDS)
    return {
        "job_id": {"S": job_id},
        "task": {"S": "extract_user"},
        "created_at": {"S": "2026-11-23T14:45:00.123456Z"},
        "updated_at": {"S": "2026-11-23T14:45:03.000000Z"},
        "attempts": {"N": "1"},
        "expires_at": {"N": expires_at},
        **extra,
    }


def test_put_queued_job_writes_the_contract_record(aws: StackResources) -> None:
    job_id = str(uuid4())

    job = QueuedJob(job_id=job_id, task="extract_user", priority="high", tenant="key-0123abcd")

    build_repository(aws.table_name).put_queued_job(job=job, request_id="req-1", now=NOW)

    assert raw_item(aws.table_name, job_id) == {
        "job_id": {"S": job_id},
        "status": {"S": "queued"},
        "task": {"S": "extract_user"},
        "priority": {"S": "high"},
        "tenant": {"S": "key-0123abcd"},
        "request_id": {"S": "req-1"},
        "created_at": {"S": "2026-11-23T14:45:00.123456Z"},
        "updated_at": {"S": "2026-11-23T14:45:00.123456Z"},
        "attempts": {"N": "0"},
        "expires_at": {"N": str(int(NOW.timestamp()) + TTL_SECONDS)},
    }


def test_put_queued_job_omits_an_unknown_request_id(aws: StackResources) -> None:
    job_id = str(uuid4())

    build_repository(aws.table_name).put_queued_job(
        job=QueuedJob(job_id=job_id, task="extract_user"), request_id=None, now=NOW
    )

    item = raw_item(aws.table_name, job_id)
    assert item is not None
    assert "request_id" not in item


def test_put_queued_job_never_overwrites_an_existing_job(aws: StackResources) -> None:
    job_id = str(uuid4())
    put_raw_item(aws.table_name, **finished_job_attributes(job_id, status={"S": "succeeded"}))

    with pytest.raises(StoreUnavailableError, match="ConditionalCheckFailed"):
        build_repository(aws.table_name).put_queued_job(
            job=QueuedJob(job_id=job_id, task="extract_user"), request_id=None, now=NOW
        )
    item = raw_item(aws.table_name, job_id)
    assert item is not None
    assert item["status"] == {"S": "succeeded"}


def test_delete_queued_job_removes_a_queued_job(aws: StackResources) -> None:
    repository = build_repository(aws.table_name)
    job_id = str(uuid4())
    repository.put_queued_job(
        job=QueuedJob(job_id=job_id, task="extract_user"), request_id=None, now=NOW
    )

    repository.delete_queued_job(job_id=job_id)

    assert raw_item(aws.table_name, job_id) is None


def test_delete_queued_job_leaves_a_claimed_job_alone(aws: StackResources) -> None:
    job_id = str(uuid4())
    put_raw_item(aws.table_name, **finished_job_attributes(job_id, status={"S": "running"}))

    build_repository(aws.table_name).delete_queued_job(job_id=job_id)

    assert raw_item(aws.table_name, job_id) is not None


def test_get_job_returns_none_for_an_unknown_id(aws: StackResources) -> None:
    assert (
        build_repository(aws.table_name).get_job(job_id=str(uuid4()), tenant="default", now=NOW)
        is None
    )


def test_get_job_returns_a_queued_job(aws: StackResources) -> None:
    repository = build_repository(aws.table_name)
    job_id = str(uuid4())
    repository.put_queued_job(
        job=QueuedJob(job_id=job_id, task="extract_user"), request_id=None, now=NOW
    )

    job = repository.get_job(job_id=job_id, tenant="default", now=NOW)

    assert job is not None
    assert (job.job_id, job.status, job.attempts, job.result, job.error) == (
        job_id,
        "queued",
        0,
        None,
        None,
    )
    assert job.created_at == NOW


def test_get_job_parses_the_result_json_of_a_succeeded_job(aws: StackResources) -> None:
    job_id = str(uuid4())
    result = {"name": "Jason", "age": 25, "email": None}
    put_raw_item(
        aws.table_name,
        **finished_job_attributes(
            job_id, status={"S": "succeeded"}, result={"S": json.dumps(result)}
        ),
    )

    job = build_repository(aws.table_name).get_job(job_id=job_id, tenant="default", now=NOW)

    assert job is not None
    assert job.status == "succeeded"
    assert job.result == result
    assert job.attempts == 1


def test_get_job_returns_the_error_of_a_failed_job(aws: StackResources) -> None:
    job_id = str(uuid4())
    error = {"M": {"code": {"S": "extraction_failed"}, "message": {"S": "no person"}}}
    put_raw_item(
        aws.table_name, **finished_job_attributes(job_id, status={"S": "failed"}, error=error)
    )

    job = build_repository(aws.table_name).get_job(job_id=job_id, tenant="default", now=NOW)

    assert job is not None
    assert job.error is not None
    assert (job.status, job.error.code, job.error.message) == (
        "failed",
        "extraction_failed",
        "no person",
    )


def test_get_job_treats_an_expired_job_as_absent(aws: StackResources) -> None:
    # DynamoDB deletes expired items up to 48 hours late; the API must not serve them.
    repository = build_repository(aws.table_name)
    job_id = str(uuid4())
    repository.put_queued_job(
        job=QueuedJob(job_id=job_id, task="extract_user"), request_id=None, now=NOW
    )
    after_expiry = NOW + timedelta(seconds=TTL_SECONDS + 1)

    assert repository.get_job(job_id=job_id, tenant="default", now=after_expiry) is None
    assert raw_item(aws.table_name, job_id) is not None


@pytest.mark.parametrize(
    "operation",
    [
        lambda repo: repo.put_queued_job(
            job=QueuedJob(job_id=str(uuid4()), task="t"), request_id=None, now=NOW
        ),
        lambda repo: repo.get_job(job_id=str(uuid4()), tenant="default", now=NOW),
        lambda repo: repo.delete_queued_job(job_id=str(uuid4())),
        lambda repo: repo.cancel_queued_job(job_id=str(uuid4()), tenant="default", now=NOW),
        lambda repo: repo.put_queued_jobs(
            jobs=[QueuedJob(str(uuid4()), "t")], request_id=None, now=NOW
        ),
        lambda repo: repo.delete_unqueued_jobs(job_ids=[str(uuid4())]),
    ],
    ids=["put", "get", "delete", "cancel", "put-many", "delete-many"],
)
def test_missing_table_raises_store_unavailable(aws: StackResources, operation: Any) -> None:
    repository = build_repository("no-such-table")

    with pytest.raises(StoreUnavailableError, match="ResourceNotFoundException"):
        operation(repository)


@pytest.mark.parametrize(
    "operation",
    [
        lambda repo: repo.delete_queued_job(job_id=str(uuid4())),
        lambda repo: repo.cancel_queued_job(job_id=str(uuid4()), tenant="default", now=NOW),
    ],
    ids=["delete", "cancel"],
)
def test_unreachable_dynamodb_raises_store_unavailable(aws_env: None, operation: Any) -> None:
    client = boto3.client(
        "dynamodb",
        region_name="us-east-1",
        endpoint_url="http://127.0.0.1:9",  # nothing listens there
        config=Config(retries={"total_max_attempts": 1}),
    )
    repository = JobsRepository(client=client, table_name="jobs", ttl_seconds=TTL_SECONDS)

    with pytest.raises(StoreUnavailableError, match="EndpointConnectionError"):
        operation(repository)


def test_put_queued_job_stores_the_callback_with_a_pending_state(aws: StackResources) -> None:
    job_id = str(uuid4())

    build_repository(aws.table_name).put_queued_job(
        job=QueuedJob(job_id=job_id, task="t", callback_url="https://h.example/x"),
        request_id=None,
        now=NOW,
    )

    item = raw_item(aws.table_name, job_id)
    assert item is not None
    assert item["callback_url"] == {"S": "https://h.example/x"}
    assert item["callback"] == {"M": {"status": {"S": "pending"}, "attempts": {"N": "0"}}}


def test_put_queued_jobs_writes_the_same_records_as_put_queued_job(aws: StackResources) -> None:
    repository = build_repository(aws.table_name)
    single, many = str(uuid4()), str(uuid4())

    def job(job_id: str) -> QueuedJob:
        return QueuedJob(job_id, task="t", callback_url="u", priority="low", tenant="default")

    repository.put_queued_job(job=job(single), request_id="r", now=NOW)

    unwritten = repository.put_queued_jobs(jobs=[job(many)], request_id="r", now=NOW)

    assert unwritten == set()
    expected = raw_item(aws.table_name, single)
    assert expected is not None
    assert raw_item(aws.table_name, many) == {**expected, "job_id": {"S": many}}


def test_more_than_25_writes_at_once_are_refused(aws: StackResources) -> None:
    with pytest.raises(ValueError, match="at most 25"):
        build_repository(aws.table_name).delete_unqueued_jobs(
            job_ids=[str(uuid4()) for _ in range(26)]
        )


def test_cancel_moves_a_queued_job_and_returns_its_callback(aws: StackResources) -> None:
    repository = build_repository(aws.table_name)
    job_id = str(uuid4())
    repository.put_queued_job(
        job=QueuedJob(job_id=job_id, task="t", callback_url="u"), request_id=None, now=NOW
    )
    later = NOW + timedelta(seconds=5)

    cancelled = repository.cancel_queued_job(job_id=job_id, tenant="default", now=later)

    assert cancelled.callback_url == "u"
    assert cancelled.job.status == "cancelled"
    assert cancelled.job.updated_at == later
    assert cancelled.job.created_at == NOW


def test_cancel_refuses_an_expired_or_finished_job(aws: StackResources) -> None:
    repository = build_repository(aws.table_name)
    job_id = str(uuid4())
    put_raw_item(aws.table_name, **finished_job_attributes(job_id, status={"S": "succeeded"}))

    with pytest.raises(JobNotCancellableError) as refused:
        repository.cancel_queued_job(job_id=job_id, tenant="default", now=NOW)
    assert refused.value.status == "succeeded"
    with pytest.raises(JobNotFoundError):
        repository.cancel_queued_job(
            job_id=job_id, tenant="default", now=NOW + timedelta(seconds=TTL_SECONDS)
        )


def test_another_tenants_job_is_hidden_like_an_unknown_one(aws: StackResources) -> None:
    # GIVEN a queued job of tenant acme, and a record from before tenants had names
    repository = build_repository(aws.table_name)
    acme_job, unnamed_job = str(uuid4()), str(uuid4())
    repository.put_queued_job(
        job=QueuedJob(job_id=acme_job, task="t", tenant="acme"), request_id=None, now=NOW
    )
    put_raw_item(aws.table_name, **finished_job_attributes(unnamed_job, status={"S": "queued"}))

    # THEN only acme reads or cancels its job; the unnamed one belongs to tenant default
    assert repository.get_job(job_id=acme_job, tenant="beta", now=NOW) is None
    assert repository.get_job(job_id=acme_job, tenant="default", now=NOW) is None
    with pytest.raises(JobNotFoundError):
        repository.cancel_queued_job(job_id=acme_job, tenant="beta", now=NOW)
    assert raw_item(aws.table_name, acme_job)["status"] == {"S": "queued"}  # untouched
    assert repository.get_job(job_id=unnamed_job, tenant="acme", now=NOW) is None
    assert repository.get_job(job_id=unnamed_job, tenant="default", now=NOW) is not None
    with pytest.raises(JobNotFoundError):
        repository.cancel_queued_job(job_id=unnamed_job, tenant="acme", now=NOW)
    assert repository.cancel_queued_job(job_id=unnamed_job, tenant="default", now=NOW)
    assert repository.cancel_queued_job(job_id=acme_job, tenant="acme", now=NOW)
