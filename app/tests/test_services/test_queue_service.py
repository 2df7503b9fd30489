"""QueueService: what lands on the queue, and how SQS failures surface."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import boto3
import pytest
from botocore.config import Config

from devstack.resources import StackResources
from gen_ai_contracts.queue import PRIORITIES, QueueMessage
from gen_ai_contracts.tasks.extract_user import MAX_TEXT_CHARS
from gen_ai_on_aws.api.deps import get_dynamodb_client, get_sqs_client, lane_queues
from gen_ai_on_aws.config import Settings
from gen_ai_on_aws.services.aws import create_sqs_client
from gen_ai_on_aws.services.errors import QueueUnavailableError
from gen_ai_on_aws.services.queue_service import (
    MAX_BATCH_BYTES,
    MAX_MESSAGES_PER_BATCH,
    JobQueues,
    QueueService,
    message_groups,
)


def build_message(text: str = "Jason is 25 years old") -> QueueMessage:
    return QueueMessage(
        job_id=str(uuid4()),
        task="extract_user",
        payload={"text": text},
        submitted_at=datetime.now(UTC),
        request_id="req-1",
    )


def receive_bodies(queue_url: str) -> list[str]:
    sqs = boto3.client("sqs", region_name="us-east-1")
    response = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)
    return [message["Body"] for message in response.get("Messages", [])]


def test_send_message_puts_the_envelope_json_on_the_queue(aws: StackResources) -> None:
    service = QueueService(client=create_sqs_client("us-east-1"), queue_url=aws.queue_url)
    message = build_message()

    message_id = service.send_message(message=message)

    assert message_id
    [body] = receive_bodies(aws.queue_url)
    assert body == message.model_dump_json()
    assert QueueMessage.model_validate_json(body) == message


def test_send_message_keeps_non_ascii_text_unescaped(aws: StackResources) -> None:
    service = QueueService(client=create_sqs_client("us-east-1"), queue_url=aws.queue_url)

    service.send_message(message=build_message("Zoë a 25 ans"))

    [body] = receive_bodies(aws.queue_url)
    assert json.loads(body)["payload"]["text"] == "Zoë a 25 ans"
    assert "Zoë" in body


def test_sqs_accepts_the_worst_case_message(aws: StackResources) -> None:
    # Control characters are the worst case: each becomes a 6-byte \u00XX escape.
    service = QueueService(client=create_sqs_client("us-east-1"), queue_url=aws.queue_url)

    service.send_message(message=build_message("\x01" * MAX_TEXT_CHARS))

    [body] = receive_bodies(aws.queue_url)
    assert len(json.loads(body)["payload"]["text"]) == MAX_TEXT_CHARS


def test_missing_queue_raises_queue_unavailable(aws: StackResources) -> None:
    missing_url = aws.queue_url + "-missing"
    service = QueueService(client=create_sqs_client("us-east-1"), queue_url=missing_url)

    with pytest.raises(QueueUnavailableError, match=r"QueueDoesNotExist|NonExistentQueue"):
        service.send_message(message=build_message())


def test_clients_have_timeouts_and_bounded_retries(aws: StackResources) -> None:
    config: Any = create_sqs_client("us-east-1").meta.config  # botocore's Config is untyped

    assert (config.connect_timeout, config.read_timeout) == (2, 5)
    assert config.retries == {"mode": "standard", "total_max_attempts": 3}


def test_dependencies_reuse_one_client_per_region(
    aws: StackResources, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QUEUE_URL", aws.queue_url)
    monkeypatch.setenv("JOBS_TABLE_NAME", aws.table_name)

    assert asyncio.run(get_sqs_client()) is asyncio.run(get_sqs_client())
    assert asyncio.run(get_dynamodb_client()) is asyncio.run(get_dynamodb_client())
    assert create_sqs_client("us-east-1") is not create_sqs_client("eu-west-1")


def test_unreachable_sqs_raises_queue_unavailable(aws_env: None) -> None:
    client = boto3.client(
        "sqs",
        region_name="us-east-1",
        endpoint_url="http://127.0.0.1:9",  # nothing listens there
        config=Config(retries={"total_max_attempts": 1}),
    )
    service = QueueService(client=client, queue_url="http://127.0.0.1:9/123456789012/jobs")

    with pytest.raises(QueueUnavailableError, match="EndpointConnectionError"):
        service.send_message(message=build_message())


def test_send_message_batch_sends_each_envelope(aws: StackResources) -> None:
    service = QueueService(client=create_sqs_client("us-east-1"), queue_url=aws.queue_url)
    messages = [build_message(f"Person {i} is 30") for i in range(3)]

    refused = service.send_message_batch(messages=messages)

    assert refused == {}
    bodies = [json.loads(body) for body in receive_bodies(aws.queue_url)]
    assert sorted(body["job_id"] for body in bodies) == sorted(m.job_id for m in messages)


def test_unreachable_sqs_raises_queue_unavailable_on_a_batch(aws_env: None) -> None:
    client = boto3.client(
        "sqs",
        region_name="us-east-1",
        endpoint_url="http://127.0.0.1:9",
        config=Config(retries={"total_max_attempts": 1}),
    )
    service = QueueService(client=client, queue_url="http://127.0.0.1:9/123456789012/jobs")

    with pytest.raises(QueueUnavailableError, match="EndpointConnectionError"):
        service.send_message_batch(messages=[build_message()])


def test_message_groups_keep_order_and_both_limits() -> None:
    small = [build_message() for _ in range(23)]
    # Control characters: the worst case, about 120 KB each as JSON.
    large = [build_message("\x01" * MAX_TEXT_CHARS) for _ in range(5)]

    groups = message_groups([*small, *large])

    assert [m for group in groups for m in group] == [*small, *large]
    # 3 small + 2 large fit 256 KiB; 3 large do not.
    assert [len(group) for group in groups] == [10, 10, 5, 2, 1]
    for group in groups:
        assert len(group) <= MAX_MESSAGES_PER_BATCH
        assert sum(len(m.model_dump_json().encode()) for m in group) <= MAX_BATCH_BYTES


def test_the_largest_group_is_accepted_by_sqs(aws: StackResources) -> None:
    service = QueueService(client=create_sqs_client("us-east-1"), queue_url=aws.queue_url)
    [group, *_] = message_groups([build_message("\x01" * MAX_TEXT_CHARS) for _ in range(2)])

    assert service.send_message_batch(messages=group) == {}


def receive_group_ids(queue_url: str) -> dict[str, str | None]:
    """job_id -> the MessageGroupId SQS returns for each visible message."""
    sqs = boto3.client("sqs", region_name="us-east-1")
    messages = sqs.receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=10, MessageSystemAttributeNames=["All"]
    ).get("Messages", [])
    return {
        json.loads(message["Body"])["job_id"]: message["Attributes"].get("MessageGroupId")
        for message in messages
    }


def test_send_message_sets_the_message_group(aws: StackResources) -> None:
    service = QueueService(client=create_sqs_client("us-east-1"), queue_url=aws.queue_url)
    message = build_message()

    service.send_message(message=message, group_id="key-0123456789abcdef")

    assert receive_group_ids(aws.queue_url) == {message.job_id: "key-0123456789abcdef"}


def test_a_batch_sets_each_entrys_tenant_as_its_message_group(aws: StackResources) -> None:
    service = QueueService(client=create_sqs_client("us-east-1"), queue_url=aws.queue_url)
    tenants = ["default", "key-aaaa", None]
    messages = [build_message().model_copy(update={"tenant": tenant}) for tenant in tenants]

    assert service.send_message_batch(messages=messages) == {}

    assert receive_group_ids(aws.queue_url) == {
        message.job_id: message.tenant for message in messages
    }


def test_job_queues_map_each_lane_to_its_queue(aws: StackResources) -> None:
    settings = Settings(
        queue_url=aws.queue_url,
        queue_url_high=aws.queue_url_high,
        queue_url_low=aws.queue_url_low,
        jobs_table_name=aws.table_name,
    )
    queues = lane_queues(settings, create_sqs_client("us-east-1"))
    sent = {priority: build_message() for priority in PRIORITIES}

    for priority, message in sent.items():
        queues.lane(priority).send_message(message=message)

    assert [json.loads(body)["job_id"] for body in receive_bodies(aws.queue_url_high)] == [
        sent["high"].job_id
    ]
    assert [json.loads(body)["job_id"] for body in receive_bodies(aws.queue_url)] == [
        sent["normal"].job_id
    ]
    assert [json.loads(body)["job_id"] for body in receive_bodies(aws.queue_url_low)] == [
        sent["low"].job_id
    ]


def test_without_lane_urls_every_lane_is_the_normal_queue(aws: StackResources) -> None:
    settings = Settings(queue_url=aws.queue_url, jobs_table_name=aws.table_name)
    queues = lane_queues(settings, create_sqs_client("us-east-1"))

    for priority in PRIORITIES:
        queues.lane(priority).send_message(message=build_message())

    assert len(receive_bodies(aws.queue_url)) == 3
    assert receive_bodies(aws.queue_url_high) == receive_bodies(aws.queue_url_low) == []


def test_job_queues_refuse_a_lane_without_a_queue() -> None:
    client = create_sqs_client("us-east-1")

    with pytest.raises(ValueError, match="low"):
        JobQueues(client=client, lane_urls={"high": "h", "normal": "n", "low": ""})
