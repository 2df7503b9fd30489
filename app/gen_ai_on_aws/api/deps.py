"""Dependencies as `Annotated` aliases; tests replace any of them via `app.dependency_overrides`.

Every dependency is `async def` and never blocks: FastAPI runs a sync dependency in its thread
pool, a hop per dependency per request. Blocking AWS calls happen in the route
(`api.blocking`). Settings and clients are the process's own (loaded once): dependencies read
them directly rather than through sub-dependencies, because FastAPI solves a sub-dependency
again at every place it is declared, cached or not.
"""

from typing import Annotated

from fastapi import Depends, HTTPException, Request

from gen_ai_contracts.queue import PRIORITIES
from gen_ai_on_aws.config import Settings, get_settings
from gen_ai_on_aws.services.aws import (
    DynamoDBClient,
    SQSClient,
    create_dynamodb_client,
    create_sqs_client,
)
from gen_ai_on_aws.services.jobs_repository import JobsRepository
from gen_ai_on_aws.services.queue_service import JobQueues, QueueService


async def current_settings() -> Settings:
    """The process's settings (loaded once: `get_settings`)."""
    return get_settings()


SettingsDep = Annotated[Settings, Depends(current_settings)]


async def get_sqs_client() -> SQSClient:
    return create_sqs_client(get_settings().aws_region)


async def get_dynamodb_client() -> DynamoDBClient:
    return create_dynamodb_client(get_settings().aws_region)


SQSDep = Annotated[SQSClient, Depends(get_sqs_client)]
DynamoDBDep = Annotated[DynamoDBClient, Depends(get_dynamodb_client)]


def lane_queues(settings: Settings, client: SQSClient) -> JobQueues:
    """The queue of each lane: QUEUE_URL_HIGH / QUEUE_URL_LOW, else QUEUE_URL."""
    lane_urls = {priority: settings.queue_url_for(priority) for priority in PRIORITIES}
    return JobQueues(client=client, lane_urls=lane_urls)


async def get_callback_queue(client: SQSDep) -> QueueService | None:
    """The callbacks queue, or None when CALLBACKS_QUEUE_URL is not set (no webhooks)."""
    queue_url = get_settings().callbacks_queue_url
    return None if queue_url is None else QueueService(client=client, queue_url=queue_url)


async def get_jobs_repository(client: DynamoDBDep) -> JobsRepository:
    settings = get_settings()
    return JobsRepository(
        client=client, table_name=settings.jobs_table_name, ttl_seconds=settings.job_ttl_seconds
    )


async def require_json_body(request: Request) -> None:
    """415 unless the body is declared as JSON, instead of a confusing validation error."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json" and not media_type.endswith("+json"):
        raise HTTPException(status_code=415)  # body and code: api/errors.py


CallbackQueueDep = Annotated[QueueService | None, Depends(get_callback_queue)]
JobsDep = Annotated[JobsRepository, Depends(get_jobs_repository)]
