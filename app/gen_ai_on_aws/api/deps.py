"""Dependencies as `Annotated` aliases; tests replace any of them via `app.dependency_overrides`."""

from typing import Annotated

from fastapi import Depends, HTTPException, Request

from gen_ai_contracts.queue import PRIORITIES
from gen_ai_on_aws.api.errors import request_id_of
from gen_ai_on_aws.config import Settings, get_settings
from gen_ai_on_aws.services.aws import (
    DynamoDBClient,
    SQSClient,
    create_dynamodb_client,
    create_sqs_client,
)
from gen_ai_on_aws.services.jobs_repository import JobsRepository
from gen_ai_on_aws.services.queue_service import JobQueues, QueueService

SettingsDep = Annotated[Settings, Depends(get_settings)]


def get_sqs_client(settings: SettingsDep) -> SQSClient:
    return create_sqs_client(settings.aws_region)


def get_dynamodb_client(settings: SettingsDep) -> DynamoDBClient:
    return create_dynamodb_client(settings.aws_region)


def get_job_queues(
    settings: SettingsDep, client: Annotated[SQSClient, Depends(get_sqs_client)]
) -> JobQueues:
    """The queue of each lane: QUEUE_URL_HIGH / QUEUE_URL_LOW, else QUEUE_URL."""
    lane_urls = {priority: settings.queue_url_for(priority) for priority in PRIORITIES}
    return JobQueues(client=client, lane_urls=lane_urls)


def get_callback_queue(
    settings: SettingsDep, client: Annotated[SQSClient, Depends(get_sqs_client)]
) -> QueueService | None:
    """The callbacks queue, or None when CALLBACKS_QUEUE_URL is not set (no webhooks)."""
    if settings.callbacks_queue_url is None:
        return None
    return QueueService(client=client, queue_url=settings.callbacks_queue_url)


def get_jobs_repository(
    settings: SettingsDep, client: Annotated[DynamoDBClient, Depends(get_dynamodb_client)]
) -> JobsRepository:
    return JobsRepository(
        client=client, table_name=settings.jobs_table_name, ttl_seconds=settings.job_ttl_seconds
    )


def get_request_id(request: Request) -> str | None:
    return request_id_of(request)


def require_json_body(request: Request) -> None:
    """415 unless the body is declared as JSON, instead of a confusing validation error."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json" and not media_type.endswith("+json"):
        raise HTTPException(status_code=415)  # body and code: api/errors.py


JobQueuesDep = Annotated[JobQueues, Depends(get_job_queues)]
CallbackQueueDep = Annotated[QueueService | None, Depends(get_callback_queue)]
DynamoDBDep = Annotated[DynamoDBClient, Depends(get_dynamodb_client)]
JobsDep = Annotated[JobsRepository, Depends(get_jobs_repository)]
RequestIdDep = Annotated[str | None, Depends(get_request_id)]
