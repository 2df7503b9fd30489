"""submit_job: record first, then enqueue; a failed enqueue leaves no orphan job."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from devstack.resources import StackResources
from gen_ai_contracts.queue import Priority
from gen_ai_on_aws.services.aws import create_dynamodb_client, create_sqs_client
from gen_ai_on_aws.services.errors import QueueUnavailableError, StoreUnavailableError
from gen_ai_on_aws.services.job_submission import NewJob, submit_job
from gen_ai_on_aws.services.jobs_repository import JobsRepository
from gen_ai_on_aws.services.queue_service import JobQueues

NOW = datetime(2026, 11, 23, 14, 45, tzinfo=UTC)


def build_jobs(table_name: str) -> JobsRepository:
    return JobsRepository(
        client=create_dynamodb_client("us-east-1"), table_name=table_name, ttl_seconds=60
    )


def build_queues(stack: StackResources, queue_url: str | None = None) -> JobQueues:
    """The three lanes of `stack`, or every lane on `queue_url`."""
    client = create_sqs_client("us-east-1")
    if queue_url is not None:
        return JobQueues.single(client=client, queue_url=queue_url)
    lane_urls: dict[Priority, str] = {
        "high": stack.queue_url_high,
        "normal": stack.queue_url,
        "low": stack.queue_url_low,
    }
    return JobQueues(client=client, lane_urls=lane_urls)


def table_items(table_name: str) -> list[dict[str, Any]]:
    return boto3.client("dynamodb", region_name="us-east-1").scan(TableName=table_name)["Items"]


def received(queue_url: str) -> list[dict[str, Any]]:
    """Visible messages with their system attributes (MessageGroupId among them)."""
    sqs = boto3.client("sqs", region_name="us-east-1")
    response = sqs.receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=10, MessageSystemAttributeNames=["All"]
    )
    return [dict(message) for message in response.get("Messages", [])]


def queued_bodies(queue_url: str) -> list[dict[str, Any]]:
    return [json.loads(message["Body"]) for message in received(queue_url)]


def submit(
    jobs: JobsRepository,
    queues: JobQueues,
    model: str | None = None,
    priority: Priority = "normal",
    tenant: str = "default",
) -> str:
    return submit_job(
        jobs=jobs,
        queues=queues,
        job=NewJob(
            task="extract_user",
            payload={"text": "Jason is 25 years old"},
            model=model,
            priority=priority,
        ),
        tenant=tenant,
        request_id="req-1",
        now=NOW,
    )


def test_submit_job_records_then_enqueues_the_same_job(aws: StackResources) -> None:
    job_id = submit(build_jobs(aws.table_name), build_queues(aws))

    [item] = table_items(aws.table_name)
    [body] = queued_bodies(aws.queue_url)
    assert item["job_id"] == {"S": job_id}
    assert item["status"] == {"S": "queued"}
    assert (item["priority"], item["tenant"]) == ({"S": "normal"}, {"S": "default"})
    assert body == {
        "version": 1,
        "job_id": job_id,
        "task": "extract_user",
        "payload": {"text": "Jason is 25 years old"},
        "submitted_at": "2026-11-23T14:45:00Z",
        "request_id": "req-1",
        "model": None,
        "priority": "normal",
        "tenant": "default",
        "dispatch": 0,
    }


@pytest.mark.parametrize("priority", ["high", "normal", "low"])
def test_the_message_goes_to_its_lane_with_the_tenant_as_message_group(
    aws: StackResources, priority: Priority
) -> None:
    lanes = {"high": aws.queue_url_high, "normal": aws.queue_url, "low": aws.queue_url_low}

    job_id = submit(
        build_jobs(aws.table_name), build_queues(aws), priority=priority, tenant="key-00ff"
    )

    [message] = received(lanes.pop(priority))
    assert json.loads(message["Body"])["priority"] == priority
    assert json.loads(message["Body"])["job_id"] == job_id
    assert message["Attributes"]["MessageGroupId"] == "key-00ff"
    assert [received(url) for url in lanes.values()] == [[], []]
    [item] = table_items(aws.table_name)
    assert (item["priority"], item["tenant"]) == ({"S": priority}, {"S": "key-00ff"})


def test_submit_job_sends_the_chosen_model_and_logs_it(
    aws: StackResources, captured_logs: Any
) -> None:
    job_id = submit(
        build_jobs(aws.table_name), build_queues(aws), model="openai/m-1", priority="low"
    )

    [body] = queued_bodies(aws.queue_url_low)
    [line] = captured_logs.with_message("job queued")
    assert body["model"] == "openai/m-1"
    assert (line["job_id"], line["model"]) == (job_id, "openai/m-1")
    assert (line["priority"], line["tenant"]) == ("low", "default")
    # The chosen model answers later: the record shows none until the worker writes one.
    [item] = table_items(aws.table_name)
    assert "model" not in item


def test_failed_enqueue_deletes_the_job_and_reraises(aws: StackResources) -> None:
    with pytest.raises(QueueUnavailableError):
        submit(build_jobs(aws.table_name), build_queues(aws, aws.queue_url + "-missing"))

    assert table_items(aws.table_name) == []


def test_failed_record_sends_no_message(aws: StackResources) -> None:
    with pytest.raises(StoreUnavailableError):
        submit(build_jobs("no-such-table"), build_queues(aws))

    assert queued_bodies(aws.queue_url) == []


class TableGoneAfterPut(JobsRepository):
    """A store that accepts the write, then fails the clean-up (the table went away)."""

    def delete_queued_job(self, *, job_id: str) -> None:
        raise StoreUnavailableError("DeleteItem failed: ResourceNotFoundException")


def test_failed_cleanup_still_reports_the_queue_error_and_logs_the_job(
    aws: StackResources, captured_logs: Any
) -> None:
    jobs = TableGoneAfterPut(
        client=create_dynamodb_client("us-east-1"), table_name=aws.table_name, ttl_seconds=60
    )

    with pytest.raises(QueueUnavailableError):
        submit(jobs, build_queues(aws, aws.queue_url + "-missing"))

    [item] = table_items(aws.table_name)
    [line] = captured_logs.with_message("could not remove the unqueued job")
    assert line["job_id"] == item["job_id"]["S"]
    assert line["level"] == "ERROR"
